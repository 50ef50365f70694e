"""One component: the status its reports add up to, and the rule for accepting a new one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .errors import InvalidReport, InvalidTransition
from .events import StatusReported, component_stream_id
from .status import Status, reportable_status
from .validation import check_message, check_progress


class Report(Protocol):
    """What a component's status is decided on: a `StatusReported` event, or the same fields
    read from a stored one without validating it again (the status view's trusted path)."""

    @property
    def originator_version(self) -> int: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def status(self) -> Status: ...
    @property
    def message(self) -> str: ...
    @property
    def progress(self) -> float | None: ...


class ComponentStatus(BaseModel):
    """The newest status of one component, as of its `version`-th report (0 while pending).

    `progress` is the fraction last reported while in progress (kept across heartbeats that
    carry none), 1.0 once completed, and None otherwise.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    status: Status = Status.PENDING
    message: str = ""
    progress: float | None = None
    version: int = 0
    updated_at: datetime | None = None

    def evolve(self, event: Report) -> ComponentStatus:
        """Return the status after `event`; a final status absorbs whatever follows it."""
        return self.after([event])[0]

    def after(self, reports: Iterable[Report]) -> tuple[ComponentStatus, datetime | None]:
        """The status after `reports` in order (itself if none changes it: a final status
        absorbs whatever follows it), and the newest timestamp among those that changed it
        (None if none did). Builds one status, however many reports."""
        status, progress, newest = self.status, self.progress, None
        last: Report | None = None
        for report in reports:
            if status.is_terminal:
                break
            if report.status is Status.COMPLETED:
                progress = 1.0
            elif report.status is Status.IN_PROGRESS:
                kept = progress if status is Status.IN_PROGRESS else None
                progress = report.progress if report.progress is not None else kept
            else:
                progress = None
            status, last = report.status, report
            newest = report.timestamp if newest is None else max(newest, report.timestamp)
        if last is None:
            return self, None
        changed = ComponentStatus(
            name=self.name,
            status=status,
            message=last.message,
            progress=progress,
            version=last.originator_version,
            updated_at=last.timestamp,
        )
        return changed, newest


class ComponentState(NamedTuple):
    """What the next report of a component is decided on: its newest status and version.

    The write side's state: `ComponentStatus` is the read model. A tuple, because every
    report makes one.
    """

    name: str
    status: Status = Status.PENDING
    version: int = 0

    def evolve(self, event: StatusReported) -> ComponentState:
        """Return the state after `event`; a final status absorbs whatever follows it."""
        if self.status.is_terminal:
            return self
        return ComponentState(self.name, event.status, event.originator_version)

    def decide(
        self,
        job_id: UUID,
        status: object,
        *,
        message: object = "",
        progress: object = None,
        at: datetime,
    ) -> StatusReported | None:
        """Return the event recording this report, or None when it repeats a final status.

        Raises `InvalidReport` for a bad status, message or progress, and `InvalidTransition`
        for any other report after a final one.
        """
        new = reportable_status(status)
        text = check_message(message)
        fraction = check_progress(progress)
        if fraction is not None and new is not Status.IN_PROGRESS:
            raise InvalidReport(
                f"progress {progress!r} is only accepted with in_progress, not {new.value!r}"
            )
        if self.status.is_terminal:
            if new is self.status:
                return None
            raise InvalidTransition(
                f"component {self.name!r} of job {job_id} is already {self.status.value}; "
                f"cannot report {new.value}"
            )
        return StatusReported(
            originator_id=component_stream_id(job_id, self.name),
            originator_version=self.version + 1,
            timestamp=at,
            job_id=job_id,
            component=self.name,
            status=new,
            message=text,
            progress=fraction,
        )
