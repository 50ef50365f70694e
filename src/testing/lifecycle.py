"""The part of the store contract about what happens around a job's end: the finish record,
hooks, the status view and its queries."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from ..application.hooks import FinishedJob
from ..application.ports import Clock, JobRow
from ..application.tracker import Tracker
from ..domain.errors import InvalidInput, StoreError
from ..domain.status import Status
from .clock import FrozenClock
from .finish_race import finish_records


class StoreUnderTest(ABC):
    """The factory hook and fixtures the contract suites share."""

    @abstractmethod
    def create_tracker(self, clock: Clock) -> Tracker:
        """Return a Tracker on a fresh, empty store of the kind under test."""

    @pytest.fixture
    def clock(self) -> FrozenClock:
        return FrozenClock()

    @pytest.fixture
    def tracker(self, clock: FrozenClock) -> Iterator[Tracker]:
        with self.create_tracker(clock) as tracker:
            yield tracker


class LifecycleContract(StoreUnderTest):
    """Finish records, hooks, the status view's queries, and closing."""

    # The finish record

    finish_race_rounds = 50
    """How often the finish race repeats; stores with a process-level race test may lower it."""

    def test_racing_last_reports_record_one_finish(self, tracker: Tracker, clock: Clock) -> None:
        names = [f"c{n}" for n in range(16)]
        trackers = [Tracker(tracker.ledger, clock=clock) for _ in names]
        barrier = threading.Barrier(len(names))

        def finish(other: Tracker, job: UUID, name: str) -> None:
            barrier.wait()
            other.complete(job, name)
            other.summary(job)

        for _ in range(self.finish_race_rounds):
            job = tracker.create_job(names)
            threads = [
                threading.Thread(target=finish, args=(other, job, name))
                for other, name in zip(trackers, names, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert tracker.summary(job).overall is Status.COMPLETED
            assert [r.outcome for r in finish_records(tracker, job)] == [Status.COMPLETED]

    def test_the_finish_record_decides_the_outcome_once(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job = tracker.create_job(["a", "b"])
        failed_at = clock.advance(1)
        tracker.fail(job, "a")
        assert tracker.summary(job).finished_at == failed_at
        clock.advance(1)
        tracker.complete(job, "b")
        summary = tracker.summary(job)
        assert (summary.overall, summary.finished_at) == (Status.FAILED, failed_at)
        assert [r.outcome for r in finish_records(tracker, job)] == [Status.FAILED]

    def test_cancelling_records_the_finish_at_once(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.cancel(job, "not needed")
        tracker.cancel(job)
        assert [r.outcome for r in finish_records(tracker, job)] == [Status.CANCELLED]
        assert tracker.wait(job, timeout=5).overall is Status.CANCELLED

    # Hooks

    def test_hooks_run_once_per_matching_outcome(self, tracker: Tracker) -> None:
        calls: list[tuple[str, FinishedJob]] = []
        tracker.on_completed(lambda f: calls.append(("completed", f)), name="on-completed")
        tracker.on_failed(lambda f: calls.append(("failed", f)), name="on-failed")
        tracker.on_finished(lambda f: calls.append(("finished", f)), name="on-finished")
        done, broken, dropped, running = (tracker.create_job(["a"]) for _ in range(4))
        tracker.complete(done, "a")
        tracker.fail(broken, "a")
        tracker.cancel(dropped)
        tracker.start(running, "a")
        assert tracker.run_hooks(once=True) == 5
        assert tracker.run_hooks(once=True) == 0
        assert sorted((kind, f.job_id, f.outcome) for kind, f in calls) == sorted(
            [
                ("completed", done, Status.COMPLETED),
                ("finished", done, Status.COMPLETED),
                ("failed", broken, Status.FAILED),
                ("finished", broken, Status.FAILED),
                ("finished", dropped, Status.CANCELLED),
            ]
        )
        assert {f.key for _, f in calls if f.job_id == done} == {
            f"{done}/on-completed",
            f"{done}/on-finished",
        }
        hooks = [(e.hook, e.status) for e in tracker.history(done) if e.hook]
        assert sorted(hooks) == [
            ("on-completed", Status.COMPLETED),
            ("on-finished", Status.COMPLETED),
        ]

    def test_a_hook_name_is_registered_once(self, tracker: Tracker) -> None:
        tracker.on_completed(print, name="notify")
        with pytest.raises(InvalidInput, match="'notify'"):
            tracker.on_failed(print, name="notify")

    def test_a_failing_hook_is_recorded_and_retried_with_backoff(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        attempts: list[FinishedJob] = []

        def flaky(finished: FinishedJob) -> None:
            attempts.append(finished)
            if len(attempts) < 3:
                raise ConnectionError(f"mail server down ({len(attempts)})")

        tracker.on_completed(flaky, name="mail")
        job = tracker.create_job(["a"])
        tracker.complete(job, "a")
        assert tracker.run_hooks(once=True) == 1
        assert tracker.run_hooks(once=True) == 0, "retried before its back-off elapsed"
        clock.advance(1)
        assert tracker.run_hooks(once=True) == 1
        clock.advance(2)
        assert tracker.run_hooks(once=True) == 1
        assert [a.attempt for a in attempts] == [1, 2, 3]
        assert len({a.key for a in attempts}) == 1
        runs = [(e.status, e.message) for e in tracker.history(job) if e.hook == "mail"]
        assert runs == [
            (Status.FAILED, "ConnectionError: mail server down (1)"),
            (Status.FAILED, "ConnectionError: mail server down (2)"),
            (Status.COMPLETED, ""),
        ]

    def test_a_hook_that_keeps_failing_is_given_up_without_blocking_others(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        later: list[object] = []

        def broken(finished: FinishedJob) -> None:
            raise RuntimeError("always")

        tracker.on_completed(broken, name="broken")
        first = tracker.create_job(["a"])
        tracker.complete(first, "a")
        for _ in range(10):
            tracker.run_hooks(once=True)
            clock.advance(3600)
        failures = [e for e in tracker.history(first) if e.hook == "broken"]
        assert len(failures) == 5
        tracker.on_finished(lambda f: later.append(f.job_id), name="later")
        second = tracker.create_job(["a"])
        tracker.complete(second, "a")
        tracker.run_hooks(once=True)
        assert second in later

    def test_a_crash_before_the_hook_is_recorded_means_it_runs_again(
        self, tracker: Tracker, clock: Clock
    ) -> None:
        class Crash(BaseException):
            pass

        calls: list[str] = []

        def crashing(finished: FinishedJob) -> None:
            calls.append(finished.key)
            raise Crash

        tracker.on_completed(crashing, name="notify")
        job = tracker.create_job(["a"])
        tracker.complete(job, "a")
        with pytest.raises(Crash):
            tracker.run_hooks(once=True)
        restarted = Tracker(tracker.ledger, clock=clock)
        restarted.on_completed(lambda f: calls.append(f.key), name="notify")
        assert restarted.run_hooks(once=True) == 1
        assert calls == [f"{job}/notify", f"{job}/notify"]

    def test_run_hooks_loops_until_stopped(self, tracker: Tracker) -> None:
        seen = threading.Event()
        tracker.on_completed(lambda f: seen.set(), name="seen")
        job = tracker.create_job(["a"])
        tracker.complete(job, "a")
        assert tracker.run_hooks(stop=seen.is_set, poll=0.01) == 1
        stop = threading.Event()
        threading.Timer(0.05, stop.set).start()
        assert tracker.run_hooks(stop=stop, poll=3600) == 0  # the Event cuts the wait short
        for bad in (0.0, -1.0, float("inf"), float("nan")):
            with pytest.raises(InvalidInput, match="poll"):
                tracker.run_hooks(once=True, poll=bad)

    # The status view and its queries

    def test_summary_is_the_status_without_components(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"], name="s")
        tracker.start(job, "a", progress=0.5)
        status = tracker.status(job)
        summary = tracker.summary(job)
        assert summary.model_dump() == status.model_dump(exclude={"components"})

    def test_components_are_listed_page_by_page(self, tracker: Tracker) -> None:
        names = [f"part-{n:03d}" for n in range(250)]
        job = tracker.create_job(names[:200])
        assert len(tracker.components(job, limit=300).items) == 200  # before some are added
        tracker.add_components(job, names[200:])
        tracker.complete(job, "part-120")
        seen: list[str] = []
        cursor = None
        while True:
            page = tracker.components(job, limit=100, cursor=cursor)
            seen.extend(c.name for c in page.items)
            if (cursor := page.next_cursor) is None:
                break
        assert seen == names
        [done] = list(tracker.components(job, limit=1, cursor="119").items)
        assert (done.name, done.status) == ("part-120", Status.COMPLETED)
        with pytest.raises(InvalidInput, match="'x'"):
            tracker.components(job, cursor="x")

    def test_stale_lists_quiet_components_oldest_first(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job = tracker.create_job(["quiet", "retrying", "busy", "done"])
        tracker.start(job, "quiet")
        tracker.report(job, "retrying", "retrying")
        tracker.complete(job, "done")
        clock.advance(120)
        tracker.start(job, "busy")
        stale = tracker.stale(timedelta(seconds=60))
        assert [(s.job_id, s.component.name) for s in stale] == [
            (job, "quiet"),
            (job, "retrying"),
        ]
        tracker.start(job, "quiet")
        assert [s.component.name for s in tracker.stale(timedelta(seconds=60))] == ["retrying"]
        with pytest.raises(InvalidInput):
            tracker.stale(timedelta(seconds=-1))
        with pytest.raises(InvalidInput, match="before the year 1"):
            tracker.stale(timedelta.max)

    def test_rebuild_view_reports_and_repairs_drift(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        tracker.complete(job, "a")
        assert tracker.rebuild_view().drift == ()
        row, _ = tracker.view.load(job, ())
        assert row is not None
        wrong = {**row.tally.counts, Status.COMPLETED: 2, Status.PENDING: 0}
        corrupted = JobRow(row.position, row.tally.model_copy(update={"counts": wrong}))
        position = tracker.view.position()
        tracker.view.commit(position, position, [corrupted], [])
        assert tracker.summary(job).overall is Status.COMPLETED, "the corruption took"
        check = tracker.rebuild_view()
        assert [(d.job_id, d.component) for d in check.drift] == [(job, None)]
        assert (check.jobs, check.components) == (1, 2)
        assert tracker.summary(job).overall is Status.IN_PROGRESS
        assert tracker.rebuild_view().drift == ()

    def test_prune_runs_while_workers_keep_reporting(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        finished = [tracker.create_job(["a"]) for _ in range(20)]
        for job in finished:
            tracker.complete(job, "a")
        names = [f"c{n}" for n in range(60)]
        running = tracker.create_job(names)
        cutoff = clock.advance(60)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for name in names:
                    tracker.start(running, name)
                    tracker.complete(running, name)
            except BaseException as error:
                errors.append(error)

        worker = threading.Thread(target=work)
        worker.start()
        pruned = tracker.prune(finished_before=cutoff)
        worker.join()
        assert (pruned, errors) == (20, [])
        assert [j.job_id for j in tracker.jobs().items] == [running]
        assert tracker.summary(running).counts[Status.COMPLETED] == 60

    def test_prune_can_keep_failed_jobs_longer(self, tracker: Tracker, clock: FrozenClock) -> None:
        failed = tracker.create_job(["a"])
        tracker.fail(failed, "a")
        completed = tracker.create_job(["a"])
        tracker.complete(completed, "a")
        clock.advance(3600)
        cutoff = clock()
        assert tracker.prune(finished_before=cutoff, keep_failed_for=timedelta(days=1)) == 1
        assert [j.job_id for j in tracker.jobs().items] == [failed]
        assert tracker.prune(finished_before=cutoff) == 1
        assert tracker.jobs().items == ()

    # Closing

    def test_every_use_after_close_is_refused(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.start(job, "a")
        tracker.status(job)
        tracker.close()
        uses: list[Callable[[], object]] = [
            lambda: tracker.create_job(["b"]),
            lambda: tracker.complete(job, "a"),
            lambda: tracker.summary(job),
            lambda: tracker.status(job),
            tracker.jobs,
            lambda: tracker.history(job),
            tracker.view.position,
        ]
        for use in uses:
            with pytest.raises(StoreError, match="is closed"):
                use()
        tracker.close()  # closing again is harmless
