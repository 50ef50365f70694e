"""The file store against the recorder test cases eventsourcing ships for third-party stores."""

from __future__ import annotations

import shutil
import tempfile

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

from jobledger.adapters.file import (
    FileAggregateRecorder,
    FileApplicationRecorder,
    FileFactory,
    FileProcessRecorder,
    FileTrackingRecorder,
)
from jobledger.adapters.file_store import FileStore


class FreshStore:
    """Gives each test a new store in its own temporary directory, removed afterwards."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="jobledger-file-")
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        shutil.rmtree(self.directory, ignore_errors=True)

    def store(self) -> FileStore:
        return FileStore(self.directory)


class TestFileAggregateRecorder(FreshStore, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return FileAggregateRecorder(self.store())


class TestFileApplicationRecorder(FreshStore, ApplicationRecorderTestCase[FileApplicationRecorder]):
    def create_recorder(self) -> FileApplicationRecorder:
        return FileApplicationRecorder(self.store())

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestFileTrackingRecorder(FreshStore, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return FileTrackingRecorder(self.store())


class TestFileProcessRecorder(FreshStore, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return FileProcessRecorder(self.store())


class TestFileNonInterleavingNotificationIDs(FreshStore, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return FileApplicationRecorder(self.store())


class TestFileInfrastructureFactory(FreshStore, InfrastructureFactoryTestCase[FileFactory]):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="jobledger-file-")
        self.env = Environment(
            "TestCase",
            {"PERSISTENCE_MODULE": "jobledger.adapters.file", "JOBLEDGER_FILE_DIR": self.directory},
        )
        super(FreshStore, self).setUp()  # the directory must exist before the factory

    def expected_factory_class(self) -> type[FileFactory]:
        return FileFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return FileAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return FileApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return FileTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return FileProcessRecorder


class _CustomTrackingRecorder(FileTrackingRecorder):
    pass


del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del TrackingRecorderTestCase
del ProcessRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del InfrastructureFactoryTestCase
