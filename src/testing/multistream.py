"""The contract of jobledger's `MultiStreamRecorder` capability, for a store's recorder tests.

Mix `MultiStreamRecorderCase` into the test case of a store's application recorder (one
whose `create_recorder()` returns a fresh, empty recorder). Requires pytest.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from eventsourcing.persistence import StoredEvent


class MultiStreamRecorderCase:
    """Reading several whole streams: in feed order, each event once, with its position."""

    def create_recorder(self) -> Any:
        raise NotImplementedError  # Provided by the recorder test case this is mixed into.

    def test_select_streams_in_feed_order_each_event_once(self) -> None:
        recorder = self.create_recorder()
        a, b, other = uuid4(), uuid4(), uuid4()
        for stream, version in [(a, 1), (other, 1), (b, 1), (a, 2), (b, 2)]:
            recorder.insert_events([StoredEvent(stream, version, "jobledger:Test", b"{}")])
        found = recorder.select_streams([b, a, b, uuid4()])
        assert [(n.originator_id, n.originator_version) for n in found] == [
            (a, 1),
            (b, 1),
            (a, 2),
            (b, 2),
        ]
        feed = recorder.select_notifications(1, 10)
        assert [n for n in feed if n.originator_id in (a, b)] == list(found)
        assert list(recorder.select_streams([])) == []
