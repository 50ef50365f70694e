"""The contract's concurrency cases: threads and Trackers sharing one store."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ..application.tracker import Tracker
from ..domain.errors import InvalidTransition
from ..domain.status import Status
from .clock import FrozenClock
from .lifecycle import StoreUnderTest


class ConcurrencyContract(StoreUnderTest):
    """Concurrent workers, racing reports, Trackers sharing a store, consistent snapshots."""

    def test_concurrent_workers_lose_nothing(self, tracker: Tracker) -> None:
        names = [f"c{n}" for n in range(40)]
        job = tracker.create_job(names)

        def work(part: list[str]) -> None:
            for name in part:
                tracker.start(job, name, progress=0.5)
                tracker.complete(job, name)

        threads = [threading.Thread(target=work, args=(names[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        status = tracker.status(job)
        assert status.overall is Status.COMPLETED
        assert len(tracker.history(job)) == 80

    def test_racing_reports_on_one_component_keep_one_order(self, tracker: Tracker) -> None:
        job = tracker.create_job(["a"])
        barrier = threading.Barrier(4)
        outcomes: list[object] = []

        def work(status: Status) -> None:
            barrier.wait()
            try:
                outcomes.append(tracker.report(job, "a", status))
            except InvalidTransition as error:
                outcomes.append(error)

        statuses = [Status.COMPLETED, Status.FAILED, Status.IN_PROGRESS, Status.COMPLETED]
        threads = [threading.Thread(target=work, args=(s,)) for s in statuses]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        history = tracker.history(job, "a")
        assert [e.version for e in history] == list(range(1, len(history) + 1))
        assert history[-1].status.is_terminal
        assert tracker.status(job).components["a"].status is history[-1].status

    def test_trackers_sharing_a_store_see_each_others_reports(
        self, tracker: Tracker, clock: FrozenClock
    ) -> None:
        other = Tracker(tracker.ledger, clock=clock)
        job = tracker.create_job(["a"])
        assert tracker.start(job, "a").version == 1
        assert other.start(job, "a").version == 2
        assert tracker.complete(job, "a").version == 3
        with pytest.raises(InvalidTransition, match="already completed"):
            other.start(job, "a")
        assert other.complete(job, "a").recorded is False
        assert [e.version for e in other.history(job, "a")] == [1, 2, 3]

    def test_status_is_one_snapshot_while_others_update_the_view(
        self, tracker: Tracker, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        job = tracker.create_job(["a", "b"])
        other = Tracker(tracker.ledger, clock=clock)  # Shares the view, where the store does.
        view = _InterruptedView(
            tracker.ledger.status_view(),
            interruption=lambda: (other.start(job, "b"), other.summary(job)),
        )
        monkeypatch.setattr(tracker.ledger, "status_view", lambda: view)
        reader = Tracker(tracker.ledger, clock=clock)
        other.start(job, "a")
        reader.summary(job)  # Caught up: status() reads at once, with nothing to apply first.
        view.armed = True
        status = reader.status(job)  # Another commit lands right after its first read.
        assert not view.armed
        assert [c.status for c in status.components.values()] == [
            Status.IN_PROGRESS,
            Status.PENDING,
        ]
        shown = Counter(c.status for c in status.components.values())
        assert {s: n for s, n in status.counts.items() if n} == shown


class _InterruptedView:
    """A status view whose next read, once `armed`, runs `interruption` before returning."""

    def __init__(self, view: object, interruption: Callable[[], object]) -> None:
        self._view = view
        self._interruption = interruption
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._view, name)
        if not self.armed or name not in ("load", "snapshot", "components"):
            return attribute

        def read(*args: object, **kwargs: object) -> object:
            result = attribute(*args, **kwargs)
            self.armed = False
            self._interruption()
            return result

        return read
