"""Hypothesis strategies for property-testing projections of jobledger events.

They draw what real stores record: `job_histories()` draws a valid job, its own stream
(components added, a cancellation with its finish record, a finish record, hook runs after
it) and each component's reports (versions 1, 2, ...; redelivered in-progress reports
recorded twice; nothing after a final status). `interleavings(history)` draws an order a
store could record them in: each stream keeps its order, reports wait for their component to
be declared, a finish record comes only after the events that cause it, components are added
and jobs cancelled only before an outcome, and reports may arrive late, after the finish.
`feeds()` interleaves several jobs into one feed.

Timestamps come from the writers' clocks: few distinct instants (many ties, as on a coarse
clock) and, within one stream, they may go backwards (clock skew between workers); pass
`monotonic=True` for clocks that never go back within a stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st

from ..domain.events import (
    ComponentsAdded,
    HookRan,
    JobCancelled,
    JobCreated,
    JobEvent,
    JobFinished,
    JobStreamEvent,
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


def _clock(draw: st.DrawFn, count: int, monotonic: bool) -> list[datetime]:
    """`count` timestamps for one stream: in any order, or never going back."""
    drawn = [draw(timestamps) for _ in range(count)]
    return sorted(drawn) if monotonic else drawn


@dataclass(frozen=True)
class JobHistory:
    """A valid job: `job_events` (its own stream) and the reports of each component in version
    order."""

    job_events: tuple[JobStreamEvent, ...]
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
        """One order that folds alike: the job's events, then each component's reports."""
        events: list[JobEvent] = list(self.job_events)
        for reports in self.reports.values():
            events.extend(reports)
        return events


@st.composite
def component_histories(
    draw: st.DrawFn, job_id: UUID, component: str, max_reports: int = 6, monotonic: bool = False
) -> tuple[StatusReported, ...]:
    """Draw a valid report history of one component: non-final reports (a redelivered one
    recorded again, unchanged), then maybe a final one."""
    steps = draw(
        st.lists(st.sampled_from([Status.IN_PROGRESS, Status.RETRYING]), max_size=max_reports)
    )
    final = draw(st.sampled_from([None, Status.COMPLETED, Status.FAILED]))
    contents = [
        (
            status,
            draw(messages),
            draw(st.none() | fractions) if status is Status.IN_PROGRESS else None,
        )
        for status in steps
    ]
    redelivered = draw(st.booleans())
    if contents and redelivered:  # A worker got the same message twice.
        at = draw(st.integers(0, len(contents) - 1))
        contents.insert(at, contents[at])
    if final is not None:
        contents.append((final, draw(messages), None))
    times = _clock(draw, len(contents), monotonic)
    return tuple(
        StatusReported(
            originator_id=component_stream_id(job_id, component),
            originator_version=version,
            timestamp=at,
            job_id=job_id,
            component=component,
            status=status,
            message=message,
            progress=progress,
        )
        for version, ((status, message, progress), at) in enumerate(
            zip(contents, times, strict=True), start=1
        )
    )


@st.composite
def job_histories(
    draw: st.DrawFn, max_components: int = 6, max_reports: int = 6, monotonic: bool = False
) -> JobHistory:
    """Draw a valid job with its own stream and every component's report history."""
    job_id = draw(st.uuids())
    names = draw(
        st.lists(component_names, min_size=1, max_size=max_components, unique=True).filter(
            lambda ns: all(len(n) <= MAX_NAME_LENGTH for n in ns)
        )
    )
    added = draw(st.integers(min_value=0, max_value=len(names) - 1))
    initial, later = names[: len(names) - added], names[len(names) - added :]
    times = iter(_clock(draw, 5 + 2, monotonic))  # Enough for every event of the job stream.
    stream: list[JobStreamEvent] = [
        JobCreated(
            originator_id=job_id,
            originator_version=1,
            timestamp=next(times),
            name=draw(st.none() | component_names),
            components=tuple(initial),
            metadata={},
            allowed_failures=draw(st.integers(min_value=0, max_value=2)),
        )
    ]

    def version() -> int:
        return len(stream) + 1

    if later:
        stream.append(
            ComponentsAdded(
                originator_id=job_id,
                originator_version=version(),
                timestamp=next(times),
                components=tuple(later),
            )
        )
    if draw(st.booleans()):
        stream.append(
            JobCancelled(
                originator_id=job_id,
                originator_version=version(),
                timestamp=next(times),
                reason=draw(messages),
            )
        )
    reports = {n: draw(component_histories(job_id, n, max_reports, monotonic)) for n in names}
    finished = fold(None, JobHistory(tuple(stream), reports).in_stream_order()).tally.finish(
        at=next(times)
    )
    cancelled = isinstance(stream[-1], JobCancelled)
    if finished is not None and (cancelled or draw(st.booleans())):
        stream.append(finished)  # Not yet recorded, unless a cancellation recorded it.
        for attempt in range(draw(st.integers(0, 2))):
            stream.append(
                HookRan(
                    originator_id=job_id,
                    originator_version=version(),
                    timestamp=next(times),
                    hook="notify",
                    succeeded=attempt > 0,
                )
            )
    return JobHistory(tuple(stream), reports)


@st.composite
def _recorded(draw: st.DrawFn, history: JobHistory) -> list[list[JobEvent]]:
    """One order a store could record `history` in, as the batches each insert records (see
    the module's docstring)."""
    job = list(history.job_events)
    reports = {name: list(events) for name, events in history.reports.items()}
    done: list[JobEvent] = [job.pop(0)]
    batches = [done[:]]
    declared = set(history.job_events[0].components)  # type: ignore[union-attr]

    def outcome_after(*events: JobEvent) -> bool:
        return fold(None, [*done, *events]).tally.derived_outcome()[0].is_terminal

    while job or any(reports.values()):
        before_outcome = any(isinstance(e, ComponentsAdded | JobCancelled) for e in job)
        choices: list[list[JobEvent]] = [
            [events[0]]
            for name, events in reports.items()
            if events and name in declared and not (before_outcome and outcome_after(events[0]))
        ]
        if job and (not isinstance(job[0], JobFinished) or outcome_after()):
            cancelled = isinstance(job[0], JobCancelled) and len(job) > 1
            choices.append([*job[: 2 if cancelled else 1]])  # A cancel records its finish.
        chosen = draw(st.sampled_from(choices))
        for event in chosen:
            if isinstance(event, StatusReported):
                reports[event.component].pop(0)
            else:
                job.pop(0)
                if isinstance(event, ComponentsAdded):
                    declared.update(event.components)
        done.extend(chosen)
        batches.append(chosen)
    return batches


def interleave(streams: Sequence[Sequence[JobEvent]]) -> st.SearchStrategy[list[JobEvent]]:
    """Draw merges of `streams` that keep the order within each stream."""
    tags = [index for index, stream in enumerate(streams) for _ in stream]

    def merge(order: list[int]) -> list[JobEvent]:
        cursors = [iter(stream) for stream in streams]
        return [next(cursors[index]) for index in order]

    return st.permutations(tags).map(merge)


def interleavings(history: JobHistory) -> st.SearchStrategy[list[JobEvent]]:
    """Draw orders in which a store could record `history` (see the module's docstring)."""
    return _recorded(history).map(lambda batches: [e for batch in batches for e in batch])


@st.composite
def feeds(draw: st.DrawFn, max_jobs: int = 3, monotonic: bool = False) -> list[JobEvent]:
    """Draw a feed of several jobs: each recorded as `interleavings` draws, all interleaved."""
    histories = draw(
        st.lists(
            job_histories(4, 4, monotonic),
            min_size=1,
            max_size=max_jobs,
            unique_by=lambda h: h.job_id,
        )
    )
    recorded = [draw(_recorded(h)) for h in histories]
    merged = draw(st.permutations([n for n, batches in enumerate(recorded) for _ in batches]))
    cursors = [iter(batches) for batches in recorded]
    return [event for n in merged for event in next(cursors[n])]
