"""The eventsourcing application underneath the Tracker, and the one place store errors are
translated into jobledger's."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import EventSourcingError
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    InfrastructureFactoryError,
    IntegrityError,
    Notification,
)
from eventsourcing.utils import TopicError, get_topic

from ..domain.errors import ConfigurationError, StoreError
from ..domain.events import Event, JobEvent, StatusReported, component_stream_id
from ..domain.job import Job
from ..domain.status import Status
from .local_view import LocalStatusView
from .mapper import REPORT_TOPIC, PydanticMapper, StoredReport
from .ports import (
    ComponentRow,
    FeedRow,
    FeedRowsRecorder,
    JobRow,
    MultiStreamRecorder,
    ProvidesStatusView,
    PrunableRecorder,
    StatusView,
)


class Background(Protocol):
    """Work using the store from a thread of its own, stopped before the store closes."""

    def stop(self) -> None:
        """Stop, and return once the thread no longer uses the store."""


class StreamConflict(StoreError):
    """Another writer appended the same version of a stream first; reload and decide again."""


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate eventsourcing and OS errors raised by a store into `StoreError`."""
    try:
        yield
    except IntegrityError as error:
        raise StreamConflict(str(error)) from error
    except InfrastructureFactoryError as error:
        raise ConfigurationError(str(error)) from error
    except ConnectionPoolClosedError as error:  # eventsourcing's datastores, once closed
        raise StoreError("the store is closed") from error
    except (EventSourcingError, OSError) as error:
        raise StoreError(f"{type(error).__name__}: {error}") from error
    except TopicError as error:  # an event class this process cannot import
        raise StoreError(f"cannot read an event: {error}") from error


class GuardedView(StatusView):
    """A status view whose every call translates store errors as `store_errors()` does, so
    that callers see `StoreError` (and `StreamConflict` from `commit`) whatever the store."""

    def __init__(self, view: StatusView) -> None:
        self.inner = view

    def position(self) -> int:
        with store_errors():
            return self.inner.position()

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        with store_errors(), self.inner.advancing() as mine:
            yield mine

    def await_updater(self) -> None:
        with store_errors():
            self.inner.await_updater()

    def watch(self, callback: Callable[[], None]) -> bool:
        with store_errors():
            return self.inner.watch(callback)

    def load(
        self, job_id: UUID, components: Collection[str]
    ) -> tuple[JobRow | None, list[ComponentRow]]:
        with store_errors():
            return self.inner.load(job_id, components)

    def snapshot(self, job_id: UUID) -> tuple[JobRow | None, list[ComponentRow]]:
        with store_errors():
            return self.inner.snapshot(job_id)

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        with store_errors():
            self.inner.commit(since, until, jobs, components)

    def components(self, job_id: UUID, *, after: int, limit: int) -> list[ComponentRow]:
        with store_errors():
            return self.inner.components(job_id, after=after, limit=limit)

    def jobs(self, *, status: Status | None, before: int, limit: int) -> list[JobRow]:
        with store_errors():
            return self.inner.jobs(status=status, before=before, limit=limit)

    def stale(self, *, before: datetime, limit: int) -> list[ComponentRow]:
        with store_errors():
            return self.inner.stale(before=before, limit=limit)

    def delete(self, job_ids: Sequence[UUID]) -> int:
        with store_errors():
            return self.inner.delete(job_ids)


def guarded(view: StatusView) -> StatusView:
    """`view` with its errors translated (itself if it already is)."""
    return view if isinstance(view, GuardedView) else GuardedView(view)


class Ledger(Application[UUID]):
    """Appends jobledger events to a store's streams and reads them back, in stream or in
    feed order. The store is the eventsourcing persistence module named by the environment."""

    name = "Jobledger"

    def __init__(self, env: Mapping[str, str]) -> None:
        self._local_view: LocalStatusView | None = None
        self._background: weakref.WeakSet[Background] = weakref.WeakSet()
        with store_errors():
            super().__init__({**env, "MAPPER_TOPIC": get_topic(PydanticMapper)})

    def close(self) -> None:
        """Stop the background work using the store (every Tracker's view keeper), then
        close the store, and the view this process keeps for it."""
        for work in list(self._background):
            work.stop()
        if self._local_view is not None:
            self._local_view.close()
        super().close()

    def runs_in_background(self, work: Background) -> None:
        """Have `close()` stop `work` before the store closes (it may be mid-read); stop it
        at once if the ledger is closed already."""
        self._background.add(work)
        if self.closing.is_set():
            work.stop()

    def append(self, *events: Event) -> list[int]:
        """Record `events` atomically and return their positions in the feed.

        Raises `StreamConflict` if a stream already has one of the versions.
        """
        with store_errors():  # Straight to the recorder: the hot path of every report.
            stored = [self.mapper.to_stored_event(event) for event in events]
            return list(self.recorder.insert_events(stored) or ())

    def stream(self, originator_id: UUID, *, after: int | None = None) -> list[JobEvent]:
        """Return the events of one stream in version order (those above `after` if given)."""
        with store_errors():
            return cast(list[JobEvent], list(self.events.get(originator_id, gt=after)))

    def job(self, job_id: UUID) -> Job:
        """The job aggregate, from its stream; raises `JobNotFound` (also for a stream whose
        creation was pruned or set aside by `check --repair`)."""
        return Job.replay(
            job_id, [e for e in self.stream(job_id) if not isinstance(e, StatusReported)]
        )

    def reports(self, job_id: UUID, component: str) -> list[StatusReported]:
        """The reports of one component of a job, in version order."""
        events = self.stream(component_stream_id(job_id, component))
        return [e for e in events if isinstance(e, StatusReported)]

    def feed(
        self,
        *,
        after: int = 0,
        limit: int = 1_000,
        types: Sequence[type[Event]] = (),
        until: int | None = None,
    ) -> list[tuple[int, JobEvent]]:
        """Return up to `limit` events after feed position `after` (and at most `until`),
        with their positions, optionally only those of the given types."""
        with store_errors():
            notifications = self._notifications(after, limit, types, until)
            return [(n.id, cast(JobEvent, self.mapper.to_domain_event(n))) for n in notifications]

    def view_feed(
        self, *, after: int, limit: int, types: Sequence[type[Event]], until: int | None
    ) -> list[tuple[int, JobEvent | StoredReport]]:
        """`feed`, as the status view applies it: reports read on the trusted path
        (`StoredReport`, without validating them again), every other event in full."""
        mapper = cast(PydanticMapper, self.mapper)
        recorder = self.recorder
        with store_errors():
            rows: Sequence[FeedRow]
            if isinstance(recorder, FeedRowsRecorder):
                topics = [get_topic(t) for t in types]
                rows = recorder.select_feed_rows(
                    after=after, limit=limit, topics=topics, until=until
                )
            else:
                notifications = self._notifications(after, limit, types, until)
                rows = [
                    (n.id, n.originator_id, n.originator_version, n.topic, n.state)
                    for n in notifications
                ]
            return [
                (
                    row[0],
                    mapper.to_report(row)
                    if row[3] == REPORT_TOPIC
                    else cast(JobEvent, mapper.to_event(row)),
                )
                for row in rows
            ]

    def _notifications(
        self, after: int, limit: int, types: Sequence[type[Event]], until: int | None
    ) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            start=after,
            limit=limit,
            stop=until,
            topics=[get_topic(t) for t in types],
            inclusive_of_start=False,
        )

    def status_view(self) -> StatusView:
        """The store's status view, or, for a store that keeps none, one view in this process
        shared by every Tracker on this ledger (built from the whole feed on first use); its
        errors are translated to `StoreError`."""
        factory: object = self.factory
        if not isinstance(factory, ProvidesStatusView):
            if self._local_view is None:
                self._local_view = LocalStatusView(f"the status view of {type(factory).__name__}")
            return GuardedView(self._local_view)
        with store_errors():
            return GuardedView(factory.status_view())

    def streams(self, originator_ids: Sequence[UUID]) -> list[JobEvent]:
        """Every event of these streams in recorded (feed) order, reading only them; raises
        `ConfigurationError` if the store cannot."""
        with store_errors():
            found = self._select_streams(originator_ids)
            return [cast(JobEvent, self.mapper.to_domain_event(n)) for n in found]

    def creation(self, job_id: UUID) -> int | None:
        """The feed position of the first event of the job's stream (its creation), None if
        it has none; raises `ConfigurationError` if the store cannot read streams."""
        with store_errors():
            return min((n.id for n in self._select_streams([job_id])), default=None)

    def _select_streams(self, originator_ids: Sequence[UUID]) -> Sequence[Notification]:
        recorder: object = self.recorder
        if not isinstance(recorder, MultiStreamRecorder):
            raise ConfigurationError(f"the store {type(recorder).__name__} cannot read streams")
        return recorder.select_streams(originator_ids)

    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        """Delete whole streams; raises `ConfigurationError` if the store cannot."""
        recorder: object = self.recorder
        if not isinstance(recorder, PrunableRecorder):
            raise ConfigurationError(f"the store {type(recorder).__name__} cannot delete events")
        with store_errors():
            recorder.delete_streams(originator_ids)
