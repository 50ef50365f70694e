"""Ports the application layer needs from stores and from its surroundings.

Stores are eventsourcing persistence modules: their recorders implement eventsourcing's
recorder ABCs (the event port, growing by capability), and the application recorder also
implements `PrunableRecorder` so that finished jobs can be deleted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID


class PrunableRecorder(ABC):
    """Capability of an application recorder to delete whole event streams."""

    @abstractmethod
    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        """Delete every event of the given streams, all of them or none.

        Ids with no events are ignored. The feed positions (notification ids) of the
        remaining events never change, and deleted positions are never reused.
        """


class Clock(Protocol):
    """Source of event timestamps; tests pass a frozen one."""

    def __call__(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...
