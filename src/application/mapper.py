"""Maps jobledger's pydantic events to eventsourcing's stored events and back."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, EventSourcingError
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError

_IN_STORED_EVENT = {"originator_id", "originator_version"}


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
        where = (
            f"event {stored_event.originator_version} of stream {stored_event.originator_id} "
            f"(topic {stored_event.topic!r})"
        )
        try:
            cls: Any = resolve_topic(stored_event.topic)
            state = stored_event.state
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event: DomainEventProtocol[UUID] = cls.model_validate_json(
                _with_stream(stored_event, state)
            )
        except (
            EventSourcingError,
            ValidationError,
            ValueError,
            TypeError,
            AttributeError,
        ) as error:
            raise MapperDeserialisationError(f"cannot read {where}: {error}") from error
        return event


def _with_stream(stored_event: StoredEvent, state: bytes) -> bytes:
    """The event's JSON object `state` with its stream id and version put back in, so that
    pydantic parses and validates it in one pass (half the time of `json.loads` and then
    validating the dict, and faster than `model_construct`: measured in docs/benchmarks.md)."""
    stream = stored_event.originator_id
    text = f'"{stream.hex}"' if isinstance(stream, UUID) else json.dumps(str(stream))
    head = f'{{"originator_id":{text},"originator_version":{int(stored_event.originator_version)}'
    rest = state.lstrip()[1:].lstrip()
    return head.encode() + (rest if rest[:1] == b"}" else b"," + rest)
