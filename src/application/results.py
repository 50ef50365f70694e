"""Read models the Tracker returns besides the status projection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ..domain.events import StatusReported
from ..domain.projection import JobSummary
from ..domain.status import Status


class Receipt(BaseModel):
    """What `report()` did: the component's version after it and, if the report was
    recorded, the event's position in the store's feed (None for a repeated final report,
    which records nothing)."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    component: str
    status: Status
    version: int
    position: int | None

    @property
    def recorded(self) -> bool:
        """False when the report repeated a final status and was a no-op."""
        return self.position is not None


class StatusEvent(BaseModel):
    """One recorded status report, as `history()` lists it."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    component: str
    status: Status
    message: str
    progress: float | None
    version: int
    recorded_at: datetime

    @classmethod
    def of(cls, event: StatusReported) -> StatusEvent:
        """The read model of a recorded report."""
        return cls(
            job_id=event.job_id,
            component=event.component,
            status=event.status,
            message=event.message,
            progress=event.progress,
            version=event.originator_version,
            recorded_at=event.timestamp,
        )


class Page(BaseModel):
    """One page of `jobs()`: newest first; pass `next_cursor` back for the next page (None
    after the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[JobSummary, ...]
    next_cursor: str | None
