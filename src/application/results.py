"""Read models the Tracker returns besides the status projection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, computed_field

from ..domain.component import ComponentStatus
from ..domain.events import HookRan, JobEvent, StatusReported
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recorded(self) -> bool:
        """False when the report repeated a final status and was a no-op."""
        return self.position is not None


class StatusEvent(BaseModel):
    """One entry of `history()`: a status report of a component, or a run of a hook (then
    `component` is None, `hook` names it, and `status` is completed or failed, with the
    error as `message`). `version` is the event's version in its stream."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    component: str | None
    status: Status
    message: str
    progress: float | None = None
    version: int
    recorded_at: datetime
    hook: str | None = None

    @classmethod
    def of(cls, event: StatusReported | HookRan) -> StatusEvent:
        """The history entry of a recorded report or hook run."""
        if isinstance(event, HookRan):
            return cls(
                job_id=event.originator_id,
                component=None,
                hook=event.hook,
                status=Status.COMPLETED if event.succeeded else Status.FAILED,
                message=event.error,
                version=event.originator_version,
                recorded_at=event.timestamp,
            )
        return cls(
            job_id=event.job_id,
            component=event.component,
            status=event.status,
            message=event.message,
            progress=event.progress,
            version=event.originator_version,
            recorded_at=event.timestamp,
        )


class ComponentPage(BaseModel):
    """One page of `components()`, in declared order; pass `next_cursor` back for the next
    page (None after the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ComponentStatus, ...]
    next_cursor: str | None


class StaleComponent(BaseModel):
    """An in-progress or retrying component that has reported nothing for a while."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    component: ComponentStatus


class Drift(BaseModel):
    """A view row that did not match the events: what the events give (None for a row of
    a job whose events are gone), and what was found (None if the row was missing)."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    component: str | None
    expected: str | None
    found: str | None


class ViewCheck(BaseModel):
    """What `rebuild_view()` found and repaired."""

    model_config = ConfigDict(frozen=True)

    jobs: int
    components: int
    drift: tuple[Drift, ...]


class Page(BaseModel):
    """One page of `jobs()`: newest first; pass `next_cursor` back for the next page (None
    after the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[JobSummary, ...]
    next_cursor: str | None


class FeedEvent(BaseModel):
    """One recorded event and its position in the store's feed."""

    model_config = ConfigDict(frozen=True)

    position: int
    event: JobEvent


class EventPage(BaseModel):
    """One page of `events()` in feed order; pass `next_after` back as `after` for the next
    page (it is the last item's position, or the `after` given if the page is empty)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[FeedEvent, ...]
    next_after: int
