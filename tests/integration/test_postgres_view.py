"""The PostgreSQL status view: the shared view contract, atomic commits, sharing between
processes, paging by index without loading a job whole, and the finish race."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import DataError, IntegrityError, OperationalError

from jobledger.adapters.postgres import PostgresFactory
from jobledger.adapters.postgres.view import PostgresStatusView
from jobledger.application.ports import ComponentRow, StatusView
from jobledger.domain.projection import Tally
from jobledger.domain.status import Status
from jobledger.testing import StatusViewContract
from jobledger.testing.finish_race import finish_race
from jobledger.testing.views import component_row, job_row


class TestPostgresStatusView(StatusViewContract):
    @pytest.fixture(autouse=True)
    def _factory(self, postgres_factory: PostgresFactory) -> None:
        self.factory = postgres_factory

    def create_view(self) -> StatusView:
        return self.factory.status_view()


@pytest.fixture
def view(postgres_factory: PostgresFactory) -> PostgresStatusView:
    view = postgres_factory.status_view()
    assert isinstance(view, PostgresStatusView)
    return view


def test_a_conflict_names_both_positions(view: StatusView) -> None:
    view.commit(0, 5, [], [])
    with pytest.raises(IntegrityError, match="at position 5, not 0"):
        view.commit(0, 9, [], [])


def test_a_commit_failing_midway_is_rolled_back_whole(view: StatusView) -> None:
    job = uuid4()
    out_of_range = component_row(job, 2**63)  # the server rejects it after the job upsert
    with pytest.raises(DataError):
        view.commit(0, 4, [job_row(job, 1)], [component_row(job, 0), out_of_range])
    assert view.position() == 0
    assert view.load(job, ["c0"]) == (None, [])
    view.commit(0, 4, [job_row(job, 1)], [component_row(job, 0)])
    assert view.position() == 4


@pytest.fixture
def other(postgres_database: str) -> Iterator[StatusView]:
    """The view as another process has it: a second factory on the same database."""
    factory = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
    yield factory.status_view()
    factory.close()


def test_two_views_on_one_database_share_rows_and_position(
    view: StatusView, other: StatusView
) -> None:
    job = uuid4()
    assert other.position() == view.position() == 0
    other.commit(0, 2, [job_row(job, 1)], [component_row(job, 0)])
    assert view.position() == 2
    assert view.load(job, ["c0"]) == (job_row(job, 1), [component_row(job, 0)])
    with pytest.raises(IntegrityError):
        view.commit(0, 3, [], [])
    view.commit(2, 3, [job_row(job, 1, Status.COMPLETED)], [])
    assert other.load(job, ())[0] == job_row(job, 1, Status.COMPLETED)


def test_an_updater_holds_the_view_across_commits_each_seen_at_once(
    view: StatusView, other: StatusView
) -> None:
    with view.advancing() as mine:
        assert mine
        for position in (1, 2):
            view.commit(position - 1, position, [], [])
            assert other.position() == position  # committed, though the lock is held
            with other.advancing() as theirs:
                assert not theirs
    with other.advancing() as theirs:
        assert theirs


def test_an_updater_whose_session_ended_commits_nothing(
    view: StatusView, postgres_database: str
) -> None:
    with view.advancing() as mine, psycopg.connect(postgres_database, autocommit=True) as admin:
        assert mine
        view.commit(0, 1, [], [])
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with pytest.raises(OperationalError, match=r"server closed|terminat|lost its lock"):
            view.commit(1, 2, [], [])
    assert view.position() == 1
    with view.advancing() as mine:  # the kept connection is opened again
        assert mine


def test_an_updater_outlives_a_short_idle_in_transaction_timeout(postgres_database: str) -> None:
    timeout = "options=-c%20idle_in_transaction_session_timeout%3D100"
    factory = PostgresFactory({PostgresFactory.POSTGRES_URL: _with(postgres_database, timeout)})
    try:
        view = factory.status_view()
        with view.advancing() as mine:
            assert mine
            view.commit(0, 1, [], [])
            time.sleep(0.5)
            view.commit(1, 2, [], [])
        assert view.position() == 2
    finally:
        factory.close()


def test_copying_the_rows_of_a_job_that_has_them_is_refused(view: StatusView) -> None:
    job = uuid4()
    view.commit(0, 1, [job_row(job, 1)], [component_row(job, 0)])
    with pytest.raises(DataError, match="exist before their job"):  # never a conflict to retry
        view.commit(1, 2, [job_row(job, 2)], [component_row(job, 0, Status.COMPLETED)])
    assert view.position() == 1
    assert view.load(job, ["c0"])[1] == [component_row(job, 0)]


def test_a_row_that_cannot_be_copied_is_named(view: StatusView) -> None:
    job, row = uuid4(), component_row(uuid4(), 0, name="naïve")
    naive = row.status.model_copy(update={"updated_at": datetime(2026, 1, 1)})
    with pytest.raises(DataError, match=f"component 'naïve' of job {job}"):
        view.commit(0, 1, [job_row(job, 1)], [ComponentRow(job, 0, naive)])
    assert view.position() == 0


def _with(url: str, parameter: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{parameter}"


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


def test_a_100k_component_job_is_paged_by_keyset_without_sorting(
    view: PostgresStatusView, postgres_database: str
) -> None:
    job = uuid4()
    view.commit(0, 1, [job_row(job, 1)], [component_row(job, n) for n in range(100_000)])
    query = view.datastore.sql("select_view_components", components="stored_view_components")
    with psycopg.connect(postgres_database) as conn:
        conn.execute("ANALYZE stored_view_components")
        params = {"job_id": job, "after": 50_000, "limit": 100}
        plan = str(conn.execute(b"EXPLAIN " + query, params).fetchall())
    assert "stored_view_components_ordinal_idx" in plan
    assert "Sort" not in plan  # read in index order, stopping after `limit` rows


@pytest.mark.slow
def test_one_finish_record_per_job_on_the_postgres_store(postgres_database: str) -> None:
    assert finish_race(postgres_database, processes=16, rounds=50) == [1] * 50
