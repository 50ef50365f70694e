"""The contract of jobledger's two capability ports, `PrunableRecorder` and
`MultiStreamRecorder`, for a store's recorder tests, and of the optional `FeedRowsRecorder`.

Mix `RecorderContract` into the test case of a store's application recorder, next to
eventsourcing's `ApplicationRecorderTestCase` (one whose `create_recorder()` returns a fresh,
empty recorder). Requires pytest.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from ..application.ports import FeedRowsRecorder, PrunableRecorder
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


class FeedRowsRecorderCase:
    """The `FeedRowsRecorder` capability: the feed as rows is the feed. Mix it into the test
    case of an application recorder that has it (one whose `create_recorder()` returns a
    fresh, empty recorder)."""

    def create_recorder(self) -> Any:
        raise NotImplementedError

    def test_the_feed_as_rows_is_the_feed(self) -> None:
        recorder = self.create_recorder()
        assert isinstance(recorder, FeedRowsRecorder)
        assert isinstance(recorder, PrunableRecorder)
        assert isinstance(recorder, ApplicationRecorder)
        streams = [uuid4() for _ in range(3)]
        events = [_event(s, v) for v in (1, 2) for s in streams]
        other = StoredEvent(streams[0], 3, "jobledger:Other", b"[1]")
        positions = [
            *(recorder.insert_events(events) or []),
            *(recorder.insert_events([other]) or []),
        ]
        events.append(other)
        recorder.delete_streams([streams[1]])
        feed = [
            (p, e.originator_id, e.originator_version, e.topic, e.state)
            for p, e in zip(positions, events, strict=True)
            if e.originator_id != streams[1]
        ]
        for after, limit, topics, until in [
            (0, 10, [], None),
            (1, 2, [], None),
            (0, 10, ["jobledger:Other"], None),
            (2, 10, ["jobledger:Test", "jobledger:Other"], positions[-2]),
            (positions[-1], 10, [], None),
        ]:
            rows = recorder.select_feed_rows(after=after, limit=limit, topics=topics, until=until)
            expected = [
                row
                for row in feed
                if row[0] > after
                and (until is None or row[0] <= until)
                and (not topics or row[3] in topics)
            ][:limit]
            assert list(rows) == expected, (after, limit, topics, until)
            assert all(type(row[4]) is bytes for row in rows)
