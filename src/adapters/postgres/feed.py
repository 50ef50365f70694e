"""The gap-safe feed of the PostgreSQL store: which positions a reader may return.

Writers take feed positions from a sequence without any lock held to commit, so positions
commit out of order. A reader returns a position only once every lower position is final:
committed, or never to commit (rolled back, deleted). `FeedHorizon` keeps what this process
has learnt about that; the proof is in postgres.sql (`jobledger_feed_horizon`) and in
docs/adapters.md.
"""

from __future__ import annotations

from threading import Lock


class FeedHorizon:
    """The highest feed position below which this process knows every position is final."""

    MAX_PENDING = 64

    def __init__(self) -> None:
        self._lock = Lock()
        self._decided = 0
        self._pending: list[tuple[int, int]] = []

    @property
    def decided(self) -> int:
        """Every position at or below this one is final (its row exists or never will)."""
        return self._decided

    def observe(self, last_id: int, reader_xid: int, snapshot_xmin: int, is_clear: bool) -> int:
        """Fold in one reading of `jobledger_feed_horizon()`; return `decided` afterwards.

        A clear reading makes `last_id` final at once. Otherwise (`last_id`, `reader_xid`)
        is kept until a later reading's `snapshot_xmin` reaches `reader_xid`: by then every
        transaction that took a position up to `last_id` has ended.
        """
        with self._lock:
            if is_clear:
                self._decided = max(self._decided, last_id)
            else:
                ripe = [last for last, xid in self._pending if xid <= snapshot_xmin]
                self._decided = max([self._decided, *ripe])
            self._pending = [
                (last, xid)
                for last, xid in self._pending
                if xid > snapshot_xmin and last > self._decided
            ]
            if not is_clear and last_id > self._decided:
                if len(self._pending) < self.MAX_PENDING:
                    self._pending.append((last_id, reader_xid))
                else:  # Keep the oldest readings: they ripen first.
                    self._pending[-1] = (last_id, reader_xid)
            return self._decided

    def raise_to(self, position: int) -> None:
        """Record that every position up to `position` is known to be final."""
        with self._lock:
            self._decided = max(self._decided, position)
