"""The file store passes the tracker contract."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from jobledger import Tracker
from jobledger.application.ports import Clock
from jobledger.testing.contract import TrackerContract


class TestFileTracker(TrackerContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def create_tracker(self, clock: Clock) -> Tracker:
        store = tempfile.mkdtemp(dir=self.directory)
        return Tracker.open(f"file://{store}", clock=clock)
