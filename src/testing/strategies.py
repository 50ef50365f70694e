"""Hypothesis strategies for property-testing projections of jobledger events.

`job_histories()` draws a valid job: its own events and, per component, a valid history of
reports (versions 1, 2, ...; nothing after a final status). `interleavings(history)` draws
one order in which a store could have recorded them: the job's events and each component's
reports keep their own order, everything else is shuffled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st

from ..domain.events import (
    ComponentsAdded,
    JobCancelled,
    JobCreated,
    JobEvent,
    JobFinished,
    StatusReported,
    component_stream_id,
)
from ..domain.projection import fold
from ..domain.status import Status
from ..domain.validation import MAX_NAME_LENGTH

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

timestamps = st.integers(min_value=0, max_value=5).map(lambda s: _EPOCH + timedelta(seconds=s))
"""Few distinct instants, so that many events share one timestamp, as on a coarse clock."""

component_names = st.text(min_size=1, max_size=20).filter(str.strip)
"""Valid component names, including odd ones (any Unicode, NUL, newlines, slashes)."""

messages = st.text(max_size=20)
fractions = st.floats(min_value=0, max_value=1, allow_nan=False)


@dataclass(frozen=True)
class JobHistory:
    """A valid job: `job_events` (created, maybe components added, maybe cancelled, maybe
    its finish record) and the reports of each component in version order."""

    job_events: tuple[JobCreated | ComponentsAdded | JobCancelled | JobFinished, ...]
    reports: dict[str, tuple[StatusReported, ...]]

    @property
    def job_id(self) -> UUID:
        """The id of the job."""
        return self.job_events[0].originator_id

    @property
    def components(self) -> tuple[str, ...]:
        """Every component name, in declared order."""
        return tuple(self.reports)

    def in_stream_order(self) -> list[JobEvent]:
        """One valid order: the job's events, then each component's reports in turn."""
        events: list[JobEvent] = list(self.job_events)
        for reports in self.reports.values():
            events.extend(reports)
        return events


@st.composite
def component_histories(
    draw: st.DrawFn, job_id: UUID, component: str, max_reports: int = 6
) -> tuple[StatusReported, ...]:
    """Draw a valid report history of one component: non-final reports, then maybe a final."""
    steps = draw(
        st.lists(st.sampled_from([Status.IN_PROGRESS, Status.RETRYING]), max_size=max_reports)
    )
    final = draw(st.sampled_from([None, Status.COMPLETED, Status.FAILED]))
    statuses = [*steps, final] if final is not None else steps
    return tuple(
        StatusReported(
            originator_id=component_stream_id(job_id, component),
            originator_version=version,
            timestamp=draw(timestamps),
            job_id=job_id,
            component=component,
            status=status,
            message=draw(messages),
            progress=draw(st.none() | fractions) if status is Status.IN_PROGRESS else None,
        )
        for version, status in enumerate(statuses, start=1)
    )


@st.composite
def job_histories(draw: st.DrawFn, max_components: int = 6, max_reports: int = 6) -> JobHistory:
    """Draw a valid job with its events and every component's report history."""
    job_id = draw(st.uuids())
    names = draw(
        st.lists(component_names, min_size=1, max_size=max_components, unique=True).filter(
            lambda ns: all(len(n) <= MAX_NAME_LENGTH for n in ns)
        )
    )
    added = draw(st.integers(min_value=0, max_value=len(names) - 1))
    initial, later = names[: len(names) - added], names[len(names) - added :]
    job_events: list[JobCreated | ComponentsAdded | JobCancelled | JobFinished] = [
        JobCreated(
            originator_id=job_id,
            originator_version=1,
            timestamp=draw(timestamps),
            name=draw(st.none() | component_names),
            components=tuple(initial),
            metadata={},
            allowed_failures=draw(st.integers(min_value=0, max_value=2)),
        )
    ]
    if later:
        job_events.append(
            ComponentsAdded(
                originator_id=job_id,
                originator_version=2,
                timestamp=draw(timestamps),
                components=tuple(later),
            )
        )
    if draw(st.booleans()):
        job_events.append(
            JobCancelled(
                originator_id=job_id,
                originator_version=len(job_events) + 1,
                timestamp=draw(timestamps),
                reason=draw(messages),
            )
        )
    reports = {name: draw(component_histories(job_id, name, max_reports)) for name in names}
    history = JobHistory(tuple(job_events), reports)
    finished = fold(None, history.in_stream_order()).tally.finish(at=draw(timestamps))
    if finished is not None and draw(st.booleans()):
        history = JobHistory((*history.job_events, finished), reports)
    return history


def interleave(streams: Sequence[Sequence[JobEvent]]) -> st.SearchStrategy[list[JobEvent]]:
    """Draw merges of `streams` that keep the order within each stream."""
    tags = [index for index, stream in enumerate(streams) for _ in stream]

    def merge(order: list[int]) -> list[JobEvent]:
        cursors = [iter(stream) for stream in streams]
        return [next(cursors[index]) for index in order]

    return st.permutations(tags).map(merge)


def interleavings(history: JobHistory) -> st.SearchStrategy[list[JobEvent]]:
    """Draw orders in which a store could record `history`: creation and added components
    first (reports need their component to exist), then the rest of the job's stream
    (cancellation, finish record) and every component's reports interleaved."""
    setup = [e for e in history.job_events if isinstance(e, JobCreated | ComponentsAdded)]
    later = [e for e in history.job_events if isinstance(e, JobCancelled | JobFinished)]
    return interleave([later, *history.reports.values()]).map(lambda rest: [*setup, *rest])
