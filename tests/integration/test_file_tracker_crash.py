"""Eight worker processes report through the file store while being SIGKILLed at random:
nothing acknowledged is lost or doubled, nothing torn is visible, no repair is needed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jobledger import Status, Tracker, fold
from jobledger.domain.events import component_stream_id

WORKER = Path(__file__).with_name("report_worker.py")
WORKERS = 8
PER_WORKER = 40
KILLS = 24


@pytest.mark.slow
def test_killed_workers_lose_and_double_nothing(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    names = [[f"w{w}-c{c}" for c in range(PER_WORKER)] for w in range(WORKERS)]
    with Tracker.open(url) as tracker:
        job = tracker.create_job([n for group in names for n in group], name="crash test")
    acks = [tmp_path / f"ack-{w}.log" for w in range(WORKERS)]

    def spawn(w: int) -> subprocess.Popen[bytes]:
        args = [sys.executable, str(WORKER), url, str(job), str(acks[w]), *names[w]]
        return subprocess.Popen(args)

    rng = random.Random(20261128)
    workers = [spawn(w) for w in range(WORKERS)]
    kills = 0
    deadline = time.monotonic() + 120
    while kills < KILLS and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.05, 0.4))
        w = rng.randrange(WORKERS)
        if workers[w].poll() is None:
            workers[w].send_signal(signal.SIGKILL)
            workers[w].wait()
            kills += 1
        workers[w] = spawn(w)
    for w, worker in enumerate(workers):
        if worker.wait(timeout=120) != 0:
            pytest.fail(f"worker {w} exited with {worker.returncode}")
    for w in range(WORKERS):  # a last clean run finishes what a kill interrupted
        assert spawn(w).wait(timeout=120) == 0
    assert kills >= 20, f"only {kills} kills happened; the workers finished too fast"

    with Tracker.open(url) as tracker:
        status = tracker.status(job)
        history = tracker.history(job)
        recorded = Counter((e.component, e.version, e.status.value) for e in history)
        for ack in acks:
            for line in ack.read_text().splitlines():
                assert recorded[tuple(json.loads(line))] == 1, line
        assert all(n == 1 for n in recorded.values())
        for component in status.components:
            versions = [e.version for e in tracker.history(job, component)]
            assert versions == list(range(1, len(versions) + 1))
        events = list(tracker.ledger.stream(job))
        for component in status.components:
            events.extend(tracker.ledger.stream(component_stream_id(job, component)))
        assert fold(None, events).status == status
        assert status.overall is Status.COMPLETED
