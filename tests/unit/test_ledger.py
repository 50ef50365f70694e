"""Events survive the round trip through a store exactly; store faults become StoreError."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from jobledger import Status, StoreError
from jobledger.application.ledger import Ledger, StreamConflict
from jobledger.domain.events import JobCreated, StatusReported, component_stream_id


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
