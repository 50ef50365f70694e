"""Setting up a PostgreSQL store: tables made ahead for a role without CREATE, a missing store
refused by read commands, and the connection pool's log records kept under `jobledger`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from jobledger import ConfigurationError, StoreError, Tracker
from jobledger.adapters.postgres import PostgresFactory
from jobledger.entrypoints.cli import main

PASSWORD = "Pw-zz9-limited"


@pytest.fixture
def limited_url(postgres_database: str) -> Iterator[str]:
    """The database as a role that may use the schema but not create in it."""
    role = f"limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    yield postgres_database.replace("postgresql://postgres@", f"postgresql://{role}:{PASSWORD}@")
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")


def test_a_role_without_create_is_told_the_privilege_and_the_way_out(
    postgres_database: str, limited_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreError) as refused:
        Tracker.open(limited_url)
    message = str(refused.value)
    assert "CREATE privilege" in message
    assert "jobledger init" in message
    assert PASSWORD not in message
    assert main(["--store", postgres_database, "init"]) == 0
    assert "store ready" in capsys.readouterr().out
    role = limited_url.split("//")[1].partition(":")[0]
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    with Tracker.open(limited_url) as tracker:
        job = tracker.create_job(["a"])
        tracker.report(job, "a", "completed")
        assert tracker.summary(job).overall == "completed"
        assert tracker.run_hooks(once=True) == 0


def test_read_commands_do_not_create_tables(postgres_database: str) -> None:
    with pytest.raises(ConfigurationError, match=r"no jobledger tables .*`jobledger init`"):
        Tracker.open(postgres_database, create=False)
    with psycopg.connect(postgres_database) as conn:
        row = conn.execute("SELECT to_regclass('jobledger_events')").fetchone()
        assert row == (None,)
    assert main(["--store", postgres_database, "list"]) == 4


def test_pool_warnings_go_to_the_jobledger_logger(
    postgres_factory: PostgresFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    postgres_factory.application_recorder()
    with postgres_factory.datastore.connection() as conn:
        conn.close()  # The pool discards it, with a warning.
    discarded = [r for r in caplog.records if "discarding closed connection" in r.getMessage()]
    assert discarded
    assert {r.name for r in discarded} == {"jobledger.postgres"}
