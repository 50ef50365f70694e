"""The part of the store contract about how fresh a query's answer is: a query waits for
this Tracker's own writes, for everything recorded before its first query, and for any job
created before the call, but not for what other Trackers report later, which the view
keeper applies in the background."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from uuid import UUID, uuid4

import pytest

from ..application.ports import StatusView
from ..application.tracker import Tracker
from ..domain.errors import JobNotFound, StoreError
from ..domain.status import Status
from .clock import FrozenClock
from .finish_race import finish_records
from .lifecycle import StoreUnderTest

_T = TypeVar("_T")

HANG_GUARD = 60.0
"""Seconds after which a call that should return is taken to hang (never a timing check)."""


def keepers() -> set[threading.Thread]:
    """The view keeper threads running in this process."""
    return {t for t in threading.enumerate() if t.name == "jobledger-view-keeper"}


@contextmanager
def another_updater(view: StatusView, *, exclusive: bool = True) -> Iterator[None]:
    """Advance `view` for the block, as an updater in another process would, keeping every
    other updater (this process's view keepers included) out. A view that lets a second
    one in fails, unless it is not `exclusive` (then the test is skipped)."""
    with view.advancing() as mine:
        assert mine, "nothing else advances the view at this point"
        if run_apart(lambda: _advances(view)):
            if exclusive:
                pytest.fail("the view let a second updater in while one was advancing it")
            pytest.skip("this store's view lets several updaters advance it at once")
        yield


def _advances(view: StatusView) -> bool:
    with view.advancing() as mine:
        return mine


def run_apart(call: Callable[[], _T]) -> _T:
    """`call()` run in another thread: its result, or its error; fails if it hangs."""
    return start_apart(call)()


def start_apart(call: Callable[[], _T]) -> Callable[[], _T]:
    """Start `call()` in another thread; return a function that joins it and returns its
    result or raises its error, failing if it hangs."""
    results: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> _T:
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), f"still waiting after {HANG_GUARD:g} s"
        if errors:
            raise errors[0]
        return results[0]

    return join


def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds, failing if it does not within the hang guard."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"not so after {HANG_GUARD:g} s"
        time.sleep(0.01)


def _watched_job(tracker: Tracker, clock: FrozenClock) -> tuple[UUID, Tracker]:
    """A one-component job of `tracker`, and another Tracker on its ledger that has queried
    it (so its view keeper runs)."""
    job = tracker.create_job(["a"])
    reader = Tracker(tracker.ledger, clock=clock)
    reader.summary(job)
    return job, reader


class FreshnessContract(StoreUnderTest):
    """What a query waits for, and the view keeper that applies the rest."""

    exclusive_view = True
    """Whether the store's view keeps a second updater out while one advances it (every
    jobledger store's does; a view relying on `commit`'s position check alone does not)."""

    def test_a_query_does_not_wait_for_what_other_trackers_report(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job = tracker.create_job(["a", "b"])
        reader = Tracker(tracker.ledger, clock=clock)
        assert reader.summary(job).counts[Status.PENDING] == 2
        with another_updater(tracker.view, exclusive=self.exclusive_view):
            tracker.complete(job, "a")
            before = run_apart(lambda: reader.summary(job))
        assert before.counts[Status.PENDING] == 2, "applied while another updater held the view"
        eventually(lambda: reader.summary(job).counts[Status.COMPLETED] == 1)

    def test_the_first_query_sees_everything_recorded_before_it(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        known = tracker.create_job(["a"])
        Tracker(tracker.ledger, clock=clock).run_hooks(once=True)  # The view knows the job.
        done = tracker.complete(known, "a")
        later = tracker.create_job(["a"])
        assert done.position is not None
        assert tracker.view.position() < done.position, "nothing keeps this view up"
        reader = Tracker(tracker.ledger, clock=clock)
        assert reader.summary(known).overall is Status.COMPLETED
        assert {j.job_id for j in reader.jobs().items} == {known, later}

    def test_a_job_the_view_does_not_know_yet_is_found(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        reader = Tracker(tracker.ledger, clock=clock)
        assert reader.jobs().items == ()
        with another_updater(tracker.view, exclusive=self.exclusive_view):
            job = tracker.create_job(["a"])
            asked = start_apart(lambda: reader.summary(job))
            # Only gives a query that does not wait its chance to answer (wrongly) while no
            # updater can apply the job; a right one waits for the view, however long.
            time.sleep(0.2)
        assert asked().job_id == job

    def test_an_unknown_id_is_not_found_without_waiting_for_the_view(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job, reader = _watched_job(tracker, clock)
        with another_updater(tracker.view, exclusive=self.exclusive_view):
            tracker.complete(job, "a")  # A backlog no updater can apply now.
            with pytest.raises(JobNotFound):
                run_apart(lambda: reader.summary(uuid4()))

    def test_a_failing_view_makes_queries_fail_not_wait_forever(
        self, tracker: Tracker, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        job, reader = _watched_job(tracker, clock)
        broken = "the view cannot be written (test)"

        def fail(*args: object, **kwargs: object) -> None:
            raise StoreError(broken)

        monkeypatch.setattr(reader.view, "commit", fail)
        tracker.complete(job, "a")
        with pytest.raises(StoreError, match="test"):
            reader.wait(job, timeout=HANG_GUARD)

    def test_the_keeper_applies_what_other_trackers_report(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job, reader = _watched_job(tracker, clock)
        position = tracker.complete(job, "a").position  # `tracker` itself never queries.
        assert position is not None
        eventually(lambda: tracker.view.position() >= position)
        assert [r.outcome for r in finish_records(tracker, job)] == [Status.COMPLETED]
        assert reader.summary(job).overall is Status.COMPLETED

    def test_wait_returns_for_a_job_another_tracker_finishes(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job = tracker.create_job(["a", "b"])
        waiter = Tracker(tracker.ledger, clock=clock)
        worker = threading.Timer(0.05, lambda: [tracker.complete(job, c) for c in "ab"])
        worker.start()
        assert waiter.wait(job, timeout=HANG_GUARD).overall is Status.COMPLETED
        worker.join()

    def test_the_keeper_runs_from_the_first_query_until_close(self, clock: FrozenClock) -> None:
        before = keepers()
        with self.create_tracker(clock) as tracker:
            job = tracker.create_job(["a"])
            tracker.complete(job, "a")
            tracker.run_hooks(once=True)
            assert not keepers() - before, "a Tracker that only writes started a view keeper"
            tracker.summary(job)
            Tracker(tracker.ledger, clock=clock).summary(job)  # Another Tracker on the ledger.
            started = keepers() - before
            assert len(started) == 2
            assert all(keeper.daemon for keeper in started)
        assert not any(keeper.is_alive() for keeper in started), "a keeper outlived close()"
        with pytest.raises(StoreError, match="is closed"):
            tracker.summary(job)
        assert not keepers() - before, "a query after close() started a view keeper"
