"""The file store's status view (SQLite, one database per host): the shared view contract,
and what only this persistent view has to get right."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import DataError, NotSupportedError

from jobledger import Tracker
from jobledger.adapters.file.view import FileStatusView, view_path
from jobledger.application.local_view import LocalStatusView
from jobledger.application.mapper import StoredReport
from jobledger.domain.errors import StoreError
from jobledger.domain.events import JobEvent
from jobledger.testing import StatusViewContract
from jobledger.testing.views import component_row, job_row


class TestLocalStatusView(StatusViewContract):
    def create_view(self) -> LocalStatusView:
        return LocalStatusView()


class TestFileStatusView(StatusViewContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def create_view(self) -> FileStatusView:
        return FileStatusView(view_path(str(self.directory)))


def test_the_database_is_created_on_first_use(tmp_path: Path) -> None:
    path = Path(view_path(str(tmp_path)))
    view = FileStatusView(str(path))
    assert not path.exists()  # workers that only report never create one
    assert view.position() == 0
    assert path.exists()


def test_a_failure_mid_commit_leaves_nothing_written(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    view = FileStatusView(path)
    view.position()
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON components WHEN NEW.ordinal = 1 "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    job_id = uuid4()
    job = job_row(job_id, 1)
    with pytest.raises(DataError, match="boom") as raised:
        view.commit(0, 1, [job], [component_row(job_id, 0), component_row(job_id, 1)])
    assert path in str(raised.value)
    assert view.position() == 0
    assert view.load(job_id, ["c0", "c1"]) == (None, [])


def test_other_view_objects_and_threads_see_each_others_commits(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    first, second = FileStatusView(path), FileStatusView(path)
    job = job_row(uuid4(), 1)
    first.commit(0, 1, [job], [component_row(job.tally.job_id, 0)])
    assert second.position() == 1
    assert second.load(job.tally.job_id, ["c0"])[0] == job
    worker = threading.Thread(target=second.commit, args=(1, 2, [], []))
    worker.start()
    worker.join()
    assert first.position() == 2


def test_a_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    FileStatusView(path).position()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'")
    with pytest.raises(NotSupportedError, match="schema version 2") as raised:
        FileStatusView(path)
    assert path in str(raised.value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"not a database, just garbage " * 200),
        lambda path: path.write_bytes(path.read_bytes()[:1000]),
    ],
    ids=["garbage", "truncated"],
)
def test_a_damaged_database_raises_data_error_naming_it(
    tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    path = view_path(str(tmp_path))
    view = FileStatusView(path)
    view.commit(0, 1, [job_row(uuid4(), 1)], [component_row(uuid4(), n) for n in range(200)])
    damage(Path(path))
    with pytest.raises(DataError, match="deleting it is safe") as raised:
        FileStatusView(path).jobs(status=None, before=10, limit=10)
    assert path in str(raised.value)


def test_a_garbled_row_raises_data_error_naming_the_database(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    view = FileStatusView(path)
    job = job_row(uuid4(), 1)
    view.commit(0, 1, [job], [])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE jobs SET tally = '{\"job_id\": 3}'")
    with pytest.raises(DataError) as raised:
        view.load(job.tally.job_id, ())
    assert path in str(raised.value)


def test_the_database_is_per_host_with_the_host_name_encoded(tmp_path: Path) -> None:
    path = view_path(str(tmp_path), "../evil/host name")
    assert Path(path).parent == tmp_path / "views"
    assert Path(path).name == "..%2Fevil%2Fhost%20name.sqlite3"


def test_a_new_tracker_starts_from_the_stored_view_and_reads_only_new_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"file://{tmp_path}"
    with Tracker.open(url) as first:
        job = first.create_job([f"c{n}" for n in range(50)])
        for n in range(49):
            first.complete(job, f"c{n}")
        expected = first.status(job)
        position = first.view.position()
    with Tracker.open(url) as second:
        assert second.view.position() == position
        read: list[int] = []
        feed = second.ledger.view_feed

        def counting_feed(**kwargs: Any) -> list[tuple[int, JobEvent | StoredReport]]:
            batch = feed(**kwargs)
            read.extend(p for p, _ in batch)
            return batch

        monkeypatch.setattr(second.ledger, "view_feed", counting_feed)
        assert second.status(job) == expected
        assert read == []
        second.add_components(job, ["late"])
        assert second.summary(job).total == 51
        assert len(read) == 1
        assert read[0] > position


def test_deleting_the_view_database_is_safe(tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    with Tracker.open(url) as tracker:
        job = tracker.create_job(["a", "b"])
        tracker.complete(job, "a")
        expected = tracker.status(job)
    path = Path(view_path(str(tmp_path)))
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="deleting it is safe"):
        Tracker.open(url)
    path.unlink()
    with Tracker.open(url) as tracker:
        assert tracker.status(job) == expected
        assert path.exists()
