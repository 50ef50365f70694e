"""`jobledger demo --queue celery`: the image job on a real Celery worker and a throwaway
Redis, both gone afterwards, also when the demo is killed; one-line errors without the extra,
redis-server or a shared store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIN

from jobledger import Status, Tracker
from jobledger.integrations.celery_demo import BROKER_VARIABLE

SCRIPT = BIN / "jobledger"


def demo(
    store: str, *args: str, env: dict[str, str] | None = None, python: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `jobledger --store STORE demo --queue celery ARGS`; return its exit code, stdout
    and stderr (with `python`, that code is run first, in the same interpreter)."""
    argv = ["--store", store, "demo", "--queue", "celery", *args]
    if python:
        code = f"{python}\nimport sys\nfrom jobledger.entrypoints.cli import main\n"
        command = [sys.executable, "-c", code + f"sys.exit(main({argv!r}))"]
    else:
        command = [str(SCRIPT), *argv]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=environment, check=False
    )


@pytest.fixture
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's TMPDIR: short, as Redis's socket path is limited."""
    return tmp_path_factory.mktemp("t")


@pytest.mark.slow
def test_the_demo_runs_the_image_job_on_celery_workers_and_cleans_up(scratch: Path) -> None:
    store = f"file://{scratch / 'store'}"

    result = demo(store, "--workers", "2", env={"TMPDIR": str(scratch)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "on celery workers" in result.stdout
    assert "completed 111" in result.stdout
    assert "hook 'announce' ran" in result.stdout
    assert sorted(p.name for p in scratch.iterdir()) == ["store"]  # Redis and the log gone
    with Tracker.open(store) as tracker:
        (job,) = tracker.jobs().items
        assert tracker.status(job.job_id).overall == Status.COMPLETED
        retried = tracker.history(job.job_id, "download-03")  # retried by Celery itself
        assert [e.status for e in retried].count(Status.IN_PROGRESS) >= 2
        assert any(
            e.status == Status.RETRYING and e.message.startswith("TimeoutError") for e in retried
        )


def test_without_the_celery_extra_the_demo_names_it(tmp_path: Path) -> None:
    result = demo(f"file://{tmp_path}", python="import sys; sys.modules['celery'] = None")

    assert result.returncode == 4
    assert result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'jobledger[celery]'" in result.stderr


def test_without_redis_server_the_demo_names_it(tmp_path: Path) -> None:
    result = demo(f"file://{tmp_path}", env={"PATH": str(BIN)})

    assert result.returncode == 4
    assert result.stderr.count("\n") == 1, result.stderr
    assert "apt-get install redis-server" in result.stderr
    with Tracker.open(f"file://{tmp_path}") as tracker:
        assert not tracker.jobs().items  # no job left waiting for workers


def test_the_demo_on_a_queue_refuses_the_memory_store() -> None:
    result = demo("memory://")

    assert result.returncode == 4
    assert "needs a file: or postgresql:// store" in result.stderr


def test_importing_the_demo_module_builds_no_app_and_connects_no_signal_handler() -> None:
    code = (
        "from celery import signals\n"
        "import jobledger.integrations.celery_demo as demo\n"
        "assert 'app' not in vars(demo)\n"
        "assert not signals.task_prerun.receivers, signals.task_prerun.receivers\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def _processes_with(variable: str) -> list[int]:
    """The processes whose environment holds `variable` (a NAME=value pair)."""
    wanted = variable.encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # not a process, or one that ended meanwhile
            continue
        if entry.name.isdigit() and wanted in environment:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_killed_demo_leaves_no_worker_and_no_redis_behind(scratch: Path) -> None:
    store = f"file://{scratch / 'store'}"
    command = [str(SCRIPT), "--store", store, "demo", "--queue", "celery"]
    environment = {**os.environ, "TMPDIR": str(scratch)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment) as demo:
        try:
            assert demo.stdout is not None
            assert demo.stdout.readline().startswith("job ")  # printed once workers answer
            (redis,) = scratch.glob("jobledger-redis-*")
            broker = f"{BROKER_VARIABLE}=redis+socket://{redis / 'redis.sock'}"
            assert len(_processes_with(broker)) > 1, "the worker and its pool should run"
        finally:
            demo.kill()
    deadline = time.monotonic() + 60
    while (_processes_with(broker) or len(list(scratch.iterdir())) > 1) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    left = _processes_with(broker)
    for pid in left:  # so that a failure leaves nothing running either
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert sorted(p.name for p in scratch.iterdir()) == ["store"]
