"""A small thread-safe cache that forgets its oldest entries."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class BoundedCache(Generic[_K, _V]):
    """Maps keys to values, keeping at most `size` entries (oldest written are dropped)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[_K, _V] = {}
        self._lock = threading.Lock()

    def get(self, key: _K) -> _V | None:
        """The value stored for `key`, or None."""
        return self._entries.get(key)

    def put(self, key: _K, value: _V) -> None:
        """Store `value` for `key`, dropping the oldest entry if full."""
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = value
            if len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]

    def discard(self, key: _K) -> None:
        """Forget `key` if present."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
