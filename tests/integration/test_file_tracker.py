"""The file store passes the tracker contract."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from jobledger import StoreError, Tracker
from jobledger.application.ports import Clock
from jobledger.testing.contract import TrackerContract


class TestFileTracker(TrackerContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def create_tracker(self, clock: Clock) -> Tracker:
        store = tempfile.mkdtemp(dir=self.directory)
        return Tracker.open(f"file://{store}", clock=clock)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


def test_a_read_only_store_is_listed_without_writing_anything(tmp_path, monkeypatch):
    url = f"file://{tmp_path}"
    with Tracker.open(url) as tracker:
        job = tracker.create_job(["a"])
        tracker.jobs()  # Builds this host's view, which a read-only store cannot update.
    (tmp_path / "events" / "lock").unlink()
    shutil.rmtree(tmp_path / "views")
    before = _tree(tmp_path)
    # As a read-only mount answers, for root too (tests may run as root, who ignores modes).
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: m != os.W_OK and real_access(p, m))
    with Tracker.open(url, create=False) as tracker:
        assert [j.job_id for j in tracker.jobs().items] == [job]
        assert tracker.summary(job).total == 1
    assert _tree(tmp_path) == before
    with pytest.raises(StoreError, match="is closed"):
        tracker.view.position()  # its in-process view closed with the store
