"""The part of the store contract about the feed, as projections read it with
`Tracker.events()`: one order, the order of each job's history, and positions that a prune
never hands out again."""

from __future__ import annotations

from typing import Any

import pytest

from ..application.results import FeedEvent
from ..application.tracker import Tracker
from ..domain.errors import InvalidInput
from ..domain.events import JobCancelled, JobCreated, JobFinished, StatusReported
from .clock import FrozenClock
from .lifecycle import StoreUnderTest


def whole_feed(tracker: Tracker, *, limit: int = 1_000) -> list[FeedEvent]:
    """Every event of the tracker's feed, read page by page."""
    found: list[FeedEvent] = []
    after = 0
    while page := tracker.events(after=after, limit=limit).items:
        found.extend(page)
        after = page[-1].position
    return found


class FeedContract(StoreUnderTest):
    """The feed: its order, its positions, and paging through it."""

    def test_positions_are_never_reused_after_the_newest_events_are_deleted(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        old = tracker.create_job(["a"])
        tracker.complete(old, "a")
        tracker.summary(old)  # Records the finish: now every event of the feed is old's.
        newest = whole_feed(tracker)[-1].position
        assert tracker.prune(finished_before=clock.advance(60)) == 1
        assert whole_feed(tracker) == []
        job = tracker.create_job(["a"])
        [created] = whole_feed(tracker)
        assert created.position > newest, "the store handed out a deleted position again"
        assert tracker.summary(job).total == 1

    def test_feed_order_is_each_jobs_history_order(self, tracker: Tracker) -> None:
        job, other = tracker.create_job(["a", "b"]), tracker.create_job(["a"])
        tracker.start(job, "b")
        tracker.start(other, "a")
        tracker.report(job, "a", "retrying")
        tracker.complete(job, "b")
        tracker.add_components(job, ["c"])
        tracker.cancel(other, "enough")
        tracker.complete(job, "a")
        feed = whole_feed(tracker, limit=2)
        positions = [item.position for item in feed]
        assert positions == sorted(set(positions))
        reports = [
            (e.component, e.originator_version, e.status)
            for e in (item.event for item in feed)
            if isinstance(e, StatusReported) and e.job_id == job
        ]
        assert reports == [(h.component, h.version, h.status) for h in tracker.history(job)]
        own = [item.event for item in feed if item.event.originator_id == other]
        assert [type(e) for e in own] == [JobCreated, JobCancelled, JobFinished]
        assert [e.originator_version for e in own] == [1, 2, 3]

    def test_events_are_paged_and_filtered_by_type(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a", "b"])
        tracker.complete(job, "a")
        tracker.start(job, "b")
        first = tracker.events(limit=2)
        assert [type(i.event) for i in first.items] == [JobCreated, StatusReported]
        assert first.next_after == first.items[-1].position
        rest = tracker.events(after=first.next_after, limit=10)
        assert [i.event.originator_version for i in rest.items] == [1]
        end = tracker.events(after=rest.next_after)
        assert (end.items, end.next_after) == ((), rest.next_after)
        reports = tracker.events(types=[StatusReported]).items
        assert [getattr(e.event, "component", None) for e in reports] == ["a", "b"]
        bad: dict[str, Any]
        for bad in ({"after": -1}, {"limit": 0}, {"types": [int]}, {"after": "1"}):
            with pytest.raises(InvalidInput):
                tracker.events(**bad)
