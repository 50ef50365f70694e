"""The part of the store contract about pruning that is interrupted or done twice at once: a
prune killed part-way is finished by the next, concurrent prunes delete each job once, and
queries racing a prune see a job whole or not at all."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar
from uuid import UUID

from ..application.tracker import Tracker
from ..domain.errors import JobNotFound
from ..domain.events import StatusReported
from ..domain.status import Status
from .clock import FrozenClock
from .lifecycle import StoreUnderTest

_T = TypeVar("_T")


def finished_jobs(tracker: Tracker, count: int, components: int = 2) -> list[UUID]:
    """Create `count` jobs and finish them (one in three failed, one in five cancelled)."""
    jobs = []
    for number in range(count):
        job = tracker.create_job([f"c{n}" for n in range(components)], name=f"job {number}")
        if number % 5 == 4:
            tracker.cancel(job, "enough")
        else:
            for n in range(components):
                tracker.report(job, f"c{n}", Status.FAILED if number % 3 == 2 else "completed")
        jobs.append(job)
    return jobs


def assert_pruned(tracker: Tracker, jobs: list[UUID]) -> None:
    """Nothing is left of `jobs`: no view rows, no events in the feed, no drift."""
    assert tracker.jobs(limit=1000).items == ()
    gone = set(jobs)
    left = [
        event
        for _, event in tracker.ledger.feed(after=0, limit=1_000_000)
        if (event.job_id if isinstance(event, StatusReported) else event.originator_id) in gone
    ]
    assert left == []
    assert tracker.rebuild_view().drift == ()


class PruneContract(StoreUnderTest):
    """Prunes that are killed part-way, run at the same time, or race queries."""

    def test_prune_finishes_a_prune_that_stopped_after_deleting_events(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        jobs = finished_jobs(tracker, 3)
        half_done = jobs[1]
        assert tracker.summary(half_done).is_finished
        tracker.ledger.delete_streams(tracker.ledger.job(half_done).stream_ids)
        assert tracker.summary(half_done).is_finished, "the view still shows the job"
        assert tracker.prune(finished_before=clock.advance(1)) == 3
        assert_pruned(tracker, jobs)
        assert tracker.prune(finished_before=clock.advance(1)) == 0

    def test_rebuild_view_removes_rows_whose_events_are_gone(self, tracker: Tracker) -> None:
        kept, ghost = finished_jobs(tracker, 2)
        assert tracker.summary(ghost).is_finished
        tracker.ledger.delete_streams(tracker.ledger.job(ghost).stream_ids)
        check = tracker.rebuild_view()
        assert [(d.job_id, d.component, d.expected) for d in check.drift] == [(ghost, None, None)]
        assert check.drift[0].found is not None
        assert [j.job_id for j in tracker.jobs().items] == [kept]
        try:
            tracker.status(ghost)
        except JobNotFound:
            pass
        else:
            raise AssertionError("the ghost's row survived rebuild_view()")
        assert tracker.rebuild_view().drift == ()

    def test_concurrent_prunes_delete_each_job_once(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        jobs = finished_jobs(tracker, 24)
        cutoff = clock.advance(1)
        pruners = [Tracker(tracker.ledger, clock=clock) for _ in range(4)]
        counts = self._together([partial(p.prune, finished_before=cutoff) for p in pruners])
        assert sum(counts) == len(jobs), counts
        assert_pruned(tracker, jobs)

    def test_queries_racing_a_prune_see_a_job_or_not_found(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        jobs = finished_jobs(tracker, 16)
        cutoff = clock.advance(1)
        reader = Tracker(tracker.ledger, clock=clock)
        for job in jobs:
            reader.history(job)  # Cache the jobs, as a long-lived reader would have.
        pruning = threading.Event()

        def read() -> int:
            while not pruning.is_set():
                for job in jobs:
                    for query in (reader.status, reader.history, reader.summary):
                        with contextlib.suppress(JobNotFound):
                            query(job)
                reader.jobs()
            return 0

        def prune() -> int:
            try:
                return Tracker(tracker.ledger, clock=clock).prune(finished_before=cutoff)
            finally:
                pruning.set()

        pruned, _ = self._together([prune, read])
        assert pruned == len(jobs)
        assert_pruned(tracker, jobs)

    @staticmethod
    def _together(calls: list[Callable[[], _T]]) -> list[_T]:
        """Run the calls in threads at once; return their results, or raise the first error."""
        results: dict[int, _T] = {}
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(calls))

        def run(index: int) -> None:
            barrier.wait()
            try:
                results[index] = calls[index]()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [results[i] for i in range(len(calls))]
