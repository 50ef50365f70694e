"""The job aggregate: definition and lifecycle, rebuilt from the job's own stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from uuid import UUID

from .errors import InvalidTransition, JobNotFound, UnknownComponent
from .events import (
    ComponentsAdded,
    HookRan,
    JobCancelled,
    JobCreated,
    JobFinished,
    JobStreamEvent,
    component_stream_id,
)
from .status import Status
from .validation import (
    check_allowed_failures,
    check_components,
    check_message,
    check_metadata,
    check_name,
)


def define_job(
    job_id: UUID,
    components: object,
    *,
    name: str | None = None,
    metadata: Mapping[str, object] | None = None,
    allowed_failures: object = 0,
    at: datetime,
) -> JobCreated:
    """Return the event creating a job, after checking every part of its definition."""
    return JobCreated(
        originator_id=job_id,
        originator_version=1,
        timestamp=at,
        name=None if name is None else check_name(name, "job name"),
        components=check_components(components),
        metadata=check_metadata(metadata),
        allowed_failures=check_allowed_failures(allowed_failures),
    )


@dataclass(frozen=True)
class Job:
    """A job's definition (components in declared order, failure policy) and whether it was
    cancelled, as of `version` events of its stream."""

    id: UUID
    version: int
    created: JobCreated
    components: tuple[str, ...]
    cancelled: JobCancelled | None = None
    finished: JobFinished | None = None
    hook_runs: tuple[HookRan, ...] = ()

    @classmethod
    def replay(cls, job_id: UUID, events: Iterable[JobStreamEvent]) -> Job:
        """Rebuild the job from its stream; raise `JobNotFound` if the stream is empty, or
        holds only what a late writer appended after the job was pruned (no `JobCreated`)."""
        job: Job | None = None
        for event in events:
            if job is not None:
                job = job.evolve(event)
            elif isinstance(event, JobCreated):
                job = cls(event.originator_id, 1, event, event.components)
            else:
                break
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def evolve(self, event: JobStreamEvent) -> Job:
        """Return the job after one more event of its stream."""
        if isinstance(event, ComponentsAdded):
            return replace(
                self,
                version=event.originator_version,
                components=self.components + event.components,
            )
        if isinstance(event, JobCancelled):
            return replace(self, version=event.originator_version, cancelled=event)
        if isinstance(event, JobFinished):
            return replace(self, version=event.originator_version, finished=event)
        if isinstance(event, HookRan):
            return replace(
                self, version=event.originator_version, hook_runs=(*self.hook_runs, event)
            )
        raise TypeError(f"unexpected event in the stream of job {self.id}: {event!r}")

    @cached_property
    def names(self) -> frozenset[str]:
        """The set of component names, for membership tests."""
        return frozenset(self.components)

    @property
    def stream_ids(self) -> list[UUID]:
        """The ids of the job's own stream and of its components' streams."""
        return [self.id, *(component_stream_id(self.id, name) for name in self.components)]

    def require(self, component: str) -> None:
        """Raise `UnknownComponent` unless the job has a component of that name."""
        if component not in self.names:
            raise UnknownComponent(f"job {self.id} has no component {component!r}")

    def same_definition(self, other: JobCreated) -> bool:
        """True if `other` would create this very job (timestamps aside)."""
        fields = {"name", "components", "metadata", "allowed_failures"}
        return self.created.model_dump(include=fields) == other.model_dump(include=fields)

    def add_components(
        self, components: object, *, finished: bool, at: datetime
    ) -> ComponentsAdded:
        """Return the event adding components; only while the job has not finished."""
        if finished or self.finished is not None or self.cancelled is not None:
            raise InvalidTransition(f"job {self.id} has finished; no components can be added")
        return ComponentsAdded(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=at,
            components=check_components(components, existing=self.components),
        )

    def cancel(
        self, reason: object, *, finished: bool, at: datetime
    ) -> tuple[JobCancelled, JobFinished] | None:
        """Return the events cancelling the job and recording that outcome, or None if it is
        already cancelled."""
        if self.cancelled is not None:
            return None
        if finished or self.finished is not None:
            raise InvalidTransition(f"job {self.id} has already finished; it cannot be cancelled")
        cancelled = JobCancelled(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=at,
            reason=check_message(reason),
        )
        return cancelled, JobFinished(
            originator_id=self.id,
            originator_version=self.version + 2,
            timestamp=at,
            outcome=Status.CANCELLED,
            finished_at=at,
        )
