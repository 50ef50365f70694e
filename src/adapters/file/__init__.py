"""File store: an eventsourcing persistence module keeping events in a directory.

Select it with `PERSISTENCE_MODULE=jobledger.adapters.file` and `JOBLEDGER_FILE_DIR=/abs/dir`
(or `Tracker.open("file:///abs/dir")`). Many processes, on one host or on hosts sharing the
directory over NFSv4, may use one store at once; see docs/adapters.md for the guarantees.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    InfrastructureFactoryError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType, strtobool

from ...application.ledger import Ledger
from ...application.local_view import LocalStatusView
from ...application.ports import (
    CheckableRecorder,
    DamagedRecord,
    MultiStreamRecorder,
    PrunableRecorder,
    StatusView,
)
from ..shared import Lifetime, LocalSubscription, Wakeups, first_position, recorder_class
from .check import damaged, quarantine
from .prune import delete_streams, recover
from .store import FileStore
from .url import DIRECTORY
from .url import environment_for as environment_for
from .view import FileStatusView, view_path

POLL_INTERVAL = 0.05
"""Seconds between looks for events other processes recorded."""


class FileAggregateRecorder(AggregateRecorder):
    """Stored events in a file store; each insert is atomic, durable and version-checked."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.store.lifetime.check()
        self.store.commit(stored_events, None)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        self.store.lifetime.check()
        return [event for _, event in self.store.events(originator_id, gt, lte, desc, limit)]


class FileApplicationRecorder(
    FileAggregateRecorder,
    ApplicationRecorder,
    PrunableRecorder,
    MultiStreamRecorder,
    CheckableRecorder,
):
    """Adds the notification feed: one gap-free global order over every stream."""

    records_tracking = False

    def __init__(self, store: FileStore) -> None:
        super().__init__(store)
        self._wakeups = Wakeups()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.store.lifetime.check()
        tracking = kwargs.get("tracking") if self.records_tracking else None
        positions = self.store.commit(stored_events, tracking)
        self._wakeups.wake_all()
        return positions

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        self.store.lifetime.check()
        first = first_position(start, inclusive_of_start)
        return self.store.feed.notifications(first, limit, stop, topics)

    def select_streams(self, originator_ids: Sequence[UUID]) -> Sequence[Notification]:
        self.store.lifetime.check()
        # Streams are read one after another, lock-free: keep only what had committed when
        # the read began, so that the result is the same as reading the feed up to there.
        end = self.store.feed.next_position()
        found = {p: e for i in originator_ids for p, e in self.store.events(i) if p < end}
        return [Notification(id=p, **vars(found[p])) for p in sorted(found)]

    def max_notification_id(self) -> int | None:
        """The highest position assigned so far (it may belong to a deleted event)."""
        self.store.lifetime.check()
        return self.store.feed.next_position() - 1 or None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        self.store.lifetime.check()
        return LocalSubscription(self, self._wakeups, gt=gt, topics=topics, poll=POLL_INTERVAL)

    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        self.store.lifetime.check()
        delete_streams(self.store, originator_ids)

    def damaged(self) -> list[DamagedRecord]:
        self.store.lifetime.check()
        return damaged(self.store)

    def quarantine(self, records: Sequence[DamagedRecord]) -> None:
        self.store.lifetime.check()
        quarantine(self.store, records)


class FileTrackingRecorder(TrackingRecorder):
    """Tracking records (how far each upstream application has been processed) in files."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def insert_tracking(self, tracking: Tracking) -> None:
        self.store.lifetime.check()
        self.store.commit((), tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        self.store.lifetime.check()
        return self.store.max_tracking_id(application_name)


class FileProcessRecorder(FileApplicationRecorder, FileTrackingRecorder, ProcessRecorder):
    """Events and the tracking record of the notification that caused them, atomically."""

    records_tracking = True


class FileFactory(InfrastructureFactory[FileTrackingRecorder]):
    """Builds file recorders on the directory named by `JOBLEDGER_FILE_DIR`.

    Events and tracking records live in `<dir>/events`, snapshots in `<dir>/snapshots` (for
    an eventsourcing application other than the Tracker's, in `<dir>/apps/<name>/`); each
    is created on first use, unless `CREATE_TABLE=no`: then a missing store is refused and
    opening an existing one leaves `<dir>/events` untouched (the first query may still make
    this host's view in `<dir>/views`, where it can be written; a read-only store is read
    with a view in this process). Once the
    factory is closed, everything it built refuses use.
    """

    DIRECTORY = DIRECTORY
    CREATE_TABLE = "CREATE_TABLE"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self._stores: dict[str, FileStore] = {}
        self._lifetime = Lifetime(f"the file store {self.env.get(self.DIRECTORY) or ''}".strip())
        self._local_view: LocalStatusView | None = None  # for a read-only store

    def store(self, purpose: str = "events") -> FileStore:
        """The (shared, recovered) store for `purpose`: "events" or "snapshots"."""
        directory = self.env.get(self.DIRECTORY)
        if not directory:
            raise InfrastructureFactoryError(
                f"the file store needs {self.DIRECTORY}: the directory to keep events in"
            )
        path = os.path.join(self._root(directory), _safe(purpose))
        self._lifetime.check()
        if path not in self._stores:
            create = strtobool(self.env.get(self.CREATE_TABLE) or "yes")
            home = os.path.abspath(directory)
            store = FileStore(path, self._lifetime, create=create, home=home)
            if create or store.unfinished():
                recover(store)
            self._stores[path] = store
        return self._stores[path]

    def _root(self, directory: str) -> str:
        """Where this application's stores live: the Tracker's (or an unnamed application's)
        in `directory`, any other eventsourcing application's in `directory/apps/<name>`, so
        that applications sharing a directory never share a feed."""
        application = self.env.name
        if application in ("", Ledger.name):
            return os.path.abspath(directory)
        return os.path.join(os.path.abspath(directory), "apps", _safe(application))

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return FileAggregateRecorder(self.store(purpose))

    def application_recorder(self) -> ApplicationRecorder:
        return FileApplicationRecorder(self.store())

    def tracking_recorder(
        self, tracking_recorder_class: type[FileTrackingRecorder] | None = None
    ) -> FileTrackingRecorder:
        key = self.TRACKING_RECORDER_TOPIC
        chosen = recorder_class(self.env, key, FileTrackingRecorder, tracking_recorder_class)
        return chosen(self.store())

    def process_recorder(self) -> ProcessRecorder:
        return FileProcessRecorder(self.store())

    def status_view(self) -> StatusView:
        """This host's persistent status view, in `<dir>/views/<host>.sqlite3`; in this process
        if that cannot be written (a read-only directory or mount)."""
        path = view_path(os.path.dirname(self.store().root))
        if not _writable(path):
            if self._local_view is None:
                self._local_view = LocalStatusView(f"the status view of {self.store().root}")
            return self._local_view
        return FileStatusView(path, self._lifetime)

    def close(self) -> None:
        """Make every recorder and view built here refuse use."""
        self._lifetime.close()
        if self._local_view is not None:
            self._local_view.close()


def _safe(name: str) -> str:
    """`name` as one path component: itself if a plain identifier, else its UTF-8 in hex."""
    return name if name.isidentifier() and name.isascii() else name.encode().hex()


def _writable(path: str) -> bool:
    """Whether `path`, or the nearest directory that exists on the way to it, is writable."""
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return os.access(path, os.W_OK)
