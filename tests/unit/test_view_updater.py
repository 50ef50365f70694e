"""The view updater's runs: bounded, stoppable, cleaned up after a failed commit, and the
garbage collector given back however a run ends."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from jobledger import Status, StoreError
from jobledger.application.ledger import Ledger
from jobledger.application.local_view import LocalStatusView
from jobledger.application.ports import ComponentRow, JobRow
from jobledger.application.view_updater import ViewUpdater, _collector
from jobledger.domain.events import JobCreated, StatusReported, component_stream_id
from jobledger.testing.clock import FrozenClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class CountingView(LocalStatusView):
    """A local view that counts the runs it lets in and its commits, which take `delay`
    seconds; it fails its `fail_at`th commit."""

    def __init__(self, fail_at: int = 0, delay: float = 0.0) -> None:
        super().__init__()
        self.runs = self.commits = 0
        self.fail_at = fail_at
        self.delay = delay
        self.committed = threading.Event()

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        with super().advancing() as mine:
            self.runs += mine
            yield mine

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        time.sleep(self.delay)
        self.commits += 1
        if self.commits == self.fail_at:
            raise OperationalError("the disk is full")
        super().commit(since, until, jobs, components)
        self.committed.set()


@pytest.fixture
def ledger() -> Ledger:
    """A memory store holding three jobs of two components, each completed: 9 events."""
    ledger = Ledger({"PERSISTENCE_MODULE": "jobledger.adapters.memory"})
    for _ in range(3):
        job_id = uuid4()
        ledger.append(
            JobCreated(
                originator_id=job_id,
                originator_version=1,
                timestamp=T0,
                name="job",
                components=("a", "b"),
                metadata={},
                allowed_failures=0,
            )
        )
        ledger.append(*(_completed(job_id, name) for name in "ab"))
    return ledger


def _completed(job_id: UUID, name: str) -> StatusReported:
    return StatusReported(
        originator_id=component_stream_id(job_id, name),
        originator_version=1,
        timestamp=T0,
        job_id=job_id,
        component=name,
        status=Status.COMPLETED,
        message="",
        progress=None,
    )


def _rows(view: LocalStatusView) -> list[tuple[JobRow, list[ComponentRow]]]:
    jobs = view.jobs(status=None, before=1 << 62, limit=100)
    return [(job, view.components(job.tally.job_id, after=-1, limit=100)) for job in jobs]


def _caught_up(ledger: Ledger) -> LocalStatusView:
    view = LocalStatusView()
    ViewUpdater(ledger, view, FrozenClock(), record_finishes=False).catch_up()
    return view


def test_a_run_lets_go_of_the_view_once_its_time_is_up(ledger: Ledger) -> None:
    view = CountingView()
    updater = ViewUpdater(ledger, view, FrozenClock(), record_finishes=False, batch=2, run_for=0)
    assert updater.catch_up() == 9
    assert (view.runs, view.commits) == (5, 5)  # one batch per run: others got in between
    assert _rows(view) == _rows(_caught_up(ledger))


def test_a_stopped_updater_returns_after_the_batch_under_way(ledger: Ledger) -> None:
    view = CountingView()
    updater = ViewUpdater(ledger, view, FrozenClock(), record_finishes=False, batch=2)
    assert updater.catch_up(stop=lambda: view.commits >= 1) == 2  # the next was folded
    assert view.commits == 1
    assert updater.catch_up(stop=lambda: True) == 4


def test_a_prune_gets_in_between_runs_and_its_rows_stay_deleted(ledger: Ledger) -> None:
    view = CountingView(delay=0.02)
    updater = ViewUpdater(ledger, view, FrozenClock(), record_finishes=False, batch=1, run_for=0)
    catching_up = threading.Thread(target=updater.catch_up)
    catching_up.start()
    assert view.committed.wait(30)
    first = view.jobs(status=None, before=1 << 62, limit=1)[0].tally.job_id
    assert view.delete([first]) == 1
    assert view.commits < 9  # in before the catch-up's end: its later batches report on `first`
    catching_up.join(30)
    assert view.position() == 9
    assert view.load(first, ()) == (None, [])
    assert len(view.jobs(status=None, before=1 << 62, limit=10)) == 2


def test_a_failed_commit_waits_for_the_fold_in_flight_and_the_next_run_goes_on(
    ledger: Ledger,
) -> None:
    view = CountingView(fail_at=2)
    updater = ViewUpdater(ledger, view, FrozenClock(), record_finishes=False, batch=2)
    with pytest.raises(StoreError, match="the disk is full"):
        updater.catch_up()
    assert view.position() == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("jobledger-fold")]
    assert gc.isenabled()
    assert updater.catch_up() == 9
    assert _rows(view) == _rows(_caught_up(ledger))


class Conflicting(LocalStatusView):
    """A view whose position always moved: every commit conflicts (counted)."""

    commits = 0

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        self.commits += 1
        raise IntegrityError(f"status view is at {since + 1}, not {since}")


def test_an_updater_that_keeps_conflicting_backs_off_and_can_be_stopped(ledger: Ledger) -> None:
    view = Conflicting()
    until = time.monotonic() + 0.3
    updater = ViewUpdater(ledger, view, FrozenClock(), record_finishes=False)
    done = threading.Event()
    stop = lambda: time.monotonic() > until  # noqa: E731
    worker = threading.Thread(target=lambda: (updater.catch_up(stop=stop), done.set()))
    worker.start()
    worker.join(timeout=30)
    assert done.is_set()
    assert view.commits <= 10  # 2, 4, 8, ... ms apart: 7 fit in 0.3 s; thousands without


def test_the_collector_is_paused_until_the_last_thread_lets_go() -> None:
    assert gc.isenabled()
    entered, leave = threading.Event(), threading.Event()

    def pause() -> None:
        with _collector.paused():
            entered.set()
            leave.wait(30)

    other = threading.Thread(target=pause)
    other.start()
    entered.wait(30)
    with _collector.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread still holds it
    leave.set()
    other.join(30)
    assert gc.isenabled()


def test_a_child_forked_mid_run_gets_the_collector_back() -> None:
    with _collector.paused(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads (3.12+)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os._exit(0 if gc.isenabled() else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert gc.isenabled()
