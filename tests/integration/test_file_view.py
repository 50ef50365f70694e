"""The file store's status view (SQLite, one database per host): the port's semantics, checked
against the in-memory reference, and what only a persistent view has to get right."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DataError, IntegrityError, NotSupportedError

from jobledger import Tracker
from jobledger.adapters.file.view import FileStatusView, view_path
from jobledger.application.local_view import LocalStatusView
from jobledger.application.ports import ComponentRow, JobRow, StatusView
from jobledger.domain.component import ComponentStatus
from jobledger.domain.errors import StoreError
from jobledger.domain.events import JobCreated, JobEvent
from jobledger.domain.projection import Tally
from jobledger.domain.status import Status

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def job_row(position: int, components: int = 1, job_id: UUID | None = None) -> JobRow:
    created = JobCreated(
        originator_id=job_id or uuid4(),
        originator_version=1,
        timestamp=T0,
        name=f"job at {position}",
        components=tuple(f"c{n}" for n in range(components)),
        metadata={"k": [1, "x"]},
        allowed_failures=0,
    )
    return JobRow(position, Tally.start(created))


def component(
    job_id: UUID, ordinal: int, status: Status = Status.PENDING, at: datetime | None = None
) -> ComponentRow:
    state = ComponentStatus(name=f"c{ordinal}", status=status, version=1, updated_at=at)
    return ComponentRow(job_id, ordinal, state)


@pytest.fixture(params=["local", "file"])
def view(request: pytest.FixtureRequest, tmp_path: Path) -> StatusView:
    """The reference view and the file store's, so both must agree on every test."""
    if request.param == "local":
        return LocalStatusView()
    return FileStatusView(view_path(str(tmp_path)))


def test_a_commit_moves_the_position_only_from_the_one_it_names(view: StatusView) -> None:
    first = job_row(1)
    view.commit(0, 3, [first], [component(first.tally.job_id, 0)])
    with pytest.raises(IntegrityError):
        view.commit(0, 4, [job_row(4)], [])
    assert view.position() == 3
    assert [r.position for r in view.jobs(status=None, before=100, limit=10)] == [1]
    view.commit(3, 3, [], [])  # a repair at the same position
    assert view.position() == 3


def test_load_returns_the_job_row_and_the_named_components_it_has(view: StatusView) -> None:
    job = job_row(1, components=3)
    job_id = job.tally.job_id
    view.commit(0, 1, [job], [component(job_id, n) for n in range(3)])
    row, rows = view.load(job_id, ["c2", "missing", "c0"])
    assert row == job
    assert [r.status.name for r in rows] == ["c2", "c0"]
    assert view.load(uuid4(), ["c0"]) == (None, [])
    assert view.load(job_id, ())[1] == []


def test_names_keep_every_character(view: StatusView) -> None:
    job_id = uuid4()
    names = ["nul\x00inside", "é🙂", 'quote"back\\slash', "nul\x00"]
    rows = [ComponentRow(job_id, n, ComponentStatus(name=name)) for n, name in enumerate(names)]
    view.commit(0, 1, [job_row(1, job_id=job_id)], rows)
    assert view.load(job_id, names[::-1])[1] == rows[::-1]
    assert view.load(job_id, ["nul"])[1] == []


def test_components_are_paged_in_declared_order(view: StatusView) -> None:
    job = job_row(1, components=10)
    job_id = job.tally.job_id
    view.commit(0, 1, [job], [component(job_id, n) for n in (7, 2, 9, 0, 5, 1, 8, 3, 6, 4)])
    view.commit(1, 2, [job_row(2)], [component(uuid4(), 3)])
    assert [r.ordinal for r in view.components(job_id, after=-1, limit=4)] == [0, 1, 2, 3]
    assert [r.ordinal for r in view.components(job_id, after=3, limit=4)] == [4, 5, 6, 7]
    assert [r.ordinal for r in view.components(job_id, after=7, limit=4)] == [8, 9]
    assert view.components(job_id, after=9, limit=4) == []


def test_jobs_are_listed_newest_first_and_filtered_by_overall_status(view: StatusView) -> None:
    rows = [job_row(p) for p in (5, 1, 9, 3)]
    counts = {**rows[2].tally.counts, Status.PENDING: 0, Status.COMPLETED: 1}
    rows[2] = JobRow(9, rows[2].tally.model_copy(update={"counts": counts}))
    view.commit(0, 9, rows, [])
    assert [r.position for r in view.jobs(status=None, before=100, limit=10)] == [9, 5, 3, 1]
    assert [r.position for r in view.jobs(status=None, before=5, limit=1)] == [3]
    assert [r.position for r in view.jobs(status=Status.COMPLETED, before=100, limit=9)] == [9]
    pending = view.jobs(status=Status.PENDING, before=1 << 70, limit=1 << 70)
    assert [r.position for r in pending] == [5, 3, 1]


def test_stale_lists_active_components_oldest_first_ties_by_job_id_text(
    view: StatusView,
) -> None:
    a, b = sorted((uuid4(), uuid4()), key=str)
    plus_two = timezone(timedelta(hours=2))
    same = T0.astimezone(plus_two)  # the same instant, written in another time zone
    rows = [
        component(b, 1, Status.IN_PROGRESS, T0),
        component(a, 4, Status.RETRYING, same),
        component(a, 2, Status.IN_PROGRESS, T0),
        component(b, 0, Status.IN_PROGRESS, T0 - timedelta(minutes=5)),
        component(a, 0, Status.COMPLETED, T0 - timedelta(hours=1)),
        component(a, 1, Status.PENDING),
        component(a, 3, Status.IN_PROGRESS, T0 + timedelta(minutes=1)),
    ]
    view.commit(0, 1, [job_row(1, job_id=a), job_row(2, job_id=b)], rows)
    found = view.stale(before=T0 + timedelta(seconds=30), limit=10)
    assert [(r.job_id, r.ordinal) for r in found] == [(b, 0), (a, 2), (a, 4), (b, 1)]
    assert len(view.stale(before=T0 + timedelta(hours=1), limit=2)) == 2
    assert view.stale(before=T0 - timedelta(hours=2), limit=10) == []


def test_delete_removes_only_the_named_jobs_rows(view: StatusView) -> None:
    keep, gone = job_row(1), job_row(2)
    rows = [component(j.tally.job_id, 0, Status.IN_PROGRESS, T0) for j in (keep, gone)]
    view.commit(0, 2, [keep, gone], rows)
    view.delete([gone.tally.job_id, uuid4()])
    assert view.load(gone.tally.job_id, ["c0"]) == (None, [])
    assert view.load(keep.tally.job_id, ["c0"]) == (keep, [rows[0]])
    assert [r.job_id for r in view.stale(before=T0 + timedelta(1), limit=9)] == [keep.tally.job_id]
    assert view.position() == 2


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
    job = job_row(1, components=2)
    job_id = job.tally.job_id
    with pytest.raises(DataError, match="boom") as raised:
        view.commit(0, 1, [job], [component(job_id, 0), component(job_id, 1)])
    assert path in str(raised.value)
    assert view.position() == 0
    assert view.load(job_id, ["c0", "c1"]) == (None, [])


def test_other_view_objects_and_threads_see_each_others_commits(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    first, second = FileStatusView(path), FileStatusView(path)
    job = job_row(1)
    first.commit(0, 1, [job], [component(job.tally.job_id, 0)])
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
    view.commit(0, 1, [job_row(1, components=200)], [])
    damage(Path(path))
    with pytest.raises(DataError, match="deleting it is safe") as raised:
        FileStatusView(path).jobs(status=None, before=10, limit=10)
    assert path in str(raised.value)


def test_a_garbled_row_raises_data_error_naming_the_database(tmp_path: Path) -> None:
    path = view_path(str(tmp_path))
    view = FileStatusView(path)
    job = job_row(1)
    view.commit(0, 1, [job], [])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE jobs SET tally = '{\"job_id\": 3}'")
    with pytest.raises(DataError) as raised:
        view.load(job.tally.job_id, ())
    assert path in str(raised.value)


def test_a_hundred_thousand_components_are_paged_from_the_database(tmp_path: Path) -> None:
    view = FileStatusView(view_path(str(tmp_path)))
    size = 100_000
    job = job_row(1, components=size)
    job_id = job.tally.job_id
    view.commit(0, 1, [job], [component(job_id, n) for n in range(size)])
    seen, after = 0, -1
    while page := view.components(job_id, after=after, limit=7_000):
        assert [r.ordinal for r in page] == list(range(after + 1, after + 1 + len(page)))
        seen += len(page)
        after = page[-1].ordinal
    assert seen == size
    assert [r.ordinal for r in view.components(job_id, after=91_234, limit=2)] == [91_235, 91_236]
    wanted = [f"c{n}" for n in range(0, size, 83)]  # more names than one statement binds
    assert [r.ordinal for r in view.load(job_id, wanted)[1]] == list(range(0, size, 83))
    view.delete([uuid4() for _ in range(1_200)] + [job_id])
    assert view.components(job_id, after=-1, limit=1) == []


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
        feed = second.ledger.feed

        def counting_feed(**kwargs: Any) -> list[tuple[int, JobEvent]]:
            batch = feed(**kwargs)
            read.extend(p for p, _ in batch)
            return batch

        monkeypatch.setattr(second.ledger, "feed", counting_feed)
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
