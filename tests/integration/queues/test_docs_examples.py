"""docs/queues.md's examples, run as written: each queue's module (`<!-- module: name -->`)
is saved as `name.py` and run by a real worker on a throwaway Redis, then the script after
it is run as `start_name.py`, which must print the job's id and `completed`.
(tests/integration/test_docs.py only executes the blocks, without a worker.)"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest
from conftest import BIN, start_worker

from jobledger import Status, Tracker

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
WORKERS = {  # the worker command each example names, for its module
    "celery": ["celery", "-A", "{module}", "worker", "--pool=prefork", "--concurrency=2"],
    "rq": ["rq", "worker", "-w", "jobledger.integrations.rq.TrackedWorker", "--url", "{redis}"],
    "dramatiq": ["dramatiq", "{module}", "--processes=1", "--threads=2"],
}


def examples() -> list[tuple[str, str, str]]:
    """(module name, module, script) of each example in docs/queues.md, in order."""
    spec = importlib.util.spec_from_file_location(
        "docs_blocks", ROOT / "tests/integration/test_docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    found = docs.modules_and_blocks(ROOT / "docs" / "queues.md", "python")
    return [(name, code, script) for (name, code), (_, script) in itertools.pairwise(found) if name]


@pytest.mark.parametrize("queue", list(WORKERS))
def test_the_example_runs_on_a_real_worker(
    queue: str, redis_socket: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shown = examples()
    assert len(shown) == len(WORKERS)
    module, code, script = shown[list(WORKERS).index(queue)]
    assert f"from {module} import" in script
    scratch = tmp_path_factory.mktemp(queue)
    (scratch / f"{module}.py").write_text(code)
    (scratch / f"start_{module}.py").write_text(script)
    store = f"file://{scratch / 'store'}"
    env = {"BROKER_URL": f"redis+socket://{redis_socket}", "REDIS_URL": f"unix://{redis_socket}"}
    first, *rest = (a.format(module=module, redis=env["REDIS_URL"]) for a in WORKERS[queue])
    worker = contextmanager(start_worker)(
        [str(BIN / first), *rest],
        store_url=store,
        redis_socket=redis_socket,
        scratch=scratch,
        ready=lambda _: True,  # the messages wait in Redis for it
        modules=scratch,
        env=env,
    )

    with worker as running:
        started = subprocess.run(
            [sys.executable, f"start_{module}.py"],
            cwd=scratch,
            env={**os.environ, **env, "JOBLEDGER_STORE": store, "PYTHONPATH": str(scratch)},
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        log = running.log.read_text()[-4000:]
        running.alive()

    assert started.returncode == 0, started.stderr + log
    job, outcome = started.stdout.split()
    assert outcome == "completed", started.stdout + log
    with Tracker.open(store) as tracker:
        status = tracker.status(UUID(job))
        assert status.counts[Status.COMPLETED] == 10
        histories = [tracker.history(job, name) for name in status.components]
    assert all(any(e.progress == 0.5 for e in history) for history in histories)  # progress()
    if queue == "celery":  # its example fails one first attempt
        assert Status.RETRYING in [e.status for e in histories[3]]
