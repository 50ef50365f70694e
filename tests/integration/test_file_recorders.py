"""The file store against the recorder test cases eventsourcing ships for third-party stores."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    StoredEvent,
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
from jobledger.adapters.file.store import FileStore
from jobledger.testing import RecorderContract


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


class TestFileApplicationRecorder(
    FreshStore, RecorderContract, ApplicationRecorderTestCase[FileApplicationRecorder]
):
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


def test_select_streams_is_a_prefix_of_the_feed_while_others_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = FileApplicationRecorder(FileStore(str(tmp_path)))
    a, b = uuid4(), uuid4()

    def insert(stream: UUID, version: int) -> None:
        recorder.insert_events([StoredEvent(stream, version, "t", b"{}")])

    insert(a, 1)
    insert(b, 1)
    read = recorder.store.events

    def read_then_others_commit(stream: UUID, *args: object) -> list[tuple[int, StoredEvent]]:
        found = read(stream, *args)  # type: ignore[arg-type]
        if stream == a:  # Between reading a and reading b: a2, then b2.
            insert(a, 2)
            insert(b, 2)
        return found

    monkeypatch.setattr(recorder.store, "events", read_then_others_commit)
    during = recorder.select_streams([a, b])
    monkeypatch.undo()
    after = recorder.select_streams([a, b, a])
    assert [(n.originator_id, n.originator_version) for n in during] == [(a, 1), (b, 1)]
    assert [(n.originator_id, n.originator_version) for n in after] == [
        (a, 1),
        (b, 1),
        (a, 2),
        (b, 2),
    ]
    assert [n.id for n in after] == [n.id for n in recorder.select_notifications(1, 10)]
