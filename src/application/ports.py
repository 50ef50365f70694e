"""Ports the application layer needs from stores and from its surroundings.

Stores are eventsourcing persistence modules: their recorders implement eventsourcing's
recorder ABCs (the event port, growing by capability), and the application recorder also
implements `PrunableRecorder` so that finished jobs can be deleted and `MultiStreamRecorder`
so that a job's history is read without scanning the feed; a store whose records can be torn
(the file store) implements `CheckableRecorder`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification

from ..domain.component import ComponentStatus
from ..domain.projection import Tally
from ..domain.status import Status


class PrunableRecorder(ABC):
    """Capability of an application recorder to delete whole event streams."""

    @abstractmethod
    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        """Delete every event of the given streams, all of them or none.

        Ids with no events are ignored. The feed positions (notification ids) of the
        remaining events never change, and deleted positions are never reused.
        """


class MultiStreamRecorder(ABC):
    """Capability of an application recorder to read several whole streams in feed order."""

    @abstractmethod
    def select_streams(self, originator_ids: Sequence[UUID]) -> Sequence[Notification]:
        """Every event of these streams, in feed order, with its position, once each; ids
        with no events are ignored. Reads only these streams, however large the feed."""


FeedRow = tuple[int, UUID | str, int, str, bytes]
"""One record of the feed as a recorder reads it: its position, stream id, stream version,
topic and stored state (what eventsourcing's `Notification` holds, without building one)."""


class FeedRowsRecorder(ABC):
    """Capability of an application recorder to read the feed as plain rows: the status
    view's hot path, where building a `Notification` per event costs as much as parsing it."""

    @abstractmethod
    def select_feed_rows(
        self, *, after: int, limit: int, topics: Sequence[str], until: int | None
    ) -> Sequence[FeedRow]:
        """What `select_notifications(after, limit, until, topics, inclusive_of_start=False)`
        returns, as rows."""


@dataclass(frozen=True)
class DamagedRecord:
    """A stored record that cannot be read: where it is, the feed positions it took
    (`span` of them from `position`), why it cannot be read, and the stream versions the
    store's index says it holds, as (stream id, first version, last version)."""

    location: str
    position: int
    span: int
    reason: str
    streams: tuple[tuple[UUID | str, int, int], ...]


class CheckableRecorder(ABC):
    """Capability of an application recorder to find the records it cannot read and to set
    them aside, so that one damaged record does not make every other one unreadable."""

    @abstractmethod
    def damaged(self) -> list[DamagedRecord]:
        """Every record of the feed that cannot be read, in feed order (reads them all)."""

    @abstractmethod
    def quarantine(self, records: Sequence[DamagedRecord]) -> None:
        """Move these records aside, keeping their bytes (never deleting them), so that the
        feed and the streams read past them: their events are gone and their positions stay
        taken. Records that read well by now are left alone."""


@dataclass(frozen=True)
class JobRow:
    """A job in the status view: its tally, and the feed position of its creation (the
    listing order)."""

    position: int
    tally: Tally


@dataclass(frozen=True)
class ComponentRow:
    """A component in the status view: its place in the job's declared order and status."""

    job_id: UUID
    ordinal: int
    status: ComponentStatus


class StatusView(ABC):
    """A store's maintained read model of job statuses and the feed position it reflects.

    Only the view updater writes it, through `commit`; every row is computed by the domain's
    fold, so a view stores and indexes rows and decides nothing. A view shared by processes
    lets one updater at a time advance it (`advancing`, `await_updater`).
    """

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        """Try for the right to advance the view: yield True if, until the block ends, no
        other updater (thread or process) can commit; False if another one holds it now.
        The updater commits on the thread that entered the block (a view may hold the right
        per thread); a view that keeps others out makes `commit` and `delete` outside such
        a block wait for it to end (else a run could write back rows deleted meanwhile). By
        default True and nobody is kept out: `commit`'s position check alone keeps each
        event applied once (a loser's work is thrown away)."""
        yield True

    def await_updater(self) -> None:
        """Block until the updater advancing the view now lets go (at once if none)."""
        return

    def watch(self, callback: Callable[[], None]) -> bool:
        """Call `callback` (from another thread) whenever a batch is committed to the view,
        by any process, until the store is closed; return False if this view cannot tell
        (callers then poll). By default it cannot."""
        return False

    @abstractmethod
    def position(self) -> int:
        """The feed position of the last event applied (0 before any)."""

    @abstractmethod
    def load(
        self, job_id: UUID, components: Collection[str]
    ) -> tuple[JobRow | None, list[ComponentRow]]:
        """The job's row (None if unknown) and the rows of those named components it has."""

    @abstractmethod
    def snapshot(self, job_id: UUID) -> tuple[JobRow | None, list[ComponentRow]]:
        """The job's row (None if unknown) and all its component rows in declared order, as
        of one moment: never half of a commit."""

    @abstractmethod
    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        """Upsert the rows and move the position from `since` to `until`, all or nothing.
        The caller passes at most one row per job and one per component (a view may reject
        a batch with two).

        Raises eventsourcing's `IntegrityError` if the position is no longer `since`.
        """

    @abstractmethod
    def components(self, job_id: UUID, *, after: int, limit: int) -> list[ComponentRow]:
        """Up to `limit` component rows of a job with ordinal above `after`, in order."""

    @abstractmethod
    def jobs(self, *, status: Status | None, before: int, limit: int) -> list[JobRow]:
        """Up to `limit` job rows created at feed positions below `before`, newest first,
        only those whose overall status is `status` if given."""

    @abstractmethod
    def stale(self, *, before: datetime, limit: int) -> list[ComponentRow]:
        """Up to `limit` in-progress or retrying components last updated before `before`,
        oldest first, ties in order of job id (as text) and declared order."""

    @abstractmethod
    def delete(self, job_ids: Sequence[UUID]) -> int:
        """Remove the rows of these jobs; return how many of them had a job row. Of two
        calls racing to delete one job, only one counts it."""


@runtime_checkable
class ProvidesStatusView(Protocol):
    """An infrastructure factory whose store keeps a status view of its own."""

    def status_view(self) -> StatusView:
        """The store's status view."""
        ...


class Clock(Protocol):
    """Source of event timestamps; tests pass a frozen one."""

    def __call__(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...
