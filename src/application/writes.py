"""What a Tracker has written: the positions queries must see (read-your-writes), and a
signal for whoever waits on a change."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from uuid import UUID


class WriteLog:
    """The newest feed position this Tracker appended (and that event's stream and
    version), and a generation that moves with every append (and every view batch the store
    signals), so waiters wake at once. Safe to share between threads."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._written = 0
        self._newest: tuple[UUID, int] | None = None
        self._generation = 0

    @property
    def written(self) -> int:
        """The newest position appended here (queries catch up at least this far)."""
        return self._written

    @property
    def newest(self) -> tuple[UUID, int] | None:
        """The stream id and version of the event at `written` (None before any append)."""
        return self._newest

    @property
    def generation(self) -> int:
        """A number that changes with every append; pass it to `wait_for_change`."""
        return self._generation

    def appended(self, positions: Sequence[int], newest: tuple[UUID, int]) -> None:
        """Note events just appended at `positions`, the `newest` (stream id, version) at
        the highest, and wake the waiters."""
        with self._changed:
            if max(positions) > self._written:
                self._written, self._newest = max(positions), newest
            self._generation += 1
            self._changed.notify_all()

    def progressed(self) -> None:
        """Wake the waiters: the status view moved (another process may have caught it up)."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def deleted(self, applied: int) -> None:
        """Deleted events never show: stop expecting anything past `applied`."""
        with self._changed:
            self._written = min(self._written, applied)

    def wait_for_change(self, seen: int, timeout: float) -> None:
        """Block until the generation differs from `seen`, or `timeout` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout)
