"""The write side's component state agrees with the read model on every history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobledger.domain.component import ComponentState, ComponentStatus
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
