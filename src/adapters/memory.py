"""In-process store: an eventsourcing persistence module keeping everything in memory.

Thread-safe and fast; lost when the process exits. Use it in unit tests and demos, or
select it with `Tracker.open("memory://")` / `PERSISTENCE_MODULE=jobledger.adapters.memory`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from threading import RLock
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType

from ..application.local_view import LocalStatusView
from ..application.ports import MultiStreamRecorder, PrunableRecorder, StatusView
from ..application.stores import redact
from ..domain.errors import ConfigurationError
from .shared import (
    Lifetime,
    LocalSubscription,
    Wakeups,
    check_tracking,
    first_position,
    recorder_class,
)

_NAME = "the memory store"


def environment_for(url: str) -> dict[str, str]:
    """The memory store takes no settings: its URL is `memory://` (or `memory:`)."""
    if url.lower() not in {"memory:", "memory://"}:
        raise ConfigurationError(f"unsupported store URL {redact(url)!r}: expected memory://")
    return {}


class MemoryTrackingRecorder(TrackingRecorder):
    """Tracking records in a dict: the highest notification id processed per upstream."""

    def __init__(self, lifetime: Lifetime | None = None) -> None:
        self._lock = RLock()
        self._lifetime = lifetime or Lifetime(_NAME)
        self._max_tracking_ids: dict[str, int] = {}

    def insert_tracking(self, tracking: Tracking) -> None:
        self._lifetime.check()
        with self._lock:
            self._check_tracking(tracking)
            self._max_tracking_ids[tracking.application_name] = tracking.notification_id

    def _check_tracking(self, tracking: Tracking) -> None:
        check_tracking(tracking, self._max_tracking_ids.get(tracking.application_name))

    def max_tracking_id(self, application_name: str) -> int | None:
        self._lifetime.check()
        with self._lock:
            return self._max_tracking_ids.get(application_name)


class MemoryAggregateRecorder(AggregateRecorder):
    """Streams in memory, each event also given the next position of one feed."""

    def __init__(self, lifetime: Lifetime | None = None) -> None:
        self._lock = RLock()
        self._lifetime = lifetime or Lifetime(_NAME)
        self._events: dict[int, StoredEvent] = {}
        self._positions: list[int] = []
        self._streams: dict[str, dict[int, int]] = {}
        self._last_position = 0

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._insert(stored_events)
        return None

    def _insert(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        self._lifetime.check()
        with self._lock:
            self._check_new(stored_events)
            positions = []
            for stored in stored_events:
                self._last_position += 1
                position = self._last_position
                self._events[position] = stored
                self._positions.append(position)
                stream = self._streams.setdefault(str(stored.originator_id), {})
                stream[stored.originator_version] = position
                positions.append(position)
            return positions

    def _check_new(self, stored_events: Sequence[StoredEvent]) -> None:
        keys = {(str(s.originator_id), s.originator_version) for s in stored_events}
        if len(keys) < len(stored_events):
            raise IntegrityError(f"events are not unique: {stored_events}")
        for stream_id, version in keys:
            if version in self._streams.get(stream_id, {}):
                raise IntegrityError(f"stream {stream_id} already has version {version}")

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        self._lifetime.check()
        with self._lock:
            stream = self._streams.get(str(originator_id), {})
            versions = [
                v
                for v in sorted(stream, reverse=desc)
                if (gt is None or v > gt) and (lte is None or v <= lte)
            ]
            return [self._events[stream[v]] for v in versions[:limit]]


class MemoryApplicationRecorder(
    MemoryAggregateRecorder, ApplicationRecorder, PrunableRecorder, MultiStreamRecorder
):
    """Streams and one feed in memory; feed positions are never reused after a deletion."""

    def __init__(self, lifetime: Lifetime | None = None) -> None:
        super().__init__(lifetime)
        self._wakeups = Wakeups()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = self._insert(stored_events)
        self._wakeups.wake_all()
        return positions

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        self._lifetime.check()
        with self._lock:
            first = first_position(start, inclusive_of_start)
            end = len(self._positions) if stop is None else bisect_right(self._positions, stop)
            results: list[Notification] = []
            for position in self._positions[bisect_left(self._positions, first) : end]:
                stored = self._events[position]
                if topics and stored.topic not in topics:
                    continue
                results.append(Notification(id=position, **vars(stored)))
                if len(results) == limit:
                    break
            return results

    def max_notification_id(self) -> int | None:
        self._lifetime.check()
        with self._lock:
            return self._positions[-1] if self._positions else None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        self._lifetime.check()
        return LocalSubscription(self, self._wakeups, gt=gt, topics=topics, poll=None)

    def select_streams(self, originator_ids: Sequence[UUID]) -> Sequence[Notification]:
        self._lifetime.check()
        with self._lock:
            streams = [self._streams.get(str(i), {}) for i in originator_ids]
            positions = sorted({p for stream in streams for p in stream.values()})
            return [Notification(id=p, **vars(self._events[p])) for p in positions]

    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        self._lifetime.check()
        with self._lock:
            doomed: set[int] = set()
            for originator_id in originator_ids:
                doomed.update(self._streams.pop(str(originator_id), {}).values())
            for position in doomed:
                del self._events[position]
            self._positions = [p for p in self._positions if p not in doomed]


class MemoryProcessRecorder(MemoryApplicationRecorder, MemoryTrackingRecorder, ProcessRecorder):
    """Events and the tracking record of the notification that caused them, atomically."""

    def __init__(self, lifetime: Lifetime | None = None) -> None:
        MemoryApplicationRecorder.__init__(self, lifetime)
        MemoryTrackingRecorder.__init__(self, self._lifetime)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        with self._lock:
            if tracking is not None:
                self._check_tracking(tracking)
            positions = super().insert_events(stored_events, **kwargs)
            if tracking is not None:
                self._max_tracking_ids[tracking.application_name] = tracking.notification_id
        return positions


class MemoryFactory(InfrastructureFactory[MemoryTrackingRecorder]):
    """Builds the in-memory recorders; each call gives a new, empty database. Once the
    factory is closed, everything it built refuses use."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self._lifetime = Lifetime(_NAME)
        self._view = LocalStatusView(_NAME)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return MemoryAggregateRecorder(self._lifetime)

    def application_recorder(self) -> ApplicationRecorder:
        return MemoryApplicationRecorder(self._lifetime)

    def tracking_recorder(
        self, tracking_recorder_class: type[MemoryTrackingRecorder] | None = None
    ) -> MemoryTrackingRecorder:
        key = self.TRACKING_RECORDER_TOPIC
        chosen = recorder_class(self.env, key, MemoryTrackingRecorder, tracking_recorder_class)
        return chosen(self._lifetime)

    def process_recorder(self) -> ProcessRecorder:
        return MemoryProcessRecorder(self._lifetime)

    def status_view(self) -> StatusView:
        """The status view, in memory like everything else here: one per store."""
        self._lifetime.check()
        return self._view

    def close(self) -> None:
        """Make every recorder and view built here refuse use."""
        self._lifetime.close()
        self._view.close()
