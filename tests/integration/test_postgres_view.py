"""The PostgreSQL status view at the port: atomic commits, sharing between processes, paging
without loading a job whole, the same answers as the in-memory view, and the finish race."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from random import Random
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import DataError, IntegrityError

from jobledger.adapters.postgres import PostgresFactory
from jobledger.adapters.postgres.view import PostgresStatusView
from jobledger.application.local_view import LocalStatusView
from jobledger.application.ports import ComponentRow, JobRow, StatusView
from jobledger.domain.component import ComponentStatus
from jobledger.domain.projection import COMPONENT_STATUSES, Tally
from jobledger.domain.status import Status
from jobledger.testing.finish_race import finish_race

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def view(postgres_factory: PostgresFactory) -> StatusView:
    view = postgres_factory.status_view()
    assert isinstance(view, PostgresStatusView)
    return view


def job_row(
    job_id: UUID, position: int, status: Status = Status.PENDING, name: str = "job"
) -> JobRow:
    counts = dict.fromkeys(COMPONENT_STATUSES, 0) | {status: 1}
    tally = Tally(
        job_id=job_id,
        name=name,
        metadata={"key": f"{name}\0value"},
        allowed_failures=0,
        created_at=T0,
        updated_at=T0 + timedelta(microseconds=position),
        job_version=1,
        counts=counts,
        last_final_at=T0 if status.is_terminal else None,
        failure_times=(T0,) if status is Status.FAILED else (),
    )
    return JobRow(position, tally)


def component_row(
    job_id: UUID,
    ordinal: int,
    status: Status = Status.PENDING,
    at: datetime | None = None,
    name: str | None = None,
) -> ComponentRow:
    component = ComponentStatus(
        name=f"c{ordinal}" if name is None else name,
        status=status,
        message="msg\0",
        progress=0.25 if status is Status.IN_PROGRESS else None,
        version=0 if status is Status.PENDING else 1,
        updated_at=None if status is Status.PENDING else at or T0,
    )
    return ComponentRow(job_id, ordinal, component)


def test_commit_moves_the_position_and_rows_round_trip(view: StatusView) -> None:
    job = uuid4()
    rows = [component_row(job, n, status) for n, status in enumerate(COMPONENT_STATUSES)]
    view.commit(0, 7, [job_row(job, 3)], rows)
    assert view.position() == 7
    found, components = view.load(job, ["c4", "c0", "missing", "c2"])
    assert found == job_row(job, 3)
    assert components == [rows[4], rows[0], rows[2]]
    assert view.components(job, after=-1, limit=10) == rows
    updated = component_row(job, 1, Status.COMPLETED)
    view.commit(7, 7, [job_row(job, 3, Status.IN_PROGRESS)], [updated])  # a repair in place
    assert view.load(job, ["c1"]) == (job_row(job, 3, Status.IN_PROGRESS), [updated])


def test_a_commit_from_a_position_that_moved_conflicts_and_writes_nothing(
    view: StatusView,
) -> None:
    job, late = uuid4(), uuid4()
    view.commit(0, 5, [job_row(job, 1)], [component_row(job, 0)])
    with pytest.raises(IntegrityError, match="at position 5, not 0"):
        view.commit(0, 9, [job_row(late, 8)], [component_row(job, 0, Status.FAILED)])
    assert view.position() == 5
    assert view.load(late, ()) == (None, [])
    assert view.load(job, ["c0"])[1] == [component_row(job, 0)]


def test_a_commit_failing_midway_is_rolled_back_whole(view: StatusView) -> None:
    job = uuid4()
    out_of_range = component_row(job, 2**63)  # the server rejects it after the job upsert
    with pytest.raises(DataError):
        view.commit(0, 4, [job_row(job, 1)], [component_row(job, 0), out_of_range])
    assert view.position() == 0
    assert view.load(job, ["c0"]) == (None, [])
    view.commit(0, 4, [job_row(job, 1)], [component_row(job, 0)])
    assert view.position() == 4


def test_two_views_on_one_database_share_rows_and_position(
    view: StatusView, postgres_database: str
) -> None:
    other_factory = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
    try:
        other = other_factory.status_view()
        job = uuid4()
        assert other.position() == view.position() == 0
        other.commit(0, 2, [job_row(job, 1)], [component_row(job, 0)])
        assert view.position() == 2
        assert view.load(job, ["c0"]) == (job_row(job, 1), [component_row(job, 0)])
        with pytest.raises(IntegrityError):
            view.commit(0, 3, [], [])
        view.commit(2, 3, [job_row(job, 1, Status.COMPLETED)], [])
        assert other.load(job, ())[0] == job_row(job, 1, Status.COMPLETED)
    finally:
        other_factory.close()


_CHILD = """
import json, sys
from uuid import UUID
from jobledger.adapters.postgres import PostgresFactory
postgres_factory = PostgresFactory({PostgresFactory.POSTGRES_URL: sys.argv[1]})
view = postgres_factory.status_view()
position = view.position()
row, components = view.load(UUID(sys.argv[2]), ["a\\0"])
view.commit(position, position + 1, [], [])
print(json.dumps([position, row.tally.model_dump_json(), components[0].status.name]))
postgres_factory.close()
"""


def test_another_process_sees_the_commits_and_its_own_are_seen(
    view: StatusView, postgres_database: str
) -> None:
    job = uuid4()
    view.commit(0, 10, [job_row(job, 1, name="nul\0job")], [component_row(job, 0, name="a\0")])
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, postgres_database, str(job)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    position, tally, name = json.loads(child.stdout)
    assert (position, Tally.model_validate_json(tally), name) == (
        10,
        job_row(job, 1, name="nul\0job").tally,
        "a\0",
    )
    assert view.position() == 11


def test_opening_a_view_does_not_queue_behind_a_commit_in_flight(
    view: StatusView, postgres_factory: PostgresFactory, postgres_database: str
) -> None:
    with psycopg.connect(postgres_database) as committing:  # a transaction left open
        committing.execute("LOCK TABLE stored_view_components IN ROW EXCLUSIVE MODE")
        opener = threading.Thread(target=postgres_factory.status_view, daemon=True)
        opener.start()
        opener.join(timeout=5)
        alive = opener.is_alive()
        committing.rollback()
    assert not alive, "CREATE INDEX waited for the open transaction"


def test_a_100k_component_job_pages_by_keyset_in_declared_order(
    view: PostgresStatusView, postgres_database: str
) -> None:
    job, size = uuid4(), 100_000
    rows = [component_row(job, n) for n in range(size)]
    shuffled = rows.copy()
    Random(5).shuffle(shuffled)
    view.commit(0, 1, [job_row(job, 1)], shuffled)
    assert view.components(job, after=size - 3, limit=10) == rows[-2:]
    paged, after = [], -1
    while page := view.components(job, after=after, limit=7_000):
        paged.extend(page)
        after = page[-1].ordinal
    assert paged == rows
    query = view.datastore.sql("select_view_components", components="stored_view_components")
    with psycopg.connect(postgres_database) as conn:
        conn.execute("ANALYZE stored_view_components")
        params = {"job_id": job, "after": 50_000, "limit": 100}
        plan = str(conn.execute(b"EXPLAIN " + query, params).fetchall())
    assert "stored_view_components_ordinal_idx" in plan
    assert "Sort" not in plan  # read in index order, stopping after `limit` rows


def differential_rows(seed: int) -> tuple[list[JobRow], list[ComponentRow]]:
    """Jobs and components with ties everywhere the orderings must break them."""
    rng = Random(seed)
    job_ids = [UUID(int=rng.getrandbits(128)) for _ in range(12)]
    jobs = [
        job_row(job_id, 10 * n + 5, rng.choice(COMPONENT_STATUSES))
        for n, job_id in enumerate(job_ids)
    ]
    components = [
        component_row(
            job_id,
            ordinal,
            rng.choice(COMPONENT_STATUSES),
            T0 + timedelta(seconds=rng.randrange(4)),
            name=rng.choice([f"c{ordinal}", f"c{ordinal}\0", f"\0{ordinal}", f"ü{ordinal}"]),
        )
        for job_id in job_ids
        for ordinal in rng.sample(range(40), 15)
    ]
    return jobs, components


def test_queries_answer_as_the_in_memory_view_does(view: StatusView) -> None:
    local = LocalStatusView()
    jobs, components = differential_rows(seed=11)
    for target in (local, view):
        target.commit(0, 200, jobs, components)
        target.delete([jobs[0].tally.job_id, uuid4()])
    job_ids = [job.tally.job_id for job in jobs]
    for before in (0, 56, 200):
        for status in (None, *COMPONENT_STATUSES):
            for limit in (1, 3, 100):
                args = {"status": status, "before": before, "limit": limit}
                assert view.jobs(**args) == local.jobs(**args), args
    for seconds in (-1, 1, 2, 3, 5):
        for limit in (1, 7, 1_000):
            args = {"before": T0 + timedelta(seconds=seconds), "limit": limit}
            assert view.stale(**args) == local.stale(**args), args
    for job_id in job_ids:
        for after in (-1, 0, 17):
            assert view.components(job_id, after=after, limit=5) == local.components(
                job_id, after=after, limit=5
            )
        names = [row.status.name for row in components if row.job_id == job_id][::-2]
        assert view.load(job_id, [*names, "c1\0\0"]) == local.load(job_id, [*names, "c1\0\0"])
    assert view.position() == local.position() == 200


def test_delete_removes_both_kinds_of_rows_of_those_jobs_only(view: StatusView) -> None:
    gone, kept = uuid4(), uuid4()
    rows = [component_row(job, 0, Status.IN_PROGRESS) for job in (gone, kept)]
    view.commit(0, 5, [job_row(gone, 1), job_row(kept, 2)], rows)
    view.delete([gone, uuid4()])
    view.delete([])
    assert view.load(gone, ["c0"]) == (None, [])
    assert view.components(gone, after=-1, limit=10) == []
    assert view.stale(before=T0 + timedelta(days=1), limit=10) == [rows[1]]
    assert view.jobs(status=None, before=10, limit=10) == [job_row(kept, 2)]
    assert view.position() == 5


def test_nul_names_round_trip_and_stay_distinct(view: StatusView) -> None:
    job = uuid4()
    names = ["a", "a\0", "\0a", "a\0b", "\0", "ü\0ü"]
    rows = [component_row(job, n, name=name) for n, name in enumerate(names)]
    view.commit(0, 1, [job_row(job, 1, name="job\0")], rows)
    assert view.components(job, after=-1, limit=10) == rows
    assert view.load(job, ["a\0b", "\0", "b"]) == (
        job_row(job, 1, name="job\0"),
        [rows[3], rows[4]],
    )


@pytest.mark.slow
def test_one_finish_record_per_job_on_the_postgres_store(postgres_database: str) -> None:
    assert finish_race(postgres_database, processes=16, rounds=50) == [1] * 50
