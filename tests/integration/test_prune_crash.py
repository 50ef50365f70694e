"""`jobledger prune` SIGKILLed at random moments on the file and PostgreSQL stores: the next
prune finishes the work, and prunes running at once (with readers beside them) all succeed
and delete each job once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from jobledger import Tracker
from jobledger.testing.pruning import assert_pruned, finished_jobs

WORKER = Path(__file__).with_name("prune_worker.py")
SCRIPT = Path(sys.executable).with_name("jobledger")
KILLS = 24
MIDWAY = KILLS // 4
"""Kills at least, and of them kills that landed while deleting: the loop goes on (within a
bounded time) until both are reached, as a loaded machine shifts when deleting starts."""
BATCH = 100
"""Finished jobs created at a time, whenever fewer than a third are left to prune."""


@pytest.fixture(params=["file", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'store'}"
    return str(request.getfixturevalue("postgres_database"))


def more_jobs(url: str, jobs: list[UUID]) -> None:
    with Tracker.open(url) as tracker:
        jobs.extend(finished_jobs(tracker, BATCH))
        tracker.jobs()  # Catching the view up records the finishes.


def prune(url: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen([sys.executable, str(WORKER), url], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    assert worker.stdout.readline() == "ready\n"
    return worker


@pytest.mark.slow
def test_a_killed_prune_is_finished_by_the_next(url: str) -> None:
    rng = random.Random(20261212)
    jobs: list[UUID] = []
    more_jobs(url, jobs)
    more_jobs(url, jobs)
    kills, midway, left = 0, 0, len(jobs)
    start = 0.0  # When deleting starts, roughly: learnt from kills that came too early.
    deadline = time.monotonic() + 180
    while (kills < KILLS or midway < MIDWAY) and time.monotonic() < deadline:
        if left < BATCH // 3:
            more_jobs(url, jobs)
            left += BATCH
        worker = prune(url)
        time.sleep(rng.uniform(start, start + 0.1))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            kills += 1
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode in (0, -signal.SIGKILL), out
        with Tracker.open(url) as tracker:
            before, left = left, len(tracker.jobs(limit=1000).items)
        midway += worker.returncode < 0 and 0 < left < before
        if worker.returncode < 0 and left == before:
            start += 0.02
        elif worker.returncode == 0 and start:
            start = max(0.0, start - 0.02)
    print(f"{kills} kills, {midway} while deleting, {len(jobs)} jobs, start {start:.2f}")
    assert kills >= KILLS, f"only {kills} kills within 3 minutes"
    assert midway >= MIDWAY, f"only {midway} kills while deleting within 3 minutes"
    worker = prune(url)
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out
    with Tracker.open(url) as tracker:
        assert_pruned(tracker, jobs)


def test_prunes_at_once_beside_readers_all_succeed(url: str) -> None:
    jobs: list[UUID] = []
    more_jobs(url, jobs)
    job = str(jobs[0])
    readers = [["list"], ["status", job], ["history", job]]
    processes = [prune(url) for _ in range(4)]
    processes += [
        subprocess.Popen(
            [str(SCRIPT), "--store", url, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for args in readers
    ]
    results = [p.communicate(timeout=120) for p in processes]
    counts = [json.loads(out)["pruned"] for out, _ in results[:4]]
    assert sum(counts) == len(jobs), counts
    for process, (_, err) in zip(processes[4:], results[4:], strict=True):
        assert process.returncode == 0 or f"no job with id {job}" in str(err), err
    with Tracker.open(url) as tracker:
        assert_pruned(tracker, jobs)
