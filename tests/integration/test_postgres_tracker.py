"""The PostgreSQL store passes the tracker contract, each test on a fresh database."""

from __future__ import annotations

import pytest

from jobledger import Tracker
from jobledger.application.ports import Clock
from jobledger.testing.contract import TrackerContract


class TestPostgresTracker(TrackerContract):
    @pytest.fixture(autouse=True)
    def _fresh_database(self, postgres_database: str) -> None:
        self.database_url = postgres_database

    def create_tracker(self, clock: Clock) -> Tracker:
        return Tracker.open(self.database_url, clock=clock)
