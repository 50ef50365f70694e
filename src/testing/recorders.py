"""The contract of jobledger's two capability ports, `PrunableRecorder` and
`MultiStreamRecorder`, for a store's recorder tests.

Mix `RecorderContract` into the test case of a store's application recorder, next to
eventsourcing's `ApplicationRecorderTestCase` (one whose `create_recorder()` returns a fresh,
empty recorder). Requires pytest.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from .multistream import MultiStreamRecorderCase


def _event(stream: UUID, version: int) -> StoredEvent:
    return StoredEvent(stream, version, "jobledger:Test", b"{}")


class RecorderContract(MultiStreamRecorderCase):
    """Deleting whole streams without renumbering or reusing positions, and reading several
    whole streams in feed order."""

    def test_deleted_streams_leave_other_positions_untouched(self) -> None:
        recorder = self.create_recorder()
        keep, drop = uuid4(), uuid4()
        recorder.insert_events([_event(drop, 1), _event(keep, 1)])
        [kept] = recorder.select_events(keep)
        recorder.insert_events([_event(drop, 2)])
        before = [n.id for n in recorder.select_notifications(1, 10) if n.originator_id == keep]
        recorder.delete_streams([drop, uuid4()])
        recorder.delete_streams([])
        assert list(recorder.select_events(drop)) == []
        assert list(recorder.select_events(keep)) == [kept]
        assert [n.id for n in recorder.select_notifications(1, 10)] == before

    def test_positions_are_never_reused_after_the_newest_events_are_deleted(self) -> None:
        recorder = self.create_recorder()
        first, newest = uuid4(), uuid4()
        recorder.insert_events([_event(first, 1)])
        [position] = recorder.insert_events([_event(newest, 1), _event(newest, 2)])[-1:]
        recorder.delete_streams([newest])
        [again] = recorder.insert_events([_event(newest, 1)])
        assert again > position, f"position {again} was handed out again after a deletion"
        recorder.delete_streams([first, newest])  # Now the feed is empty.
        [after_all] = recorder.insert_events([_event(uuid4(), 1)])
        assert after_all > again, f"position {after_all} was handed out again"
