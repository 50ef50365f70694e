"""The laws of the status fold, over every valid history and every valid recording order."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from jobledger import JobStatus, Status, fold
from jobledger.domain.events import JobEvent, StatusReported
from jobledger.testing.strategies import JobHistory, interleavings, job_histories


def terminal_count(status: JobStatus) -> int:
    return status.counts[Status.COMPLETED] + status.counts[Status.FAILED]


@given(st.data(), job_histories())
def test_any_order_that_keeps_each_stream_gives_the_same_status(
    data: st.DataObject, history: JobHistory
) -> None:
    expected = fold(None, history.in_stream_order())
    assert fold(None, data.draw(interleavings(history))) == expected


@given(st.data(), job_histories())
def test_folding_in_steps_equals_folding_at_once(data: st.DataObject, history: JobHistory) -> None:
    events = data.draw(interleavings(history))
    cuts = [1, *sorted(data.draw(st.lists(st.integers(1, len(events)), max_size=4)))]
    state = fold(None, events[:1])
    for start, stop in zip(cuts, [*cuts[1:], len(events)], strict=True):
        state = fold(state, events[start:stop])
    assert state == fold(None, events)


@given(st.data(), job_histories())
def test_repeated_final_reports_change_nothing(data: st.DataObject, history: JobHistory) -> None:
    events = data.draw(interleavings(history))
    finals = [e for e in events if isinstance(e, StatusReported) and e.status.is_terminal]
    repeats = data.draw(st.lists(st.sampled_from(finals), min_size=1, max_size=5)) if finals else []
    redelivered: list[JobEvent] = [
        r.model_copy(
            update={
                "originator_version": r.originator_version + n,
                "timestamp": r.timestamp + timedelta(hours=n),
                "message": "redelivered",
            }
        )
        for n, r in enumerate(repeats, start=1)
    ]
    assert fold(None, [*events, *repeats, *redelivered]) == fold(None, events)


@given(st.data(), job_histories())
def test_counts_add_up_and_terminal_components_never_decrease(
    data: st.DataObject, history: JobHistory
) -> None:
    events = data.draw(interleavings(history))
    state = fold(None, events[:1])
    for event in events[1:]:
        before = terminal_count(state.status)
        state = fold(state, [event])
        status = state.status
        assert sum(status.counts.values()) == status.total == len(status.components)
        assert terminal_count(status) >= before
        assert 0 <= status.progress <= 1


@given(job_histories())
def test_outcome_follows_the_policy(history: JobHistory) -> None:
    status = fold(None, history.in_stream_order()).status
    finals = [r[-1].status for r in history.reports.values() if r and r[-1].status.is_terminal]
    failed = finals.count(Status.FAILED)
    if any(e.__class__.__name__ == "JobCancelled" for e in history.job_events):
        assert status.overall is Status.CANCELLED
    elif failed > status.allowed_failures:
        assert status.overall is Status.FAILED
    elif len(finals) == status.total:
        assert status.overall is Status.COMPLETED
    assert status.is_finished == (status.finished_at is not None)
