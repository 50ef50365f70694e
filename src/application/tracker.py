"""The Tracker: the application service every caller uses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeVar
from uuid import UUID, uuid4

from ..domain.component import ComponentStatus
from ..domain.errors import (
    InvalidInput,
    InvalidJobDefinition,
    JobAlreadyExists,
    JobNotFound,
    StoreError,
)
from ..domain.events import JobCreated, JobEvent, StatusReported, component_stream_id
from ..domain.job import Job, define_job
from ..domain.projection import JobStatus, JobSummary, fold
from ..domain.status import Status
from ..domain.validation import parse_job_id
from .cache import BoundedCache
from .ledger import Ledger, StreamConflict
from .ports import Clock
from .results import Page, Receipt, StatusEvent
from .stores import resolve_store_url, store_environment

logger = logging.getLogger("jobledger")

_T = TypeVar("_T")
_MAX_ATTEMPTS = 1_000
_FEED_BATCH = 1_000
_CACHED_JOBS = 1_000
_CACHED_COMPONENTS = 100_000


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


class Tracker:
    """Tracks jobs made of many components: create them, report on their components, ask
    where they stand, wait for them, list and prune them.

    Safe to share between threads; use as a context manager or call `close()`.
    """

    def __init__(self, ledger: Ledger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock
        self._jobs: BoundedCache[UUID, Job] = BoundedCache(_CACHED_JOBS)
        self._known: BoundedCache[tuple[UUID, str], ComponentStatus] = BoundedCache(
            _CACHED_COMPONENTS
        )
        self._changed = threading.Condition()
        self._generation = 0

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock = utc_now) -> Tracker:
        """Open the store `url` names (`memory://`, `file:...`, `postgresql://...`); with no
        URL, `$JOBLEDGER_STORE`, else the default store."""
        return cls(Ledger(store_environment(resolve_store_url(url))), clock=clock)

    @property
    def ledger(self) -> Ledger:
        """The eventsourcing application underneath: its `recorder` holds the store's feed,
        for your own projections. Several Trackers may share one."""
        return self._ledger

    def close(self) -> None:
        """Release the store's resources (connections, file handles)."""
        self._ledger.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Commands

    def create_job(
        self,
        components: Iterable[str],
        *,
        name: str | None = None,
        metadata: Mapping[str, object] | None = None,
        allowed_failures: int = 0,
        job_id: UUID | str | None = None,
    ) -> UUID:
        """Create a job with its components and return its id.

        Creating again with the same `job_id` and definition returns that id (safe to retry);
        a different definition raises `JobAlreadyExists`.
        """
        new_id = uuid4() if job_id is None else parse_job_id(job_id, InvalidJobDefinition)
        created = define_job(
            new_id,
            components,
            name=name,
            metadata=metadata,
            allowed_failures=allowed_failures,
            at=self._clock(),
        )
        try:
            self._append(created)
        except StreamConflict:
            if not self._job(new_id, fresh=True).same_definition(created):
                raise JobAlreadyExists(
                    f"job {new_id} already exists with a different definition"
                ) from None
        return new_id

    def add_components(self, job_id: UUID | str, components: Iterable[str]) -> None:
        """Add components to a job that has not finished."""
        job_id = parse_job_id(job_id, JobNotFound)

        def attempt() -> None:
            job = self._job(job_id, fresh=True)
            finished = self._fold(job).is_finished
            self._append(job.add_components(components, finished=finished, at=self._clock()))

        self._retrying(attempt)

    def report(
        self,
        job_id: UUID | str,
        component: str,
        status: Status | str,
        *,
        message: str = "",
        progress: float | None = None,
    ) -> Receipt:
        """Record the status of one component and return a `Receipt`.

        A repeat of the component's final status is a no-op; any other report after a final
        one raises `InvalidTransition`. Reports to a finished job are recorded but never
        change its outcome.
        """
        job_id = parse_job_id(job_id, JobNotFound)
        job = self._job(job_id)
        if component not in job.names:
            self._job(job_id, fresh=True).require(component)
        key = (job_id, component)

        def attempt() -> Receipt:
            current = self._known.get(key) or ComponentStatus(name=component)
            event = current.decide(
                job_id, status, message=message, progress=progress, at=self._clock()
            )
            if event is None:
                return Receipt(
                    job_id=job_id,
                    component=component,
                    status=current.status,
                    version=current.version,
                    position=None,
                )
            try:
                [position] = self._append(event)
            except StreamConflict:
                self._known.put(key, self._component(job_id, component))
                raise
            self._known.put(key, current.evolve(event))
            return Receipt(
                job_id=job_id,
                component=component,
                status=event.status,
                version=event.originator_version,
                position=position,
            )

        return self._retrying(attempt)

    def start(
        self,
        job_id: UUID | str,
        component: str,
        *,
        message: str = "",
        progress: float | None = None,
    ) -> Receipt:
        """Report `in_progress`; also serves as a heartbeat."""
        return self.report(
            job_id, component, Status.IN_PROGRESS, message=message, progress=progress
        )

    def complete(
        self,
        job_id: UUID | str,
        component: str,
        *,
        message: str = "",
        progress: float | None = None,
    ) -> Receipt:
        """Report `completed`."""
        return self.report(job_id, component, Status.COMPLETED, message=message, progress=progress)

    def fail(
        self,
        job_id: UUID | str,
        component: str,
        *,
        message: str = "",
        progress: float | None = None,
    ) -> Receipt:
        """Report `failed`: the component gave up."""
        return self.report(job_id, component, Status.FAILED, message=message, progress=progress)

    def cancel(self, job_id: UUID | str, reason: str = "") -> None:
        """Cancel an unfinished job; cancelling a cancelled job is a no-op."""
        job_id = parse_job_id(job_id, JobNotFound)

        def attempt() -> None:
            job = self._job(job_id, fresh=True)
            event = job.cancel(reason, finished=self._fold(job).is_finished, at=self._clock())
            if event is not None:
                self._append(event)

        self._retrying(attempt)

    # Queries

    def status(self, job_id: UUID | str) -> JobStatus:
        """Where the job stands now, with every component."""
        return self._fold(self._job(parse_job_id(job_id, JobNotFound), fresh=True))

    def history(self, job_id: UUID | str, component: str | None = None) -> list[StatusEvent]:
        """The recorded status reports of a job, or of one component, in recorded order."""
        job = self._job(parse_job_id(job_id, JobNotFound), fresh=True)
        if component is not None:
            job.require(component)
            return [StatusEvent.of(e) for e in self._reports(job.id, component)]
        streams = {component_stream_id(job.id, name) for name in job.components}
        return [
            StatusEvent.of(event)
            for _, event in self._scan(StatusReported)
            if isinstance(event, StatusReported) and event.originator_id in streams
        ]

    def jobs(
        self, *, status: Status | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Jobs newest first, optionally only those whose overall status is `status`."""
        wanted = None if status is None else _status(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit must be a positive int, not {limit!r}")
        before = _cursor(cursor)
        created = [(p, e.originator_id) for p, e in self._scan(JobCreated) if p < before]
        items: list[JobSummary] = []
        for position, job_id in reversed(created):
            summary = self._summary(job_id)
            if summary is not None and wanted in {None, summary.overall}:
                items.append(summary)
            if len(items) == limit:
                more = position != created[0][0]
                return Page(items=tuple(items), next_cursor=str(position) if more else None)
        return Page(items=tuple(items), next_cursor=None)

    def wait(self, job_id: UUID | str, *, timeout: float | None = None) -> JobStatus:
        """Block until the job has finished and return its final status.

        Woken at once by reports made through this Tracker; reports from other processes are
        seen by polling with back-off (10 ms doubling to 1 s). Raises `TimeoutError`.
        """
        job_id = parse_job_id(job_id, JobNotFound)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            generation = self._generation
            current = self.status(job_id)
            if current.is_finished:
                return current
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(
                    f"job {job_id} has not finished within {timeout} s; it is {current.overall}"
                )
            self._await_change(generation, delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, 1.0)

    def prune(self, *, finished_before: datetime, dry_run: bool = False) -> int:
        """Delete whole jobs that finished before `finished_before` (timezone-aware) and
        return how many; unfinished jobs are never touched. `dry_run` only counts."""
        if not isinstance(finished_before, datetime) or finished_before.tzinfo is None:
            raise InvalidInput(
                f"finished_before must be a timezone-aware datetime, not {finished_before!r}"
            )
        pruned = 0
        for _, created in self._scan(JobCreated):
            summary = self._summary(created.originator_id)
            if summary is None or summary.finished_at is None:
                continue
            if summary.finished_at < finished_before:
                pruned += 1
                if not dry_run:
                    self._delete(self._job(created.originator_id, fresh=True))
        return pruned

    # Internals

    def _append(self, *events: JobEvent) -> list[int]:
        positions = self._ledger.append(*events)
        with self._changed:
            self._generation += 1
            self._changed.notify_all()
        return positions

    def _await_change(self, seen: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout)

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        for number in range(1, _MAX_ATTEMPTS + 1):
            try:
                return attempt()
            except StreamConflict:
                logger.debug("stream conflict, attempt %d; deciding again", number)
        raise StoreError(f"gave up after {_MAX_ATTEMPTS} conflicting attempts")

    def _job(self, job_id: UUID, *, fresh: bool = False) -> Job:
        cached = None if fresh else self._jobs.get(job_id)
        if cached is not None:
            return cached
        events = self._ledger.stream(job_id)
        job = Job.replay(job_id, [e for e in events if not isinstance(e, StatusReported)])
        self._jobs.put(job_id, job)
        return job

    def _reports(self, job_id: UUID, component: str) -> list[StatusReported]:
        events = self._ledger.stream(component_stream_id(job_id, component))
        return [e for e in events if isinstance(e, StatusReported)]

    def _component(self, job_id: UUID, component: str) -> ComponentStatus:
        current = ComponentStatus(name=component)
        for event in self._reports(job_id, component):
            current = current.evolve(event)
        return current

    def _fold(self, job: Job) -> JobStatus:
        events: list[JobEvent] = list(self._ledger.stream(job.id))
        for name in job.components:
            events.extend(self._reports(job.id, name))
        return fold(None, events)

    def _summary(self, job_id: UUID) -> JobSummary | None:
        try:
            return self._fold(self._job(job_id, fresh=True)).summary()
        except JobNotFound:
            return None

    def _scan(self, kind: type[JobEvent]) -> Iterable[tuple[int, JobEvent]]:
        after = 0
        while batch := self._ledger.feed(after=after, limit=_FEED_BATCH, types=[kind]):
            yield from batch
            after = batch[-1][0]

    def _delete(self, job: Job) -> None:
        streams = [job.id, *(component_stream_id(job.id, name) for name in job.components)]
        self._ledger.delete_streams(streams)
        self._jobs.discard(job.id)
        for name in job.components:
            self._known.discard((job.id, name))


def _status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise InvalidInput(f"unknown status {value!r}") from None


def _cursor(cursor: str | None) -> int:
    if cursor is None:
        return 1 << 62
    if isinstance(cursor, str) and cursor.isdigit():
        return int(cursor)
    raise InvalidInput(f"malformed cursor {cursor!r}: pass back a next_cursor from jobs()")
