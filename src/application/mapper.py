"""Maps jobledger's pydantic events to eventsourcing's stored events and back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, EventSourcingError
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from ..domain.events import StatusReported
from ..domain.status import Status
from .ports import FeedRow

_IN_STORED_EVENT = {"originator_id", "originator_version"}
_STATUSES = {status.value: status for status in Status}

REPORT_TOPIC = get_topic(StatusReported)


class StoredReport(NamedTuple):
    """A stored `StatusReported`, read without validating it again: for the status view,
    which only applies what the write path validated (a `Report` to `ComponentStatus`)."""

    job_id: str
    component: str
    originator_version: int
    timestamp: datetime
    status: Status
    message: str
    progress: float | None


class PydanticMapper(Mapper[UUID]):
    """Stores an event as its JSON (minus stream id and version, which the record holds) and
    validates it back into the exact pydantic class named by its topic.

    Compression and encryption configured on the application still apply.
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        assert isinstance(domain_event, BaseModel)
        # What model_dump_json does, minus its str round trip: JSON bytes, as stored.
        state = type(domain_event).__pydantic_serializer__.to_json(
            domain_event, exclude=_IN_STORED_EVENT
        )
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            cls: Any = resolve_topic(stored_event.topic)
            event: DomainEventProtocol[UUID] = cls.model_validate_json(
                _with_stream(stored_event, self._state(stored_event.state))
            )
        except _UNREADABLE as error:
            raise _unreadable(stored_event, error) from error
        return event

    def to_report(self, row: FeedRow) -> StoredReport:
        """The fields of a stored `StatusReported` (topic `REPORT_TOPIC`), parsed as JSON
        and not validated: several times cheaper than `to_domain_event` (pydantic's JSON
        parser, too, is several times faster than `json.loads`)."""
        try:
            state = from_json(self._state(row[4]))
            return StoredReport(
                state["job_id"],
                state["component"],
                row[2],
                datetime.fromisoformat(state["timestamp"]),
                _STATUSES[state["status"]],
                state["message"],
                state["progress"],
            )
        except (*_UNREADABLE, KeyError) as error:
            raise _unreadable(_stored(row), error) from error

    def to_event(self, row: FeedRow) -> DomainEventProtocol[UUID]:
        """The event of a feed row, validated (`to_domain_event`)."""
        return self.to_domain_event(_stored(row))

    def _state(self, state: bytes) -> bytes:
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return state


def _stored(row: FeedRow) -> StoredEvent:
    _, stream, version, topic, state = row
    return StoredEvent(originator_id=stream, originator_version=version, topic=topic, state=state)


_UNREADABLE = (EventSourcingError, ValidationError, ValueError, TypeError, AttributeError)


def _unreadable(stored_event: StoredEvent, error: Exception) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot read event {stored_event.originator_version} of stream "
        f"{stored_event.originator_id} (topic {stored_event.topic!r}): {error}"
    )


def _with_stream(stored_event: StoredEvent, state: bytes) -> bytes:
    """The event's JSON object `state` with its stream id and version put back in, so that
    pydantic parses and validates it in one pass (half the time of `json.loads` and then
    validating the dict, and faster than `model_construct`: measured in docs/benchmarks.md)."""
    stream = stored_event.originator_id
    text = f'"{stream.hex}"' if isinstance(stream, UUID) else json.dumps(str(stream))
    head = f'{{"originator_id":{text},"originator_version":{int(stored_event.originator_version)}'
    rest = state.lstrip()[1:].lstrip()
    return head.encode() + (rest if rest[:1] == b"}" else b"," + rest)
