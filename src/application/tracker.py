"""The Tracker: the application service every caller uses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TypeVar
from uuid import UUID, uuid4

from ..domain.component import ComponentState
from ..domain.errors import (
    InvalidInput,
    InvalidJobDefinition,
    JobAlreadyExists,
    JobNotFound,
    StoreError,
)
from ..domain.events import HookRan, JobEvent, StatusReported, component_stream_id
from ..domain.job import Job, define_job
from ..domain.projection import JobStatus, JobSummary
from ..domain.status import Status
from ..domain.validation import check_limit, earlier, parse_cursor, parse_job_id, parse_status
from .cache import BoundedCache
from .hooks import Hook, HookRunner
from .ledger import Ledger, StreamConflict, store_errors
from .local_view import LocalStatusView
from .ports import Clock, StatusView
from .results import ComponentPage, Page, Receipt, StaleComponent, StatusEvent, ViewCheck
from .stores import resolve_store_url, store_environment
from .view_check import job_rows, rebuild_view
from .view_updater import ViewUpdater

logger = logging.getLogger("jobledger")

_T = TypeVar("_T")
_H = TypeVar("_H", bound=Hook)
_MAX_ATTEMPTS = 1_000
_CACHED_JOBS = 1_000
_CACHED_COMPONENTS = 100_000
_ALL = 1 << 62
_READ_YOUR_WRITES_TIMEOUT = 30.0


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


class Tracker:
    """Tracks jobs made of many components: create them, report on their components, ask
    where they stand, wait for them, run code when they finish, list and prune them.

    Queries first catch the store's status view up with everything recorded, so a caller
    always sees its own reports and no separate daemon is needed. Safe to share between
    threads; use as a context manager or call `close()`.
    """

    def __init__(self, ledger: Ledger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock
        self._view: StatusView = ledger.status_view()
        self._updater = ViewUpdater(ledger, self._view, clock)
        self._hooks = HookRunner(ledger, ledger.factory.tracking_recorder, clock)
        self._jobs: BoundedCache[UUID, Job] = BoundedCache(_CACHED_JOBS)
        self._known: BoundedCache[tuple[UUID, str], ComponentState] = BoundedCache(
            _CACHED_COMPONENTS
        )
        self._changed = threading.Condition()
        self._generation = 0
        self._written = 0

    @classmethod
    def open(
        cls, url: str | None = None, *, create: bool = True, clock: Clock = utc_now
    ) -> Tracker:
        """Open the store `url` names (`memory://`, `file:...`, `postgresql://...`); with no
        URL, `$JOBLEDGER_STORE`, else the default store. A missing store is created, unless
        `create=False`: then it raises `ConfigurationError` and writes nothing."""
        environment = store_environment(resolve_store_url(url), create=create)
        return cls(Ledger(environment), clock=clock)

    @property
    def ledger(self) -> Ledger:
        """The eventsourcing application underneath: its `recorder` holds the store's feed,
        for your own projections. Several Trackers may share one."""
        return self._ledger

    @property
    def view(self) -> StatusView:
        """The store's status view (read it through the queries; exposed for inspection)."""
        return self._view

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
            finished = self.summary(job_id).is_finished
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
            current = self._known.get(key) or ComponentState(component)
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
        """Cancel an unfinished job (recording its finish at once); cancelling a cancelled
        job is a no-op."""
        job_id = parse_job_id(job_id, JobNotFound)

        def attempt() -> None:
            job = self._job(job_id, fresh=True)
            events = job.cancel(reason, finished=self.summary(job_id).is_finished, at=self._clock())
            if events is not None:
                self._append(*events)

        self._retrying(attempt)

    # Hooks

    def on_completed(self, hook: _H, *, name: str | None = None) -> _H:
        """Run `hook(FinishedJob)` once each job completes (at least once; see run_hooks)."""
        return self._register(hook, name, Status.COMPLETED)

    def on_failed(self, hook: _H, *, name: str | None = None) -> _H:
        """Run `hook(FinishedJob)` once each job fails."""
        return self._register(hook, name, Status.FAILED)

    def on_finished(self, hook: _H, *, name: str | None = None) -> _H:
        """Run `hook(FinishedJob)` once each job completes, fails or is cancelled."""
        return self._register(hook, name, Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    def run_hooks(
        self, *, once: bool = False, stop: Callable[[], bool] | None = None, poll: float = 1.0
    ) -> int:
        """Run the hooks of jobs that finished: everything due now if `once` (for tests and
        cron), else until `stop()` is true (for a worker process). Returns the calls made."""
        calls = 0
        while True:
            self._catch_up()
            made = self._hooks.run_once()
            calls += made
            if once or (stop is not None and stop()):
                return calls
            if not made:
                time.sleep(poll)

    # Queries

    def status(self, job_id: UUID | str) -> JobStatus:
        """Where the job stands now, with every component in declared order."""
        job_id = parse_job_id(job_id, JobNotFound)
        self._catch_up()
        return self._snapshot(job_id)

    def summary(self, job_id: UUID | str) -> JobSummary:
        """Where the job stands now, without the components: one row of the status view."""
        job_id = parse_job_id(job_id, JobNotFound)
        self._catch_up()
        with store_errors():
            row, _ = self._view.load(job_id, ())
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return row.tally.summary()

    def components(
        self, job_id: UUID | str, *, limit: int = 100, cursor: str | None = None
    ) -> ComponentPage:
        """One page of a job's components in declared order, for jobs too large to load."""
        job_id = parse_job_id(job_id, JobNotFound)
        after = parse_cursor(cursor, default=-1)
        self.summary(job_id)
        with store_errors():
            rows = self._view.components(job_id, after=after, limit=check_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return ComponentPage(
            items=tuple(r.status for r in rows),
            next_cursor=str(rows[-1].ordinal) if more else None,
        )

    def history(self, job_id: UUID | str, component: str | None = None) -> list[StatusEvent]:
        """The recorded reports of a job (and its hook runs), or of one component, in
        recorded order."""
        job = self._job(parse_job_id(job_id, JobNotFound), fresh=True)
        if component is not None:
            job.require(component)
            return [StatusEvent.of(e) for e in self._reports(job.id, component)]
        return [
            StatusEvent.of(event)
            for event in self._ledger.streams(_streams(job))
            if isinstance(event, StatusReported | HookRan)
        ]

    def jobs(
        self, *, status: Status | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Jobs newest first, optionally only those whose overall status is `status`."""
        wanted = None if status is None else parse_status(status)
        before = parse_cursor(cursor, default=_ALL)
        self._catch_up()
        with store_errors():
            rows = self._view.jobs(status=wanted, before=before, limit=check_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=tuple(r.tally.summary() for r in rows),
            next_cursor=str(rows[-1].position) if more else None,
        )

    def stale(self, older_than: timedelta, *, limit: int = 100) -> list[StaleComponent]:
        """In-progress or retrying components with no report for `older_than`, oldest first:
        an `in_progress` report doubles as a heartbeat."""
        before = earlier(self._clock(), older_than, "older_than")
        self._catch_up()
        with store_errors():
            rows = self._view.stale(before=before, limit=check_limit(limit))
        return [StaleComponent(job_id=r.job_id, component=r.status) for r in rows]

    def wait(self, job_id: UUID | str, *, timeout: float | None = None) -> JobStatus:
        """Block until the job has finished and return its final status.

        Woken at once by reports made through this Tracker; reports from other processes are
        seen by polling the status view with back-off (10 ms doubling to 1 s). Raises
        `TimeoutError`.
        """
        job_id = parse_job_id(job_id, JobNotFound)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            generation = self._generation
            current = self.summary(job_id)
            if current.is_finished:
                return self._snapshot(job_id)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(
                    f"job {job_id} has not finished within {timeout} s; it is {current.overall}"
                )
            self._await_change(generation, delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, 1.0)

    # Maintenance

    def prune(
        self,
        *,
        finished_before: datetime,
        dry_run: bool = False,
        keep_failed_for: timedelta = timedelta(0),
    ) -> int:
        """Delete whole jobs (events, finish record, hook runs, view rows) that finished
        before `finished_before` — failed ones `keep_failed_for` longer — and return how
        many. Unfinished jobs are never touched; `dry_run` only counts."""
        if not isinstance(finished_before, datetime) or finished_before.tzinfo is None:
            raise InvalidInput(
                f"finished_before must be a timezone-aware datetime, not {finished_before!r}"
            )
        failed_before = earlier(finished_before, keep_failed_for, "keep_failed_for")
        doomed: list[UUID] = []
        self._catch_up()
        for outcome in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            cutoff = failed_before if outcome is Status.FAILED else finished_before
            with store_errors():
                for row in job_rows(self._view, before=_ALL, status=outcome):
                    finished_at = row.tally.outcome()[1]
                    if finished_at is not None and finished_at < cutoff:
                        doomed.append(row.tally.job_id)
        if not dry_run:
            for job_id in doomed:
                self._delete(self._job(job_id, fresh=True))
        return len(doomed)

    def rebuild_view(self) -> ViewCheck:
        """Recompute the status view from the events, report every row that differed, and
        repair it."""
        self._catch_up()
        return rebuild_view(self._ledger, self._view, self._clock, LocalStatusView())

    # Internals

    def _register(self, hook: _H, name: str | None, *outcomes: Status) -> _H:
        self._hooks.register(name or str(getattr(hook, "__qualname__", hook)), outcomes, hook)
        return hook

    def _append(self, *events: JobEvent) -> list[int]:
        positions = self._ledger.append(*events)
        with self._changed:
            self._written = max(self._written, *positions)
            self._generation += 1
            self._changed.notify_all()
        return positions

    def _catch_up(self) -> None:
        """Catch the view up, at least past everything this Tracker recorded: a store may
        hold a later position back until every earlier one is decided (PostgreSQL's feed
        does, for transactions still in flight), so keep looking briefly until it is."""
        written, delay = self._written, 0.001
        deadline = time.monotonic() + _READ_YOUR_WRITES_TIMEOUT
        while self._updater.catch_up() < written:
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the store's feed has not shown position {written}, written by this "
                    f"process, within {_READ_YOUR_WRITES_TIMEOUT:g} s (a long transaction?)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

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

    def _snapshot(self, job_id: UUID) -> JobStatus:
        """The job's status with every component, from one snapshot of the view as it stands
        (a summary and components read apart could disagree, when another process commits
        to the view in between)."""
        with store_errors():
            row, rows = self._view.snapshot(job_id)
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return row.tally.status({r.status.name: r.status for r in rows})

    def _job(self, job_id: UUID, *, fresh: bool = False) -> Job:
        cached = None if fresh else self._jobs.get(job_id)
        if cached is not None:
            return cached
        job = self._ledger.job(job_id)
        self._jobs.put(job_id, job)
        return job

    def _reports(self, job_id: UUID, component: str) -> list[StatusReported]:
        events = self._ledger.stream(component_stream_id(job_id, component))
        return [e for e in events if isinstance(e, StatusReported)]

    def _component(self, job_id: UUID, component: str) -> ComponentState:
        current = ComponentState(component)
        for event in self._reports(job_id, component):
            current = current.evolve(event)
        return current

    def _delete(self, job: Job) -> None:
        self._ledger.delete_streams(_streams(job))
        with store_errors():
            self._view.delete([job.id])
            applied = self._view.position()
        with self._changed:  # deleted writes will never show: stop waiting for them
            self._written = min(self._written, applied)
        self._jobs.discard(job.id)
        for name in job.components:
            self._known.discard((job.id, name))


def _streams(job: Job) -> list[UUID]:
    """The ids of the job's stream and of its components' streams."""
    return [job.id, *(component_stream_id(job.id, name) for name in job.components)]
