"""The Tracker's maintenance: pruning finished jobs and rebuilding the status view."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from ..domain.errors import InvalidInput
from ..domain.job import Job
from ..domain.status import Status
from ..domain.validation import earlier
from .commands import Commands
from .ledger import Ledger
from .local_view import LocalStatusView
from .ports import Clock, StatusView
from .queries import ALL
from .results import ViewCheck
from .view_check import job_rows, rebuild_view
from .writes import WriteLog


class Maintenance:
    """Deletes whole finished jobs and repairs the status view; callers catch the view up
    first."""

    def __init__(
        self,
        ledger: Ledger,
        view: StatusView,
        clock: Clock,
        writes: WriteLog,
        commands: Commands,
    ) -> None:
        self._ledger = ledger
        self._view = view
        self._clock = clock
        self._writes = writes
        self._commands = commands

    def prune(self, *, finished_before: datetime, dry_run: bool, keep_failed_for: timedelta) -> int:
        if not isinstance(finished_before, datetime) or finished_before.tzinfo is None:
            raise InvalidInput(
                f"finished_before must be a timezone-aware datetime, not {finished_before!r}"
            )
        failed_before = earlier(finished_before, keep_failed_for, "keep_failed_for")
        doomed: list[UUID] = []
        for outcome in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            cutoff = failed_before if outcome is Status.FAILED else finished_before
            for row in job_rows(self._view, before=ALL, status=outcome):
                finished_at = row.tally.outcome()[1]
                if finished_at is not None and finished_at < cutoff:
                    doomed.append(row.tally.job_id)
        if not dry_run:
            for job_id in doomed:
                self._delete(self._commands.job(job_id, fresh=True))
        return len(doomed)

    def rebuild_view(self) -> ViewCheck:
        return rebuild_view(self._ledger, self._view, self._clock, LocalStatusView())

    def _delete(self, job: Job) -> None:
        self._ledger.delete_streams(job.stream_ids)
        self._view.delete([job.id])
        applied = self._view.position()
        self._writes.deleted(applied)
        self._commands.forget(job)
