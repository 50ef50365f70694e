"""Events survive the round trip through a store exactly; store faults become StoreError."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from jobledger import JobNotFound, Status, StoreError, Tracker
from jobledger.application.ledger import Ledger, StreamConflict
from jobledger.application.local_view import LocalStatusView
from jobledger.application.ports import ComponentRow, JobRow
from jobledger.domain.events import ComponentsAdded, JobCreated, StatusReported, component_stream_id

Loaded = tuple[JobRow | None, list[ComponentRow]]


@pytest.fixture
def ledger() -> Ledger:
    return Ledger({"PERSISTENCE_MODULE": "jobledger.adapters.memory"})


def created(job_id=None) -> JobCreated:
    return JobCreated(
        originator_id=job_id or uuid4(),
        originator_version=1,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        name="n\0",
        components=("a", "b"),
        metadata={"x": [1, {"y": None}]},
        allowed_failures=1,
    )


def test_events_come_back_equal_with_their_types(ledger: Ledger) -> None:
    job = created()
    report = StatusReported(
        originator_id=component_stream_id(job.originator_id, "a"),
        originator_version=1,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        job_id=job.originator_id,
        component="a",
        status=Status.IN_PROGRESS,
        message="m",
        progress=0.25,
    )
    assert ledger.append(job, report) == [1, 2]
    [back] = ledger.stream(job.originator_id)
    assert back == job
    assert isinstance(back.components, tuple)
    assert ledger.stream(report.originator_id) == [report]
    assert [e for _, e in ledger.feed(types=[StatusReported])] == [report]


def test_a_taken_version_is_a_conflict(ledger: Ledger) -> None:
    job = created()
    ledger.append(job)
    with pytest.raises(StreamConflict):
        ledger.append(created(job.originator_id))


def test_damaged_events_are_a_store_error_naming_the_stream(ledger: Ledger) -> None:
    stream = uuid4()
    garbage = StoredEvent(stream, 1, "jobledger.domain.events:JobCreated", b"{not json")
    ledger.recorder.insert_events([garbage])
    with pytest.raises(StoreError, match=str(stream)):
        ledger.stream(stream)


def test_recorder_failures_are_store_errors(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("disk on fire")

    monkeypatch.setattr(ledger.recorder, "insert_events", broken)
    with pytest.raises(StoreError, match="disk on fire"):
        ledger.append(created())


def test_a_feed_event_of_a_class_that_cannot_be_imported_is_a_store_error_naming_it(
    ledger: Ledger,
) -> None:
    gone = StoredEvent(uuid4(), 1, "jobledger_gone.events:Vanished", b"{}")
    ledger.recorder.insert_events([gone])
    with pytest.raises(StoreError, match=r"jobledger_gone\.events:Vanished"):
        ledger.feed()


class FlakyView(LocalStatusView):
    """A status view whose reads of rows fail once `failing` is set."""

    failing = False

    def load(self, job_id: UUID, components: Collection[str]) -> Loaded:
        if self.failing:
            raise OperationalError("view on fire")
        return super().load(job_id, components)


def test_every_status_view_failure_is_a_store_error(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = FlakyView()
    monkeypatch.setattr(ledger.factory, "status_view", lambda: view, raising=False)
    tracker = Tracker(ledger)
    tracker.status(tracker.create_job(["a"]))  # caught up: rebuild_view reads rows at once
    view.failing = True
    with pytest.raises(StoreError, match="view on fire"):
        tracker.rebuild_view()


def test_a_job_stream_without_its_creation_is_not_found(ledger: Ledger) -> None:
    job_id = uuid4()
    ledger.append(
        ComponentsAdded(
            originator_id=job_id,
            originator_version=2,
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            components=("c",),
        )
    )
    with pytest.raises(JobNotFound, match=str(job_id)):
        ledger.job(job_id)
