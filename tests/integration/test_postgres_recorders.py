"""The PostgreSQL store against the recorder test cases that eventsourcing ships for stores."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from jobledger.adapters.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from jobledger.testing import RecorderContract
from jobledger.testing.recorders import FeedRowsRecorderCase


class FreshDatabase:
    """Gives each test a new database (the `postgres_database` fixture) and a factory on it."""

    database_url: str

    @pytest.fixture(autouse=True)
    def _fresh_database(self, postgres_database: str) -> None:
        self.database_url = postgres_database
        self.env = Environment(
            env={
                "PERSISTENCE_MODULE": "jobledger.adapters.postgres",
                PostgresFactory.POSTGRES_URL: postgres_database,
            }
        )

    def factory(self) -> PostgresFactory:
        factory = PostgresFactory(self.env)
        self.addCleanup(factory.close)  # type: ignore[attr-defined]
        return factory


class TestPostgresAggregateRecorder(FreshDatabase, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory().aggregate_recorder()


class TestPostgresApplicationRecorder(
    FreshDatabase,
    RecorderContract,
    FeedRowsRecorderCase,
    ApplicationRecorderTestCase[ApplicationRecorder],
):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestPostgresTrackingRecorder(FreshDatabase, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory().tracking_recorder()


class TestPostgresProcessRecorder(FreshDatabase, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory().process_recorder()


class TestPostgresNonInterleavingNotificationIDs(
    FreshDatabase, NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()


class CustomTrackingRecorder(PostgresTrackingRecorder):
    """A subclass, to check the factory builds the class it is given."""


class TestPostgresInfrastructureFactory(
    FreshDatabase, InfrastructureFactoryTestCase[PostgresFactory]
):
    def expected_factory_class(self) -> type[PostgresFactory]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del TrackingRecorderTestCase
del ProcessRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del InfrastructureFactoryTestCase
