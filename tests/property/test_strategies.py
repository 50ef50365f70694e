"""The shipped strategies draw feeds that look like real ones: each shape a real store records
shows up, counted over many examples, and every drawn feed keeps the rules a store keeps."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from hypothesis import HealthCheck, given, settings

from jobledger import Status, fold
from jobledger.events import (
    ComponentsAdded,
    HookRan,
    JobCancelled,
    JobEvent,
    JobFinished,
    StatusReported,
)
from jobledger.testing.strategies import feeds


def job_of(event: JobEvent) -> UUID:
    return event.job_id if isinstance(event, StatusReported) else event.originator_id


def shapes(feed: list[JobEvent]) -> set[str]:
    """The shapes of a real feed that `feed` holds."""
    found: set[str] = set()
    previous: dict[UUID, JobEvent] = {}
    finished: set[UUID] = set()
    reported: set[UUID] = set()
    jobs = [job_of(e) for e in feed]
    for event, job in zip(feed, jobs, strict=True):
        before = previous.get(event.originator_id)
        if isinstance(event, StatusReported):
            reported.add(job)
            found |= {"late report"} if job in finished else set()
            same = isinstance(before, StatusReported) and (
                (before.status, before.message, before.progress)
                == (event.status, event.message, event.progress)
            )
            found |= {"redelivered report"} if same else set()
        elif isinstance(event, JobFinished):
            finished.add(job)
            found.add(f"finished {event.outcome.value}")
        elif isinstance(event, HookRan):
            found.add("hook run")
        elif isinstance(event, ComponentsAdded) and job in reported:
            found.add("components added after a report")
        if before is not None and event.timestamp < before.timestamp:
            found.add("clock going back in a stream")
        previous[event.originator_id] = event
    if any(a == c != b for a, b, c in zip(jobs, jobs[1:], jobs[2:], strict=False)):
        found.add("interleaved jobs")
    return found


def check_rules(feed: list[JobEvent]) -> None:
    """What every real feed keeps: stream order, declared components, causes before finishes."""
    for n, event in enumerate(feed):
        mine = [e for e in feed[:n] if job_of(e) == job_of(event)]
        stream = [e for e in mine if e.originator_id == event.originator_id]
        assert event.originator_version == len(stream) + 1
        if isinstance(event, StatusReported):
            assert event.component in fold(None, mine).components
        if isinstance(event, JobFinished):
            outcome = fold(None, mine).tally.derived_outcome()[0]
            assert outcome is event.outcome, "a finish record before its cause"
            if outcome is Status.CANCELLED:
                assert isinstance(feed[n - 1], JobCancelled), "a cancel without its finish"


def draw_many(monotonic: bool) -> Counter[str]:
    seen: Counter[str] = Counter()

    @settings(
        max_examples=200,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(feeds(monotonic=monotonic))
    def look(feed: list[JobEvent]) -> None:
        check_rules(feed)
        seen.update(shapes(feed))

    look()
    return seen


def test_feeds_hold_every_shape_of_a_real_feed() -> None:
    seen = draw_many(monotonic=False)
    expected = {
        "redelivered report",
        "late report",
        "hook run",
        "interleaved jobs",
        "components added after a report",
        "finished cancelled",
        "finished completed",
        "finished failed",
        "clock going back in a stream",
    }
    assert {shape for shape, count in seen.items() if count >= 5} == expected, seen


def test_monotonic_clocks_never_go_back_within_a_stream() -> None:
    seen = draw_many(monotonic=True)
    assert "clock going back in a stream" not in seen
    assert seen["late report"] >= 5
