"""The status projection: one pure fold from a job's events to where the job stands.

The fold works event by event on a `Tally` (the job's summary accumulators) and the rows of
the components an event touches, so the same step serves a full replay (`fold`), the
maintained status view (which loads only the touched rows) and users' own projections.
Its laws (checked with Hypothesis): any interleaving that keeps each stream's order gives the
same state; folding in steps equals folding at once; a repeated final report changes
nothing; counts add up to the number of components.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, JsonValue, computed_field

from .component import ComponentStatus
from .errors import UnknownComponent
from .events import (
    ComponentsAdded,
    HookRan,
    JobCancelled,
    JobCreated,
    JobEvent,
    JobFinished,
    StatusReported,
)
from .status import Status

COMPONENT_STATUSES = (
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.RETRYING,
    Status.COMPLETED,
    Status.FAILED,
)

_MICROS = 1_000_000
"""Progress fractions are summed in millionths, so the sum is exact in any order."""


class JobSummary(BaseModel):
    """Where a job stands, without its per-component detail.

    `counts` has one entry per component status (pending, in_progress, retrying, completed,
    failed) and adds up to `total`. `progress` is (completed + fractions reported by
    components in progress) / total. `finished_at` is when the outcome was reached, by the
    timestamps of the events that decided it.
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


class Tally(BaseModel):
    """A job's summary accumulators: everything its `JobSummary` is derived from, kept
    up to date event by event without looking at unaffected components."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    name: str | None
    metadata: dict[str, JsonValue]
    allowed_failures: int
    created_at: datetime
    updated_at: datetime
    job_version: int
    counts: dict[Status, int]
    progress_micros: int = 0
    last_final_at: datetime | None = None
    failure_times: tuple[datetime, ...] = ()
    cancel_reason: str | None = None
    cancelled_at: datetime | None = None
    recorded: JobFinished | None = None

    @classmethod
    def start(cls, event: JobCreated) -> Tally:
        """The tally of a job just created: every component pending."""
        counts = dict.fromkeys(COMPONENT_STATUSES, 0)
        counts[Status.PENDING] = len(event.components)
        return cls(
            job_id=event.originator_id,
            name=event.name,
            metadata=event.metadata,
            allowed_failures=event.allowed_failures,
            created_at=event.timestamp,
            updated_at=event.timestamp,
            job_version=event.originator_version,
            counts=counts,
        )

    @property
    def total(self) -> int:
        """The number of components."""
        return sum(self.counts.values())

    def derived_outcome(self) -> tuple[Status, datetime | None]:
        """The overall status and finish time the component statuses imply."""
        counts = self.counts
        if self.cancelled_at is not None:
            return Status.CANCELLED, self.cancelled_at
        if counts[Status.FAILED] > self.allowed_failures:
            return Status.FAILED, self.failure_times[self.allowed_failures]
        if counts[Status.COMPLETED] + counts[Status.FAILED] == self.total:
            return Status.COMPLETED, self.last_final_at
        if counts[Status.PENDING] < self.total:
            return Status.IN_PROGRESS, None
        return Status.PENDING, None

    def outcome(self) -> tuple[Status, datetime | None]:
        """The overall status and finish time; a recorded finish is authoritative over the
        derived one."""
        if self.recorded is not None:
            return self.recorded.outcome, self.recorded.finished_at
        return self.derived_outcome()

    @property
    def overall(self) -> Status:
        """The overall status alone (what the views index), without building a summary."""
        return self.outcome()[0]

    def finish(self, *, at: datetime) -> JobFinished | None:
        """The event recording the outcome the components imply, if there is one and none is
        recorded yet. It claims the job stream's next version as this tally knows it, so a
        lifecycle event the tally has not seen yet makes the append conflict."""
        outcome, finished_at = self.derived_outcome()
        if self.recorded is not None or not outcome.is_terminal or finished_at is None:
            return None
        return JobFinished(
            originator_id=self.job_id,
            originator_version=self.job_version + 1,
            timestamp=at,
            outcome=outcome,
            finished_at=finished_at,
        )

    def summary(self) -> JobSummary:
        """The public summary."""
        overall, finished_at = self.outcome()
        return JobSummary(
            job_id=self.job_id,
            name=self.name,
            metadata=self.metadata,
            allowed_failures=self.allowed_failures,
            overall=overall,
            counts=self.counts,
            total=self.total,
            progress=(self.counts[Status.COMPLETED] * _MICROS + self.progress_micros)
            / (self.total * _MICROS),
            created_at=self.created_at,
            updated_at=self.updated_at,
            finished_at=finished_at,
            cancel_reason=self.cancel_reason,
        )

    def status(self, components: Mapping[str, ComponentStatus]) -> JobStatus:
        """The public status, with these statuses of the job's components."""
        return JobStatus(**dict(self.summary()), components=components)


class JobState(BaseModel):
    """The state `fold` produces: the tally and every component's status."""

    model_config = ConfigDict(frozen=True)

    tally: Tally
    components: Mapping[str, ComponentStatus]

    @property
    def status(self) -> JobStatus:
        """The public status with every component."""
        return self.tally.status(self.components)


def fold(state: JobState | None, events: Iterable[JobEvent]) -> JobState:
    """Return the state after applying `events` to `state` (None before the job exists)."""
    tally = state.tally if state else None
    components = dict(state.components) if state else {}
    for event in events:
        tally = step(tally, components, event)
    if tally is None:
        raise ValueError("a job's events must start with JobCreated")
    return JobState(tally=tally, components=components)


def step(
    tally: Tally | None, components: MutableMapping[str, ComponentStatus], event: JobEvent
) -> Tally:
    """Apply one event: update the touched entries of `components` in place and return the
    new tally. `components` must hold at least the component a report is about."""
    if isinstance(event, JobCreated):
        if tally is not None:
            raise ValueError(f"job {event.originator_id} is created twice")
        components.update((n, ComponentStatus(name=n)) for n in event.components)
        return Tally.start(event)
    if tally is None:
        raise ValueError(f"an event of job {event.originator_id} came before its creation")
    if isinstance(event, StatusReported):
        return _report(tally, components, event)
    job_version = max(tally.job_version, event.originator_version)
    if isinstance(event, HookRan):
        return tally.model_copy(update={"job_version": job_version})
    changes: dict[str, object] = {"job_version": job_version}
    if isinstance(event, ComponentsAdded):
        components.update((n, ComponentStatus(name=n)) for n in event.components)
        counts = dict(tally.counts)
        counts[Status.PENDING] += len(event.components)
        changes["counts"] = counts
    elif isinstance(event, JobCancelled) and tally.cancelled_at is None:
        changes.update(cancel_reason=event.reason, cancelled_at=event.timestamp)
    elif isinstance(event, JobFinished) and tally.recorded is None:
        changes["recorded"] = event
    return _touched(tally, event.timestamp, **changes)


def _report(
    tally: Tally, components: MutableMapping[str, ComponentStatus], event: StatusReported
) -> Tally:
    try:
        before = components[event.component]
    except KeyError:
        raise UnknownComponent(f"job {event.job_id} has no component {event.component!r}") from None
    after = before.evolve(event)
    if after is before:
        return tally
    components[event.component] = after
    return settle(tally, [(before, after)], at=event.timestamp)


def settle(
    tally: Tally, changes: Iterable[tuple[ComponentStatus, ComponentStatus]], *, at: datetime
) -> Tally:
    """The tally after components changed status, each from `before` to `after` (a
    component at most once, `after` the result of one or more reports), by reports whose
    newest timestamp is `at`: what folding those reports one by one gives (the counts,
    progress and finish times only depend on where each component starts and ends)."""
    counts = dict(tally.counts)
    micros = tally.progress_micros
    last = tally.last_final_at
    failures = list(tally.failure_times)
    for before, after in changes:
        counts[before.status] -= 1
        counts[after.status] += 1
        micros += _micros(after) - _micros(before)
        if after.status.is_terminal and after.updated_at is not None:
            last = after.updated_at if last is None else max(last, after.updated_at)
            if after.status is Status.FAILED:
                failures.append(after.updated_at)
    update: dict[str, object] = {
        "counts": counts,
        "progress_micros": micros,
        "last_final_at": last,
    }
    if len(failures) > len(tally.failure_times):
        update["failure_times"] = tuple(sorted(failures)[: tally.allowed_failures + 1])
    return _touched(tally, at, **update)


def _micros(component: ComponentStatus) -> int:
    if component.status is Status.IN_PROGRESS and component.progress is not None:
        return round(component.progress * _MICROS)
    return 0


def _touched(tally: Tally, at: datetime, **changes: object) -> Tally:
    return tally.model_copy(update={**changes, "updated_at": max(tally.updated_at, at)})
