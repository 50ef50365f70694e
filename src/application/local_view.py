"""An in-process status view: the memory store's own, the scratch space `rebuild_view()`
recomputes into, and a process-local stand-in for stores that keep no view of their own."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from threading import RLock
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError

from ..domain.status import Status
from .ports import ComponentRow, JobRow, StatusView

_ACTIVE = (Status.IN_PROGRESS, Status.RETRYING)


class LocalStatusView(StatusView):
    """Rows in dicts behind one lock; one updater at a time (a thread lock); refuses use
    once closed, naming its `owner`."""

    def __init__(self, owner: str = "the local status view") -> None:
        self._lock = RLock()
        self._updater = RLock()  # Re-entered by a commit inside `advancing`.
        self._owner = owner
        self._closed = False
        self._position = 0
        self._jobs: dict[UUID, JobRow] = {}
        self._components: dict[UUID, dict[str, ComponentRow]] = {}
        # A job's ordinals and names in declared order, for paging; dropped when a commit
        # adds a component to the job.
        self._declared: dict[UUID, tuple[list[int], list[str]]] = {}

    def close(self) -> None:
        """Refuse every later use (eventsourcing's `InterfaceError`); again does nothing."""
        self._closed = True

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        """Hold the updater lock, if free: an updater that decided on rows another one was
        about to change could record a finish after a prune deleted the job."""
        mine = self._updater.acquire(blocking=False)
        try:
            yield mine
        finally:
            if mine:
                self._updater.release()

    def await_updater(self) -> None:
        with self._updater:
            return

    def position(self) -> int:
        with self._held():
            return self._position

    def load(
        self, job_id: UUID, components: Collection[str]
    ) -> tuple[JobRow | None, list[ComponentRow]]:
        with self._held():
            rows = self._components.get(job_id, {})
            return self._jobs.get(job_id), [rows[n] for n in components if n in rows]

    def snapshot(self, job_id: UUID) -> tuple[JobRow | None, list[ComponentRow]]:
        with self._held():
            return self._jobs.get(job_id), self._ordered(job_id)

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        """Outside an updater's turn (a repair), after the updater in flight, if any."""
        with self._updater, self._held():
            if self._position != since:
                raise IntegrityError(f"view is at position {self._position}, not {since}")
            for job in jobs:
                self._jobs[job.tally.job_id] = job
            for row in components:
                rows = self._components.setdefault(row.job_id, {})
                if row.status.name not in rows:
                    self._declared.pop(row.job_id, None)
                rows[row.status.name] = row
            self._position = until

    def components(self, job_id: UUID, *, after: int, limit: int) -> list[ComponentRow]:
        with self._held():
            by_name = self._components.get(job_id)
            if not by_name:  # Unknown or pruned: nothing to keep.
                return []
            if (declared := self._declared.get(job_id)) is None:
                rows = self._ordered(job_id)
                declared = [r.ordinal for r in rows], [r.status.name for r in rows]
                self._declared[job_id] = declared
            ordinals, names = declared
            start = bisect_right(ordinals, after)
            return [by_name[name] for name in names[start : start + limit]]

    def jobs(self, *, status: Status | None, before: int, limit: int) -> list[JobRow]:
        with self._held():
            rows = sorted(self._jobs.values(), key=lambda r: r.position, reverse=True)
        return [
            r for r in rows if r.position < before and (status is None or r.tally.overall is status)
        ][:limit]

    def stale(self, *, before: datetime, limit: int) -> list[ComponentRow]:
        with self._held():
            rows = [r for job in self._components.values() for r in job.values()]
        active = [
            r
            for r in rows
            if r.status.status in _ACTIVE
            and r.status.updated_at is not None
            and r.status.updated_at < before
        ]
        return sorted(active, key=lambda r: (r.status.updated_at, str(r.job_id), r.ordinal))[:limit]

    def delete(self, job_ids: Sequence[UUID]) -> int:
        """Remove the jobs' rows once the updater's run in flight (if any) has ended, so
        that it cannot put back rows it read before."""
        if not job_ids:
            return 0
        with self._updater, self._held():
            removed = 0
            for job_id in set(job_ids):
                removed += self._jobs.pop(job_id, None) is not None
                self._components.pop(job_id, None)
                self._declared.pop(job_id, None)
            return removed

    @contextmanager
    def _held(self) -> Iterator[None]:
        if self._closed:
            raise InterfaceError(f"{self._owner} is closed")
        with self._lock:
            yield

    def _ordered(self, job_id: UUID) -> list[ComponentRow]:
        """The job's component rows in declared order (call holding the lock)."""
        return sorted(self._components.get(job_id, {}).values(), key=lambda r: r.ordinal)
