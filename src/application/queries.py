"""The Tracker's queries: bring the status view as far as a query needs (its own writes;
on its first query, or for a job the view does not know, everything recorded before the
call), then read it; and waiting for a job, built on following its summary. A view keeper
applies the rest in the background."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import UUID

from ..domain.errors import InvalidInput, JobNotFound, StoreError
from ..domain.events import HookRan, StatusReported, component_stream_id
from ..domain.job import Job
from ..domain.projection import JobStatus, JobSummary
from ..domain.status import Status
from ..domain.validation import (
    check_limit,
    earlier,
    is_seconds,
    parse_cursor,
    parse_job_id,
    parse_status,
)
from .ledger import Ledger
from .ports import Clock, ComponentRow, JobRow, StatusView
from .results import ComponentPage, Page, StaleComponent, StatusEvent
from .view_keeper import ViewKeeper
from .view_updater import ViewUpdater
from .writes import WriteLog

ALL = 1 << 62
"""A position past every other: the start of a newest-first listing."""

_READ_YOUR_WRITES_TIMEOUT = 30.0


class Queries:
    """Reads the status view (and, for history, the job's streams); the first query starts
    a `ViewKeeper`, which stops when the ledger closes."""

    def __init__(
        self,
        ledger: Ledger,
        view: StatusView,
        clock: Clock,
        writes: WriteLog,
        job: Callable[[UUID], Job],
    ) -> None:
        self._ledger = ledger
        self._view = view
        self._clock = clock
        self._writes = writes
        self._job = job
        self._updater = ViewUpdater(ledger, view, clock)
        self._keeper = ViewKeeper(self._updater, writes)
        ledger.runs_in_background(self._keeper)
        self._queried = False
        self._watching = False

    def catch_up(self, *, everything: bool = False, past: int = 0) -> None:
        """Catch the view up past everything this Tracker recorded, and with `everything`
        past everything recorded before the call, by any process. A store may hold a later
        position back until every earlier one is decided (PostgreSQL's feed does, for
        transactions still in flight), so keep looking briefly until it is. A prune in
        another process may have deleted this Tracker's events before this view saw them:
        then stop waiting. `past`: a position to catch up past as well (a job's creation)."""
        written, delay = max(self._writes.written, past), 0.001
        if not (everything or written):
            return  # Nothing of this Tracker's to wait for: no round trip.
        until = None if everything else written
        deadline = time.monotonic() + _READ_YOUR_WRITES_TIMEOUT
        while (applied := self._updater.catch_up(until=until)) < written:
            if self._pruned(self._writes.newest):
                self._writes.deleted(applied)
                return
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the store's feed has not shown position {written}, written by this "
                    f"process, within {_READ_YOUR_WRITES_TIMEOUT:g} s (a long transaction?)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def status(self, job_id: UUID | str) -> JobStatus:
        job_id = parse_job_id(job_id, JobNotFound)
        self._prepare()
        return self._snapshot(job_id)

    def summary(self, job_id: UUID | str) -> JobSummary:
        job_id = parse_job_id(job_id, JobNotFound)
        self._prepare()
        row, _ = self._read(job_id, lambda: self._view.load(job_id, ()))
        return row.tally.summary()

    def components(self, job_id: UUID | str, *, limit: int, cursor: str | None) -> ComponentPage:
        job_id = parse_job_id(job_id, JobNotFound)
        after = parse_cursor(cursor, default=-1)
        self.summary(job_id)
        rows = self._view.components(job_id, after=after, limit=check_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return ComponentPage(
            items=tuple(r.status for r in rows),
            next_cursor=str(rows[-1].ordinal) if more else None,
        )

    def history(self, job_id: UUID | str, component: str | None) -> list[StatusEvent]:
        """The job's recorded events, read with its own stream, so a job known here but
        pruned since is not found."""
        job = self._job(parse_job_id(job_id, JobNotFound))
        streams = job.stream_ids
        if component is not None:
            job.require(component)
            streams = [job.id, component_stream_id(job.id, component)]
        events = self._ledger.streams(streams)
        if not any(event.originator_id == job.id for event in events):
            raise JobNotFound(f"no job with id {job.id}")
        return [StatusEvent.of(e) for e in events if isinstance(e, StatusReported | HookRan)]

    def jobs(self, *, status: Status | str | None, limit: int, cursor: str | None) -> Page:
        wanted = None if status is None else parse_status(status)
        before = parse_cursor(cursor, default=ALL)
        self._prepare()
        rows = self._view.jobs(status=wanted, before=before, limit=check_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=tuple(r.tally.summary() for r in rows),
            next_cursor=str(rows[-1].position) if more else None,
        )

    def stale(self, older_than: timedelta, *, limit: int) -> list[StaleComponent]:
        before = earlier(self._clock(), older_than, "older_than")
        self._prepare()
        rows = self._view.stale(before=before, limit=check_limit(limit))
        return [StaleComponent(job_id=r.job_id, component=r.status) for r in rows]

    def follow(self, job_id: UUID | str, *, timeout: float | None) -> Iterator[JobSummary]:
        job_id = parse_job_id(job_id, JobNotFound)
        if timeout is not None and not is_seconds(timeout):
            raise InvalidInput(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        if not self._watching:  # Woken by view batches other processes commit, if the store tells.
            self._watching = self._view.watch(self._writes.progressed)
        return self._follow(job_id, timeout)

    def _follow(self, job_id: UUID, timeout: float | None) -> Iterator[JobSummary]:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay, last = 0.01, None
        while True:
            generation = self._writes.generation
            current = self.summary(job_id)
            if current != last:
                yield current
                last = current
            if current.is_finished:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(
                    f"job {job_id} has not finished within {timeout:g} s; it is {current.overall}"
                )
            self._writes.wait_for_change(
                generation, delay if remaining is None else min(delay, remaining)
            )
            delay = min(delay * 2, 1.0)

    def wait(self, job_id: UUID | str, *, timeout: float | None) -> JobStatus:
        job_id = parse_job_id(job_id, JobNotFound)
        for _ in self.follow(job_id, timeout=timeout):
            pass
        return self._snapshot(job_id)

    def _prepare(self) -> None:
        """What every query does first: catch the view up past this Tracker's writes (on
        the first query, past everything recorded before it, alone: the finish records it
        appends included), then make sure the view keeper runs; raise its last failure."""
        self.catch_up(everything=not self._queried)
        self._queried = True
        self._keeper.start()
        if (failure := self._keeper.failure) is not None:
            raise StoreError(f"the status view cannot be caught up: {failure}") from failure

    def _read(
        self, job_id: UUID, read: Callable[[], tuple[JobRow | None, list[ComponentRow]]]
    ) -> tuple[JobRow, list[ComponentRow]]:
        """The job's rows as `read()` returns them; if the view does not know the job but
        the store has its creation (made in another process just now), catch the view up past
        it and read again; else raise `JobNotFound` (at the cost of one read of the job's
        stream, however busy the store)."""
        row, rows = read()
        if row is None and (created := self._ledger.creation(job_id)) is not None:
            self.catch_up(past=created)
            row, rows = read()
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return row, rows

    def _pruned(self, newest: tuple[UUID, int] | None) -> bool:
        """Whether the newest event this Tracker wrote has been deleted since."""
        if newest is None:
            return False
        stream_id, version = newest
        return not self._ledger.stream(stream_id, after=version - 1)

    def _snapshot(self, job_id: UUID) -> JobStatus:
        """The job's status with every component, from one snapshot of the view as it stands
        (a summary and components read apart could disagree, when another process commits
        to the view in between)."""
        row, rows = self._read(job_id, lambda: self._view.snapshot(job_id))
        return row.tally.status({r.status.name: r.status for r in rows})
