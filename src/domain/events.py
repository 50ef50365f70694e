"""The immutable facts jobledger records.

A job has its own stream (created, components added, cancelled); each component has its own
stream of status reports, whose id is derived from the job id and the component name, so
reports on different components never touch the same key and their order is the stream
version, never a clock.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from .status import Status


class Event(BaseModel):
    """Base of all recorded events: the stream it belongs to, its version there, and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: UUID
    originator_version: Annotated[int, Field(ge=1)]
    timestamp: datetime


class JobCreated(Event):
    """A job was defined with its components, in the order given."""

    name: str | None
    components: tuple[str, ...]
    metadata: dict[str, JsonValue]
    allowed_failures: int


class ComponentsAdded(Event):
    """More components joined an unfinished job."""

    components: tuple[str, ...]


class JobCancelled(Event):
    """The job was cancelled; later reports are recorded but change no outcome."""

    reason: str


class JobFinished(Event):
    """The job reached its outcome: recorded once, as the next event of the job's stream."""

    outcome: Status
    finished_at: datetime


class StatusReported(Event):
    """A worker reported the status of one component of a job."""

    job_id: UUID
    component: str
    status: Status
    message: str
    progress: float | None


class HookRan(Event):
    """A hook ran for a finished job (recorded in the job's stream): it `succeeded`, or it
    raised `error`; `gave_up` marks the last attempt."""

    hook: str
    succeeded: bool
    error: str = ""
    gave_up: bool = False


JobStreamEvent = JobCreated | ComponentsAdded | JobCancelled | JobFinished | HookRan
JobEvent = JobStreamEvent | StatusReported


@lru_cache(maxsize=1 << 16)
def component_stream_id(job_id: UUID, component: str) -> UUID:
    """The id of the stream holding the reports of `component` of job `job_id` (remembered
    for recently used components: a report computes it for every event)."""
    return uuid5(job_id, component)
