"""The Tracker's maintenance: pruning finished jobs and rebuilding the status view.

A job is pruned in two steps: its streams, then its view rows. The rows go last, so a prune
that stops in between (killed, or failing) leaves the job listed as finished, and the next
prune, finding its events gone, finishes the work. Concurrent prunes do the same for each
other's jobs; whichever removes a job's rows counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from ..domain.errors import InvalidInput, JobNotFound
from ..domain.events import component_stream_id
from ..domain.status import Status
from ..domain.validation import earlier
from .commands import Commands
from .ledger import Ledger
from .local_view import LocalStatusView
from .ports import Clock, JobRow, StatusView
from .queries import ALL
from .results import ViewCheck
from .view_check import component_pages, job_rows, rebuild_view

_PATIENCE = 1.0
"""Seconds (about) a prune waits for finish records other processes are appending."""


class Maintenance:
    """Deletes whole finished jobs and repairs the status view, each after `catch_up()`."""

    def __init__(
        self,
        ledger: Ledger,
        view: StatusView,
        clock: Clock,
        commands: Commands,
        catch_up: Callable[[], None],
    ) -> None:
        self._ledger = ledger
        self._view = view
        self._clock = clock
        self._commands = commands
        self._catch_up = catch_up

    def prune(self, *, finished_before: datetime, dry_run: bool, keep_failed_for: timedelta) -> int:
        if not isinstance(finished_before, datetime) or finished_before.tzinfo is None:
            raise InvalidInput(
                f"finished_before must be a timezone-aware datetime, not {finished_before!r}"
            )
        failed_before = earlier(finished_before, keep_failed_for, "keep_failed_for")
        delay = 0.001
        while True:
            self._catch_up()
            finished = self._finished(finished_before, failed_before)
            if dry_run:
                return len(finished)
            if all(r.tally.recorded for r in finished) or delay > _PATIENCE:
                break
            time.sleep(delay)  # Another process is recording those finishes: wait briefly.
            delay *= 2
        # Only jobs whose finish record the view has applied: an updater still about to
        # apply one could write the job's rows back after they are deleted.
        return sum(self._delete(r.tally.job_id) for r in finished if r.tally.recorded)

    def rebuild_view(self) -> ViewCheck:
        self._catch_up()
        return rebuild_view(self._ledger, self._view, self._clock, LocalStatusView())

    def _finished(self, finished_before: datetime, failed_before: datetime) -> list[JobRow]:
        """The rows of jobs that finished before the cutoffs."""
        rows = []
        for outcome in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            cutoff = failed_before if outcome is Status.FAILED else finished_before
            for row in job_rows(self._view, before=ALL, status=outcome):
                finished_at = row.tally.outcome()[1]
                if finished_at is not None and finished_at < cutoff:
                    rows.append(row)
        return rows

    def _delete(self, job_id: UUID) -> int:
        """Delete the job's streams, then its view rows; return 1 if this call removed
        the rows, 0 if another prune did."""
        try:
            names = self._commands.job(job_id, fresh=True).components
        except JobNotFound:  # Its events are gone: a prune stopped part-way, or one is running.
            pages = component_pages(self._view, job_id)
            names = tuple(r.status.name for page in pages for r in page)
        self._ledger.delete_streams([job_id, *(component_stream_id(job_id, n) for n in names)])
        removed = self._view.delete([job_id])
        self._commands.forget(job_id, names)
        return removed
