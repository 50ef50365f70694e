"""The status projection: one pure fold from a job's events to where the job stands.

The same fold serves a replay of the events, the maintained read model and users' own
projections. Its laws (checked with Hypothesis): any interleaving that keeps each stream's
order gives the same status; folding in steps equals folding at once; a repeated final report
changes nothing; counts add up to the number of components.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, JsonValue, computed_field

from .component import ComponentStatus
from .errors import UnknownComponent
from .events import ComponentsAdded, JobCancelled, JobCreated, JobEvent, StatusReported
from .status import Status

_DEFINITION = {"job_id", "name", "metadata", "allowed_failures", "created_at"}

COMPONENT_STATUSES = (
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.RETRYING,
    Status.COMPLETED,
    Status.FAILED,
)


class JobSummary(BaseModel):
    """Where a job stands, without its per-component detail.

    `counts` has one entry per component status (pending, in_progress, retrying, completed,
    failed) and adds up to `total`. `progress` is (completed + fractions reported by
    components in progress) / total. `finished_at` is when the outcome was reached, by the
    timestamps of the reports that decided it.
    """

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    name: str | None
    metadata: dict[str, JsonValue]
    allowed_failures: int
    overall: Status
    counts: Mapping[Status, int]
    total: int
    progress: float
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    cancel_reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_finished(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.overall.is_terminal


class JobStatus(JobSummary):
    """Where a job stands, with the newest status of every component in declared order."""

    components: Mapping[str, ComponentStatus]

    def summary(self) -> JobSummary:
        """The same status without the per-component detail."""
        return JobSummary(**self.model_dump(exclude={"components", "is_finished"}))


def fold(state: JobStatus | None, events: Iterable[JobEvent]) -> JobStatus:
    """Return the status after applying `events` to `state` (None before the job exists)."""
    draft = _Draft(state)
    for event in events:
        draft.apply(event)
    return draft.build()


class _Draft:
    """Mutable scratch state for one `fold` call; never escapes it."""

    def __init__(self, state: JobStatus | None) -> None:
        self.definition: dict[str, object] | None = None
        self.components: dict[str, ComponentStatus] = {}
        self.cancel_reason: str | None = None
        self.cancelled_at: datetime | None = None
        self.updated_at: datetime | None = None
        if state is not None:
            self.definition = state.model_dump(include=_DEFINITION)
            self.components = dict(state.components)
            self.cancel_reason = state.cancel_reason
            self.cancelled_at = state.finished_at if state.cancel_reason is not None else None
            self.updated_at = state.updated_at

    def apply(self, event: JobEvent) -> None:
        if isinstance(event, StatusReported):
            if not self._report(event):
                return
        elif isinstance(event, JobCreated):
            if self.definition is not None:
                raise ValueError(f"job {event.originator_id} is created twice")
            self.definition = {
                "job_id": event.originator_id,
                "name": event.name,
                "metadata": event.metadata,
                "allowed_failures": event.allowed_failures,
                "created_at": event.timestamp,
            }
            self._add(event.components)
        elif isinstance(event, ComponentsAdded):
            self._add(event.components)
        elif isinstance(event, JobCancelled):
            if self.cancel_reason is not None:
                return
            self.cancel_reason, self.cancelled_at = event.reason, event.timestamp
        if self.updated_at is None or event.timestamp > self.updated_at:
            self.updated_at = event.timestamp

    def _add(self, names: Iterable[str]) -> None:
        for name in names:
            self.components.setdefault(name, ComponentStatus(name=name))

    def _report(self, event: StatusReported) -> bool:
        try:
            current = self.components[event.component]
        except KeyError:
            raise UnknownComponent(
                f"job {event.job_id} has no component {event.component!r}"
            ) from None
        new = current.evolve(event)
        self.components[event.component] = new
        return new is not current

    def build(self) -> JobStatus:
        definition = self.definition
        if definition is None:
            raise ValueError("a job's events must start with JobCreated")
        allowed_failures = definition["allowed_failures"]
        assert isinstance(allowed_failures, int)
        counts = dict.fromkeys(COMPONENT_STATUSES, 0)
        partial = 0.0
        for component in self.components.values():
            counts[component.status] += 1
            if component.status is Status.IN_PROGRESS and component.progress is not None:
                partial += component.progress
        total = len(self.components)
        overall, finished_at = self._outcome(allowed_failures, counts, total)
        return JobStatus(
            **definition,
            overall=overall,
            counts=counts,
            total=total,
            progress=(counts[Status.COMPLETED] + partial) / total,
            updated_at=self.updated_at,
            finished_at=finished_at,
            cancel_reason=self.cancel_reason,
            components=self.components,
        )

    def _outcome(
        self, allowed_failures: int, counts: Mapping[Status, int], total: int
    ) -> tuple[Status, datetime | None]:
        if self.cancel_reason is not None:
            return Status.CANCELLED, self.cancelled_at
        if counts[Status.FAILED] > allowed_failures:
            return Status.FAILED, sorted(self._finished_times(Status.FAILED))[allowed_failures]
        if counts[Status.COMPLETED] + counts[Status.FAILED] == total:
            return Status.COMPLETED, max(
                self._finished_times(Status.COMPLETED, Status.FAILED), default=None
            )
        if counts[Status.PENDING] < total:
            return Status.IN_PROGRESS, None
        return Status.PENDING, None

    def _finished_times(self, *statuses: Status) -> list[datetime]:
        return [
            c.updated_at
            for c in self.components.values()
            if c.status in statuses and c.updated_at is not None
        ]
