"""The memory store passes the recorder test cases eventsourcing ships for third-party stores."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from jobledger.adapters.memory import (
    MemoryAggregateRecorder,
    MemoryApplicationRecorder,
    MemoryFactory,
    MemoryProcessRecorder,
    MemoryTrackingRecorder,
)
from jobledger.testing import RecorderContract


class TestMemoryAggregateRecorder(AggregateRecorderTestCase):
    def create_recorder(self) -> MemoryAggregateRecorder:
        return MemoryAggregateRecorder()


class TestMemoryApplicationRecorder(
    RecorderContract, ApplicationRecorderTestCase[MemoryApplicationRecorder]
):
    def create_recorder(self) -> MemoryApplicationRecorder:
        return MemoryApplicationRecorder()


class TestMemoryTrackingRecorder(TrackingRecorderTestCase):
    def create_recorder(self) -> MemoryTrackingRecorder:
        return MemoryTrackingRecorder()


class TestMemoryProcessRecorder(ProcessRecorderTestCase):
    def create_recorder(self) -> MemoryProcessRecorder:
        return MemoryProcessRecorder()


class TestMemoryNonInterleaving(NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> MemoryApplicationRecorder:
        return MemoryApplicationRecorder()


class CustomTrackingRecorder(MemoryTrackingRecorder):
    pass


class TestMemoryFactory(InfrastructureFactoryTestCase[MemoryFactory]):
    def expected_factory_class(self) -> type[MemoryFactory]:
        return MemoryFactory

    def expected_aggregate_recorder_class(self) -> type[MemoryAggregateRecorder]:
        return MemoryAggregateRecorder

    def expected_application_recorder_class(self) -> type[MemoryApplicationRecorder]:
        return MemoryApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[MemoryTrackingRecorder]:
        return MemoryTrackingRecorder

    def tracking_recorder_subclass(self) -> type[MemoryTrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[MemoryProcessRecorder]:
        return MemoryProcessRecorder

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "jobledger.adapters.memory"
        super().setUp()


del AggregateRecorderTestCase, ApplicationRecorderTestCase, TrackingRecorderTestCase
del ProcessRecorderTestCase, NonInterleavingNotificationIDsBaseCase, InfrastructureFactoryTestCase
