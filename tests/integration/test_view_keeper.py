"""The view keeper across processes: readers never queue behind another process's updater,
wait() sees jobs other processes finish, a keeper never keeps a process alive, and store
failures are logged once, never raised, and outlived."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from jobledger import Status, Tracker
from jobledger.testing.freshness import HANG_GUARD, eventually, keepers, run_apart


@pytest.fixture(params=["postgres", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store, opened below by several Trackers as separate processes would."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    return f"file://{tmp_path}"


def test_a_reader_does_not_queue_behind_another_processes_updater(url: str) -> None:
    with Tracker.open(url) as writer, Tracker.open(url) as reader, Tracker.open(url) as other:
        job = writer.create_job(["a", "b"])
        assert reader.summary(job).counts[Status.PENDING] == 2
        with other.view.advancing() as mine:  # PostgreSQL: another session's advisory lock.
            assert mine
            writer.complete(job, "a")
            before = run_apart(lambda: reader.summary(job))
        assert before.counts[Status.PENDING] == 2
        eventually(lambda: reader.summary(job).counts[Status.COMPLETED] == 1)


COMPLETE = """
import sys
from jobledger import Tracker
with Tracker.open(sys.argv[1]) as tracker:
    for component in sys.argv[3:]:
        tracker.complete(sys.argv[2], component)
"""


def test_wait_returns_for_a_job_another_process_finishes(url: str) -> None:
    with Tracker.open(url) as tracker:
        job = tracker.create_job(["a", "b"])
        assert tracker.summary(job).overall is Status.PENDING
        command = [sys.executable, "-c", COMPLETE, url, str(job), "a", "b"]
        with subprocess.Popen(command) as worker:
            final = tracker.wait(job, timeout=HANG_GUARD)
            assert worker.wait(HANG_GUARD) == 0
        assert final.overall is Status.COMPLETED


QUERY_AND_LEAVE = """
import sys
from jobledger import Tracker
from jobledger.testing.freshness import keepers
tracker = Tracker.open(sys.argv[1])  # never closed
tracker.summary(sys.argv[2])
print(len(keepers()))
"""


def test_a_running_keeper_never_keeps_a_process_alive(url: str) -> None:
    with Tracker.open(url) as tracker:
        job = tracker.create_job(["a"])
    command = [sys.executable, "-c", QUERY_AND_LEAVE, url, str(job)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=HANG_GUARD)
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")


def test_the_keeper_logs_a_failure_once_and_carries_on(
    postgres_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jobledger")
    url = postgres_database
    with Tracker.open(url) as writer, Tracker.open(url) as reader:
        job = writer.create_job(["a"])
        before = keepers()
        reader.summary(job)
        [keeper] = keepers() - before
        with psycopg.connect(url, autocommit=True) as admin:
            table = "jobledger_view_position"
            admin.execute(f"ALTER TABLE {table} RENAME TO moved_away")
            try:
                position = writer.complete(job, "a").position
                eventually(lambda: any("keeper" in r.getMessage() for r in caplog.records))
                time.sleep(2)  # Some retries, backing off; none of them may log again.
            finally:
                admin.execute(f"ALTER TABLE moved_away RENAME TO {table}")
        assert position is not None
        eventually(lambda: reader.view.position() >= position)
        assert keeper.is_alive()
        warnings = [r for r in caplog.records if "keeper" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert warnings[0].levelno == logging.WARNING
        assert reader.summary(job).overall is Status.COMPLETED
