"""The Tracker: the application service every caller uses, a facade over its commands,
queries, hooks and maintenance."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import TypeVar
from uuid import UUID

from ..domain.errors import ConfigurationError, InvalidInput
from ..domain.events import Event
from ..domain.projection import JobStatus, JobSummary
from ..domain.status import Status
from ..domain.validation import check_event_types, check_limit, check_position, is_seconds
from .commands import Commands
from .hooks import Hook, HookRunner
from .ledger import Ledger
from .maintenance import Maintenance
from .ports import Clock, StatusView
from .queries import Queries
from .results import (
    ComponentPage,
    EventPage,
    FeedEvent,
    Page,
    Receipt,
    StaleComponent,
    StatusEvent,
    ViewCheck,
)
from .store_check import StoreCheck, check_store
from .stores import resolve_store_url, store_environment
from .writes import WriteLog

_H = TypeVar("_H", bound=Hook)


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


class Tracker:
    """Tracks jobs made of many components: create them, report on their components, ask
    where they stand, wait for them, run code when they finish, list and prune them.

    Queries read the store's status view once it has applied what they need: the caller's
    own reports, everything recorded before its first query, and (when the view does not
    know it yet) the job asked for. The first query starts a view keeper thread applying
    the rest, which `close()` stops. Safe to share between threads; use as a context
    manager or call `close()`.
    """

    def __init__(self, ledger: Ledger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock
        self._view: StatusView = ledger.status_view()
        writes = WriteLog()
        self._commands = Commands(ledger, clock, writes)
        fresh_job = partial(self._commands.job, fresh=True)
        self._queries = Queries(ledger, self._view, clock, writes, fresh_job)
        catch_up = partial(self._queries.catch_up, everything=True)
        self._maintenance = Maintenance(ledger, self._view, clock, self._commands, catch_up)
        self._hooks = HookRunner(ledger, ledger.factory.tracking_recorder, clock)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        create: bool = True,
        clock: Clock = utc_now,
    ) -> Tracker:
        """Open the store `url` names (`memory://`, `file:...`, `postgresql://...`, or a scheme
        a store package registers); with no URL, `$JOBLEDGER_STORE`, else the default store.
        Or open any eventsourcing persistence module with its settings, `env` (e.g.
        `{"PERSISTENCE_MODULE": "my_store", ...}`). A missing store is created, unless
        `create=False`: then it raises `ConfigurationError` and writes nothing."""
        if env is None:
            environment = store_environment(resolve_store_url(url), create=create)
        elif url is not None:
            raise ConfigurationError("pass a store URL or env, not both")
        else:
            environment = {**env, **({} if create else {"CREATE_TABLE": "no"})}
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
        """Stop the view keeper (of every Tracker on this ledger), then release the store's
        resources (connections, file handles)."""
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
        return self._commands.create_job(
            components,
            name=name,
            metadata=metadata,
            allowed_failures=allowed_failures,
            job_id=job_id,
        )

    def add_components(self, job_id: UUID | str, components: Iterable[str]) -> None:
        """Add components to a job that has not finished."""
        self._commands.add_components(job_id, components)

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
        return self._commands.report(job_id, component, status, message=message, progress=progress)

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
        self._commands.cancel(job_id, reason)

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
        self,
        *,
        once: bool = False,
        stop: threading.Event | Callable[[], bool] | None = None,
        poll: float = 1.0,
    ) -> int:
        """Run the hooks of jobs that finished: everything due now if `once` (for tests and
        cron), else until `stop` is set (an Event: it also cuts the wait between looks short)
        or `stop()` is true (for a worker process), looking every `poll` seconds. Returns the
        calls made."""
        if not is_seconds(poll, positive=True):
            raise InvalidInput(
                f"poll must be a positive number of seconds up to {threading.TIMEOUT_MAX:g}, "
                f"not {poll!r}"
            )
        stopped = stop.is_set if isinstance(stop, threading.Event) else stop
        calls = 0
        while True:
            self._queries.catch_up(everything=True)
            made = self._hooks.run_once()
            calls += made
            if once or (stopped is not None and stopped()):
                return calls
            if made:
                continue
            if isinstance(stop, threading.Event):
                stop.wait(poll)
            else:
                time.sleep(poll)

    def _register(self, hook: _H, name: str | None, *outcomes: Status) -> _H:
        self._hooks.register(name or str(getattr(hook, "__qualname__", hook)), outcomes, hook)
        return hook

    # Queries

    def status(self, job_id: UUID | str) -> JobStatus:
        """Where the job stands now, with every component in declared order."""
        return self._queries.status(job_id)

    def summary(self, job_id: UUID | str) -> JobSummary:
        """Where the job stands now, without the components: one row of the status view."""
        return self._queries.summary(job_id)

    def components(
        self, job_id: UUID | str, *, limit: int = 100, cursor: str | None = None
    ) -> ComponentPage:
        """One page of a job's components in declared order, for jobs too large to load."""
        return self._queries.components(job_id, limit=limit, cursor=cursor)

    def history(self, job_id: UUID | str, component: str | None = None) -> list[StatusEvent]:
        """The recorded reports of a job (and its hook runs), or of one component, in
        recorded order."""
        return self._queries.history(job_id, component)

    def jobs(
        self, *, status: Status | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Jobs newest first, optionally only those whose overall status is `status`."""
        return self._queries.jobs(status=status, limit=limit, cursor=cursor)

    def stale(self, older_than: timedelta, *, limit: int = 100) -> list[StaleComponent]:
        """In-progress or retrying components with no report for `older_than`, oldest first:
        an `in_progress` report doubles as a heartbeat."""
        return self._queries.stale(older_than, limit=limit)

    def follow(self, job_id: UUID | str, *, timeout: float | None = None) -> Iterator[JobSummary]:
        """Yield the job's summary now and each time it changes, ending with the finished one.

        Woken at once by reports made through this Tracker and whenever the view keeper
        moves the view; otherwise it looks again with back-off (10 ms doubling to 1 s).
        Raises `TimeoutError` if the job has not finished within `timeout` seconds.
        """
        return self._queries.follow(job_id, timeout=timeout)

    def wait(self, job_id: UUID | str, *, timeout: float | None = None) -> JobStatus:
        """Block until the job has finished and return its final status (see `follow`);
        raises `TimeoutError`."""
        return self._queries.wait(job_id, timeout=timeout)

    def events(
        self, *, after: int = 0, limit: int = 100, types: Iterable[type[Event]] = ()
    ) -> EventPage:
        """Up to `limit` recorded events after feed position `after`, in feed order, with their
        positions; only those of `types` if given. For your own projections: a pruned job's
        events are gone, and positions are never reused (docs/projections.md)."""
        found = self._ledger.feed(
            after=check_position(after), limit=check_limit(limit), types=check_event_types(types)
        )
        items = tuple(FeedEvent(position=p, event=e) for p, e in found)
        return EventPage(items=items, next_after=items[-1].position if items else after)

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
        return self._maintenance.prune(
            finished_before=finished_before, dry_run=dry_run, keep_failed_for=keep_failed_for
        )

    def init_store(self) -> None:
        """Make every table the store may need now, the hook runner's included (otherwise
        made on first use): for a store whose users may not create tables."""
        self._hooks.prepare()

    def check(self, *, repair: bool = False) -> StoreCheck:
        """List the records the store cannot read, with their jobs; with `repair`, set them
        aside (never deleted) and rebuild the status view, so every healthy job is readable."""
        self._commands.forget_all()
        return check_store(self._ledger, self._view, self._clock, repair=repair)

    def rebuild_view(self) -> ViewCheck:
        """Recompute the status view from the events, report every row that differed, and
        repair it."""
        return self._maintenance.rebuild_view()
