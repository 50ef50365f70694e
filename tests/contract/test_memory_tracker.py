"""The memory store passes the tracker contract."""

from __future__ import annotations

from jobledger import Tracker
from jobledger.application.ports import Clock
from jobledger.testing.contract import TrackerContract


class TestMemoryTracker(TrackerContract):
    def create_tracker(self, clock: Clock) -> Tracker:
        return Tracker.open("memory://", clock=clock)
