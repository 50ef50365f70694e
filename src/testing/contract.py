"""The contract every store must pass, run through the public Tracker API.

Subclass `TrackerContract` in a pytest module and implement `create_tracker(clock)`; fixtures
the store needs (a directory, a database) can be set up by an autouse fixture on the
subclass. Requires pytest.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from ..application.tracker import Tracker
from ..domain.errors import (
    InvalidInput,
    InvalidJobDefinition,
    InvalidReport,
    InvalidTransition,
    JobAlreadyExists,
    JobNotFound,
    UnknownComponent,
)
from ..domain.status import Status
from .clock import FrozenClock
from .concurrency import ConcurrencyContract
from .feed import FeedContract
from .freshness import FreshnessContract
from .lifecycle import LifecycleContract
from .machine import TrackerMachine
from .pruning import PruneContract

ODD_NAMES = ["../../etc/passwd", "nul\0inside", "line\nbreak", "ü" * 500, "'; DROP TABLE x; --"]


class TrackerContract(
    FeedContract, LifecycleContract, PruneContract, ConcurrencyContract, FreshnessContract
):
    """Behaviour every store gives through `Tracker`; one subclass per store, implementing
    `create_tracker(clock)`."""

    # Creating jobs

    def test_new_job_is_pending_with_all_components(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b", "c"], name="nightly", metadata={"k": [1, "x"]})
        status = tracker.status(job)
        assert status.job_id == job
        assert (status.name, status.metadata, status.total) == ("nightly", {"k": [1, "x"]}, 3)
        assert status.overall is Status.PENDING
        assert list(status.components) == ["a", "b", "c"]
        assert all(
            c.version == 0 and c.status is Status.PENDING for c in status.components.values()
        )
        assert sum(status.counts.values()) == 3
        assert (status.progress, status.is_finished, status.finished_at) == (0, False, None)

    def test_create_is_idempotent_for_the_same_definition(self, tracker: Tracker) -> None:
        job_id = uuid4()
        assert tracker.create_job(["a"], job_id=job_id) == job_id
        assert tracker.create_job(["a"], job_id=str(job_id)) == job_id
        with pytest.raises(JobAlreadyExists, match=str(job_id)):
            tracker.create_job(["a", "b"], job_id=job_id)
        assert tracker.status(job_id).total == 1

    @pytest.mark.parametrize(
        ("components", "keywords", "named"),
        [
            ([], {}, "none"),
            (["a", "a"], {}, "'a'"),
            (["a", ""], {}, "''"),
            (["a", "  "], {}, "'  '"),
            (["x" * 513], {}, "513"),
            (["a", 7], {}, "7"),
            ("abc", {}, "'abc'"),
            (["a"], {"allowed_failures": -1}, "-1"),
            (["a"], {"name": "\t"}, "'\\t'"),
            (["a"], {"metadata": {"k": object}}, "'k'"),
            (["a"], {"job_id": "not-a-uuid"}, "'not-a-uuid'"),
        ],
    )
    def test_bad_definitions_are_rejected_and_record_nothing(
        self, tracker: Tracker, components: object, keywords: dict[str, object], named: str
    ) -> None:
        with pytest.raises(InvalidJobDefinition, match=re.escape(named)):
            tracker.create_job(components, **keywords)  # type: ignore[arg-type]
        assert tracker.jobs().items == ()

    @pytest.mark.parametrize("name", ODD_NAMES)
    def test_any_text_is_a_name_and_round_trips(self, tracker: Tracker, name: str) -> None:
        job = tracker.create_job([name, "other"], name=name)
        tracker.complete(job, name, message=name)
        status = tracker.status(job)
        assert status.name == name
        assert status.components[name].message == name
        assert [e.component for e in tracker.history(job, name)] == [name]

    # Reporting

    def test_reports_move_components_and_job(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        first = tracker.start(job, "a", progress=0.5, message="half")
        assert (first.version, first.status, first.recorded) == (1, Status.IN_PROGRESS, True)
        status = tracker.status(job)
        assert status.overall is Status.IN_PROGRESS
        assert status.components["a"].progress == 0.5
        assert status.progress == 0.25
        tracker.complete(job, "a")
        tracker.report(job, "b", "completed")
        final = tracker.status(job)
        assert (final.overall, final.progress, final.is_finished) == (Status.COMPLETED, 1, True)

    def test_heartbeat_without_progress_keeps_the_fraction(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.start(job, "a", progress=0.4)
        tracker.start(job, "a")
        assert tracker.status(job).components["a"].progress == 0.4

    def test_retrying_is_in_progress_and_not_final(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.report(job, "a", Status.RETRYING, message="timeout, retrying")
        status = tracker.status(job)
        assert (status.overall, status.counts[Status.RETRYING]) == (Status.IN_PROGRESS, 1)
        tracker.complete(job, "a")
        assert tracker.status(job).overall is Status.COMPLETED

    def test_repeating_a_final_report_is_a_no_op(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        recorded = tracker.complete(job, "a")
        again = tracker.complete(job, "a", message="redelivered")
        assert (again.recorded, again.version) == (False, recorded.version)
        assert len(tracker.history(job)) == 1

    @pytest.mark.parametrize(
        ("final", "late"),
        [
            (final, late)
            for final in (Status.COMPLETED, Status.FAILED)
            for late in (Status.IN_PROGRESS, Status.RETRYING, Status.COMPLETED, Status.FAILED)
            if late is not final
        ],
    )
    def test_nothing_overrides_a_final_report(
        self, tracker: Tracker, final: Status, late: Status
    ) -> None:
        job = tracker.create_job(["a", "b"], allowed_failures=1)
        tracker.report(job, "a", final)
        with pytest.raises(InvalidTransition, match="'a'"):
            tracker.report(job, "a", late)
        assert tracker.status(job).components["a"].status is final
        assert len(tracker.history(job, "a")) == 1

    def test_order_is_the_stream_order_not_the_clock(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.start(job, "a")
        tracker.report(job, "a", "retrying")
        tracker.start(job, "a", message="second attempt")
        history = tracker.history(job, "a")
        assert len({e.recorded_at for e in history}) == 1, "the clock is frozen"
        assert [e.version for e in history] == [1, 2, 3]
        component = tracker.status(job).components["a"]
        assert (component.status, component.message) == (Status.IN_PROGRESS, "second attempt")

    @pytest.mark.parametrize(
        ("status", "keywords", "error", "named"),
        [
            ("done", {}, InvalidReport, "'done'"),
            ("pending", {}, InvalidReport, "'pending'"),
            ("cancelled", {}, InvalidReport, "'cancelled'"),
            (Status.IN_PROGRESS, {"progress": 1.5}, InvalidReport, "1.5"),
            (Status.IN_PROGRESS, {"progress": float("nan")}, InvalidReport, "nan"),
            (Status.IN_PROGRESS, {"progress": -0.1}, InvalidReport, "-0.1"),
            (Status.COMPLETED, {"progress": 0.5}, InvalidReport, "0.5"),
            (Status.IN_PROGRESS, {"message": "x" * (64 * 1024 + 1)}, InvalidReport, "65537"),
            (Status.IN_PROGRESS, {"message": 3}, InvalidReport, "3"),
        ],
    )
    def test_bad_reports_are_rejected_and_record_nothing(
        self,
        tracker: Tracker,
        status: str,
        keywords: dict[str, object],
        error: type[Exception],
        named: str,
    ) -> None:
        job = tracker.create_job(["a"])
        with pytest.raises(error, match=re.escape(named)):
            tracker.report(job, "a", status, **keywords)  # type: ignore[arg-type]
        assert tracker.history(job) == []

    def test_unknown_jobs_and_components_are_named(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        missing = uuid4()
        with pytest.raises(JobNotFound, match=str(missing)):
            tracker.start(missing, "a")
        with pytest.raises(JobNotFound, match="'nope'"):
            tracker.status("nope")
        with pytest.raises(UnknownComponent, match="'b'"):
            tracker.start(job, "b")
        assert isinstance(JobNotFound("x"), LookupError)
        assert tracker.history(job) == []

    # Job outcomes

    def test_failures_beyond_the_allowance_fail_the_job(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b", "c"], allowed_failures=1)
        tracker.fail(job, "a")
        assert tracker.status(job).overall is Status.IN_PROGRESS
        tracker.fail(job, "b")
        failed = tracker.status(job)
        assert failed.overall is Status.FAILED
        tracker.complete(job, "c")
        after = tracker.status(job)
        assert (after.overall, after.finished_at) == (Status.FAILED, failed.finished_at)
        assert after.counts[Status.COMPLETED] == 1

    def test_allowed_failures_still_complete(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"], allowed_failures=1)
        tracker.fail(job, "a")
        tracker.complete(job, "b")
        status = tracker.status(job)
        assert (status.overall, status.progress) == (Status.COMPLETED, 0.5)

    def test_reports_to_a_cancelled_job_are_kept_but_change_no_outcome(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        job = tracker.create_job(["a", "b"])
        tracker.start(job, "a")
        tracker.cancel(job, reason="operator")
        cancelled_at = clock()
        clock.advance(5)
        tracker.complete(job, "a")
        tracker.complete(job, "b")
        tracker.cancel(job)
        status = tracker.status(job)
        assert (status.overall, status.cancel_reason) == (Status.CANCELLED, "operator")
        assert status.finished_at == cancelled_at
        assert [e.status for e in tracker.history(job)][-2:] == [Status.COMPLETED] * 2

    def test_finished_jobs_take_no_new_components_or_cancellation(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        tracker.add_components(job, ["b"])
        with pytest.raises(InvalidJobDefinition, match="'b'"):
            tracker.add_components(job, ["b"])
        tracker.complete(job, "a")
        tracker.complete(job, "b")
        with pytest.raises(InvalidTransition, match="finished"):
            tracker.add_components(job, ["c"])
        with pytest.raises(InvalidTransition, match="finished"):
            tracker.cancel(job)
        assert tracker.status(job).total == 2

    def test_commands_read_their_job_not_the_status_view(self, tracker: Tracker) -> None:
        job, other = tracker.create_job(["a"]), tracker.create_job(["a", "b"])
        position = tracker.view.position()  # No query yet: no view keeper moves it either.
        tracker.complete(job, "a")
        tracker.start(other, "a")
        with pytest.raises(InvalidTransition, match="finished"):
            tracker.add_components(job, ["b"])
        with pytest.raises(InvalidTransition, match="finished"):
            tracker.cancel(job)
        tracker.add_components(other, ["c"])
        tracker.cancel(other, "enough")
        assert tracker.view.position() == position
        assert tracker.summary(other).overall is Status.CANCELLED

    def test_timestamps_follow_the_clock(self, tracker: Tracker, clock: FrozenClock) -> None:
        created_at = clock()
        job = tracker.create_job(["a", "b"])
        tracker.complete(job, "b")
        done_at = clock.advance(10)
        tracker.complete(job, "a")
        status = tracker.status(job)
        assert (status.created_at, status.updated_at, status.finished_at) == (
            created_at,
            done_at,
            done_at,
        )
        assert status.components["b"].updated_at == created_at

    # Reading back

    def test_history_is_in_recorded_order(self, tracker: Tracker) -> None:
        job, other = tracker.create_job(["a", "b"]), tracker.create_job(["a", "b"])
        tracker.start(job, "b")
        tracker.start(other, "a")
        tracker.start(job, "a")
        tracker.complete(other, "a")
        tracker.complete(job, "b")
        assert [(e.component, e.version) for e in tracker.history(job)] == [
            ("b", 1),
            ("a", 1),
            ("b", 2),
        ]
        assert [(e.job_id, e.component) for e in tracker.history(other)] == [(other, "a")] * 2
        assert [e.status for e in tracker.history(job, "b")] == [
            Status.IN_PROGRESS,
            Status.COMPLETED,
        ]

    def test_jobs_are_listed_newest_first_page_by_page(self, tracker: Tracker) -> None:
        jobs = [tracker.create_job(["a"], name=str(n)) for n in range(5)]
        tracker.complete(jobs[1], "a")
        first = tracker.jobs(limit=2)
        assert [i.job_id for i in first.items] == jobs[:2:-1][:2]
        assert first.next_cursor is not None
        rest = tracker.jobs(limit=10, cursor=first.next_cursor)
        assert [i.job_id for i in rest.items] == [jobs[2], jobs[1], jobs[0]]
        assert rest.next_cursor is None
        completed = tracker.jobs(status="completed")
        assert [i.job_id for i in completed.items] == [jobs[1]]
        with pytest.raises(InvalidInput, match="'zzz'"):
            tracker.jobs(cursor="zzz")
        with pytest.raises(InvalidInput, match="0"):
            tracker.jobs(limit=0)

    def test_wait_returns_the_final_status(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        worker = threading.Timer(0.05, lambda: [tracker.complete(job, c) for c in "ab"])
        worker.start()
        status = tracker.wait(job, timeout=30)
        worker.join()
        assert status.overall is Status.COMPLETED

    def test_follow_yields_each_change_until_finished(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        updates = tracker.follow(job, timeout=30)
        assert next(updates).counts[Status.PENDING] == 2
        tracker.complete(job, "a")
        assert next(updates).counts[Status.COMPLETED] == 1
        tracker.complete(job, "b")
        assert [u.overall for u in updates] == [Status.COMPLETED]
        unfinished = tracker.create_job(["a"])
        with pytest.raises(TimeoutError, match=str(unfinished)):
            list(tracker.follow(unfinished, timeout=0.05))
        for bad in (-1.0, float("nan")):
            with pytest.raises(InvalidInput, match="timeout"):
                tracker.wait(unfinished, timeout=bad)

    def test_wait_times_out_naming_the_job(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        with pytest.raises(TimeoutError, match=str(job)):
            tracker.wait(job, timeout=0.05)

    def test_prune_deletes_only_jobs_finished_before_the_cutoff(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        old = tracker.create_job(["a"])
        tracker.complete(old, "a")
        running = tracker.create_job(["a"])
        tracker.start(running, "a")
        cutoff = clock.advance(60)
        recent = tracker.create_job(["a"])
        tracker.fail(recent, "a")
        assert tracker.prune(finished_before=cutoff, dry_run=True) == 1
        assert tracker.status(old).is_finished
        assert tracker.prune(finished_before=cutoff + timedelta(seconds=1)) == 2
        with pytest.raises(JobNotFound):
            tracker.status(old)
        assert [j.job_id for j in tracker.jobs().items] == [running]
        tracker.complete(running, "a")
        with pytest.raises(InvalidInput):
            tracker.prune(finished_before=cutoff.replace(tzinfo=None))
        later = cutoff + timedelta(seconds=1)  # `running` completed before it: prunable.
        for keep in (timedelta(days=-1), 3, timedelta.max):
            with pytest.raises(InvalidInput, match="keep_failed_for"):
                tracker.prune(finished_before=later, keep_failed_for=keep)  # type: ignore[arg-type]
        assert [j.job_id for j in tracker.jobs().items] == [running]  # Checked before deleting.

    # Random command sequences

    def test_agrees_with_a_reference_model(self) -> None:
        machine = type("Machine", (TrackerMachine,), {"create_tracker": self.create_tracker})
        run_state_machine_as_test(machine, settings=self.machine_settings)

    machine_settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
    """Subclasses for slow stores may lower these."""
