"""Shared test settings: Hypothesis profiles (fast default, deterministic `ci`, long `deep`)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("deep", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# --- PostgreSQL test server (owned by the PostgreSQL store work) -----------------------
# The session server is JOBLEDGER_TEST_POSTGRES_URL if set, else a throwaway cluster started
# from the installed server binaries; each test asking for `postgres_database` gets a fresh
# database on it, dropped afterwards.

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from jobledger.adapters.postgres import PostgresFactory


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole session (skips, or fails under CI=true)."""
    from jobledger.testing.postgres_server import ServerBinariesNotFound, throwaway_postgres

    if url := os.environ.get("JOBLEDGER_TEST_POSTGRES_URL"):
        yield url
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_postgres())
        except ServerBinariesNotFound as error:
            reason = (
                f"PostgreSQL tests NOT RUN: {error}. Install the PostgreSQL server "
                "or set JOBLEDGER_TEST_POSTGRES_URL."
            )
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        yield url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database on the session server, dropped after the test."""
    import psycopg

    from jobledger.testing.postgres_server import database_url

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield database_url(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_factory(postgres_database: str) -> Iterator[PostgresFactory]:
    """The PostgreSQL store's infrastructure factory on a fresh database."""
    from jobledger.adapters.postgres import PostgresFactory

    factory = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
    yield factory
    factory.close()


# --- Redis test server (owned by the queue integrations) -------------------------------


@pytest.fixture(scope="session")
def redis_socket() -> Iterator[str]:
    """Unix socket path of a throwaway Redis server for the session (skips, or fails under
    CI=true, without `redis-server`)."""
    from jobledger.testing.redis_server import RedisNotFound, throwaway_redis

    with ExitStack() as stack:
        try:
            path = stack.enter_context(throwaway_redis())
        except RedisNotFound as error:
            reason = f"Redis tests NOT RUN: {error}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        yield str(path)
