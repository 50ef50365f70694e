"""One updater at a time, wake-ups across processes, and an updater killed mid-batch."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from jobledger import Status, Tracker
from jobledger.adapters.file import FileFactory
from jobledger.adapters.postgres import PostgresFactory
from jobledger.application.ports import StatusView
from jobledger.testing.finish_race import finish_records
from jobledger.testing.views import component_row, job_row


@pytest.fixture(params=["postgres", "postgres, one process, pool of one", "file"])
def views(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[StatusView, ...]]:
    """Two views of one store, as two processes have them (PostgreSQL: two sessions), or as
    two threads of one process with a pool of one connection have them."""
    if request.param.startswith("postgres"):
        url = request.getfixturevalue("postgres_database")
        if request.param == "postgres":
            factories = [PostgresFactory({PostgresFactory.POSTGRES_URL: url}) for _ in range(2)]
            yield tuple(f.status_view() for f in factories)
        else:
            url += f"{'&' if '?' in url else '?'}pool_size=1"
            factories = [PostgresFactory({PostgresFactory.POSTGRES_URL: url})]
            yield factories[0].status_view(), factories[0].status_view()
        for factory in factories:
            factory.close()
    else:
        factory = FileFactory({FileFactory.DIRECTORY: str(tmp_path)})
        yield factory.status_view(), factory.status_view()
        factory.close()


def test_one_updater_at_a_time_and_the_others_wait_for_it(views: tuple[StatusView, ...]) -> None:
    first, second = views
    waited = threading.Event()

    def wait() -> None:
        second.await_updater()
        waited.set()

    with first.advancing() as mine:
        assert mine
        with second.advancing() as theirs:
            assert not theirs
        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not waited.wait(0.3)
    waiter.join(timeout=30)
    assert waited.is_set()
    with second.advancing() as theirs:
        assert theirs


def test_a_delete_waits_for_the_run_under_way(views: tuple[StatusView, ...]) -> None:
    updater, pruner = views
    job = uuid4()
    updater.commit(0, 1, [job_row(job, 1)], [component_row(job, 0)])
    deleted: list[int] = []
    prune = threading.Thread(target=lambda: deleted.append(pruner.delete([job])))
    with updater.advancing() as mine:
        assert mine
        prune.start()
        prune.join(timeout=0.3)
        assert prune.is_alive()  # else this commit would bring the deleted rows back
        # ...and the run commits meanwhile (the prune waits holding no pooled connection).
        updater.commit(1, 2, [job_row(job, 1, Status.IN_PROGRESS)], [component_row(job, 0)])
        assert not deleted
    prune.join(timeout=30)
    assert deleted == [1]
    assert updater.load(job, ["c0"]) == (None, [])


@pytest.mark.parametrize("store", ["postgres", "file"])
def test_the_thread_holding_the_view_writes_through_any_view_of_the_store(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if store == "postgres":
        factory: PostgresFactory | FileFactory = request.getfixturevalue("postgres_factory")
    else:
        factory = FileFactory({FileFactory.DIRECTORY: str(tmp_path)})
        request.addfinalizer(factory.close)
    holding, other = factory.status_view(), factory.status_view()
    job = uuid4()

    def run() -> None:
        with holding.advancing() as mine:
            assert mine
            other.commit(0, 1, [job_row(job, 1)], [component_row(job, 0)])
            assert other.delete([job]) == 1

    thread = threading.Thread(target=run, daemon=True)  # a deadlock must not hang the suite
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the thread holding the view waited for itself"
    assert other.position() == 1


def test_a_batch_committed_elsewhere_wakes_the_watchers(postgres_database: str) -> None:
    factories = [PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database}) for _ in "ab"]
    try:
        watcher, committer = (f.status_view() for f in factories)
        woken = threading.Event()
        assert watcher.watch(woken.set)
        time.sleep(0.5)  # Let the listener connect, so that this is a real notification.
        woken.clear()
        committer.commit(0, 1, [], [])
        assert woken.wait(30)
    finally:
        for factory in factories:
            factory.close()


CATCH_UP = """
import sys
from jobledger import Tracker
with Tracker.open(sys.argv[1]) as tracker:
    print("open", flush=True)
    tracker.summary(sys.argv[2])
"""


def _finished_unseen(tracker: Tracker, jobs: list[UUID]) -> int:
    """Jobs with a finish record that the view has not committed: left by a killed updater."""
    unseen = 0
    for job in jobs:
        row, _ = tracker.view.load(job, ())
        if finish_records(tracker, job) and (row is None or row.tally.recorded is None):
            unseen += 1
    return unseen


@pytest.mark.slow
def test_an_updater_killed_mid_batch_leaves_one_finish_record_per_job(
    postgres_database: str,
) -> None:
    url, jobs, killed_mid_batch = postgres_database, [], 0
    with Tracker.open(url) as tracker:
        for delay in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 1.8):
            batch = [tracker.create_job([f"c{n}" for n in range(4)]) for _ in range(300)]
            for job in batch:
                for n in range(4):
                    tracker.complete(job, f"c{n}")
            jobs += batch
            command = [sys.executable, "-c", CATCH_UP, url, str(batch[-1])]
            with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as updater:
                assert updater.stdout is not None
                assert updater.stdout.readline() == "open\n"
                time.sleep(delay)
                updater.send_signal(signal.SIGKILL)
            killed_mid_batch += _finished_unseen(tracker, jobs) > 0
        assert killed_mid_batch, (
            "no kill landed between a finish record and the view batch showing it"
        )
        for job in jobs:
            assert tracker.summary(job).overall is Status.COMPLETED
            assert [r.outcome for r in finish_records(tracker, job)] == [Status.COMPLETED]
