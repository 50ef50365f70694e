"""A clock for tests: frozen until told to move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FrozenClock:
    """Returns the same instant until `advance()` moves it; pass it as a Tracker's clock."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new instant."""
        self.now += timedelta(seconds=seconds)
        return self.now
