"""The maintained status view, caught up in any batches and runs, holds exactly what the fold
gives, and records each finish due once."""

from __future__ import annotations

import time
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from jobledger import fold
from jobledger.application.ledger import Ledger
from jobledger.application.local_view import LocalStatusView
from jobledger.application.ports import ComponentRow, JobRow
from jobledger.application.view_updater import ViewUpdater
from jobledger.domain.events import JobFinished
from jobledger.testing.clock import FrozenClock
from jobledger.testing.strategies import JobHistory, interleavings, job_histories


class SlowCommits(LocalStatusView):
    """Commits that take a millisecond: the next batch's fold, in the updater's second
    thread, then always runs while the rows it depends on are being committed."""

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        time.sleep(0.001)
        super().commit(since, until, jobs, components)


@given(
    st.data(),
    st.lists(
        job_histories(max_components=4, max_reports=4),
        min_size=1,
        max_size=3,
        unique_by=lambda h: h.job_id,
    ),
)
def test_view_rows_equal_the_fold(data: st.DataObject, histories: list[JobHistory]) -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "jobledger.adapters.memory"})
    orders = [data.draw(interleavings(h)) for h in histories]
    merged = data.draw(st.permutations([i for i, order in enumerate(orders) for _ in order]))
    cursors = [iter(order) for order in orders]
    for index in merged:
        ledger.append(next(cursors[index]))
    view = SlowCommits()
    record_finishes = data.draw(st.booleans(), label="record_finishes")
    # Small batches carry a job's folded rows from batch to batch, and end runs mid-job.
    batch, run_for = (
        data.draw(st.integers(1, 3) | st.just(2_000)),
        data.draw(st.sampled_from([0, 60])),
    )
    updater = ViewUpdater(
        ledger, view, FrozenClock(), record_finishes=record_finishes, batch=batch, run_for=run_for
    )
    for cut in sorted(data.draw(st.lists(st.integers(1, len(merged)), max_size=3))):
        updater.catch_up(until=cut)
    updater.catch_up()
    assert [r.tally.job_id for r in view.jobs(status=None, before=1 << 62, limit=10)] == [
        h.job_id
        for h in sorted(histories, key=lambda h: merged.index(histories.index(h)), reverse=True)
    ]
    for history, order in zip(histories, orders, strict=True):
        stream = ledger.stream(history.job_id)
        recorded = [e for e in stream if isinstance(e, JobFinished) and e not in order]
        due = fold(None, order).tally.finish(at=FrozenClock()())
        assert len(recorded) == (1 if record_finishes and due else 0)
        expected = fold(None, [*order, *recorded])
        row, _ = view.load(history.job_id, ())
        assert row is not None
        assert row.tally == expected.tally
        rows = view.components(history.job_id, after=-1, limit=100)
        assert {r.status.name: r.status for r in rows} == dict(expected.components)
        assert [r.status.name for r in rows] == list(expected.components)
