"""The write side's component state agrees with the read model on every history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobledger.domain.component import ComponentState, ComponentStatus
from jobledger.domain.status import Status
from jobledger.testing.strategies import JobHistory, job_histories


@given(st.data(), job_histories())
def test_the_state_reports_are_decided_on_matches_the_read_model(
    data: st.DataObject, history: JobHistory
) -> None:
    for name, reports in history.reports.items():
        # Reports recorded after a final one (a race the view must absorb) included.
        late = data.draw(st.lists(st.sampled_from(reports), max_size=3)) if reports else []
        state, status = ComponentState(name), ComponentStatus(name=name)
        for event in [*reports, *late]:
            state, status = state.evolve(event), status.evolve(event)
            assert (state.status, state.version) == (status.status, status.version)


@given(st.data(), job_histories())
def test_reports_applied_together_equal_reports_applied_one_by_one(
    data: st.DataObject, history: JobHistory
) -> None:
    """`after` (the status view's batches) agrees with `evolve` (the fold), split anywhere."""
    for name, reports in history.reports.items():
        late = data.draw(st.lists(st.sampled_from(reports), max_size=3)) if reports else []
        events = [*reports, *late]
        cut = data.draw(st.integers(0, len(events)))
        one_by_one, changed = ComponentStatus(name=name), []
        for event in events:
            if (evolved := one_by_one.evolve(event)) is not one_by_one:
                one_by_one = evolved
                changed.append(event.timestamp)
        first, newest_first = ComponentStatus(name=name).after(events[:cut])
        both, newest_rest = first.after(events[cut:])
        assert both == one_by_one
        assert ComponentStatus(name=name).after(events) == (one_by_one, max(changed, default=None))
        newest = [t for t in (newest_first, newest_rest) if t is not None]
        assert max(newest, default=None) == max(changed, default=None)
        if (
            one_by_one.status is not Status.IN_PROGRESS
            and one_by_one.status is not Status.COMPLETED
        ):
            assert one_by_one.progress is None
