"""The gap-safe feed of the PostgreSQL store: what a reader may return, and subscriptions.

Writers take feed positions from a sequence without any lock held to commit, so positions
commit out of order. A reader returns a position only once every lower position is final:
committed, or never to commit (rolled back, deleted). `FeedHorizon` keeps what this process
has learnt about that; the proof is in postgres.sql (`jobledger_feed_horizon`) and in
docs/adapters.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Event, Lock, Thread
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import ListenNotifySubscription

if TYPE_CHECKING:
    from .postgres import PostgresApplicationRecorder


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


class Wakeups:
    """Events of this process's subscriptions, set when this process records events."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._events: set[Event] = set()

    def add(self, event: Event) -> None:
        """Wake `event` on every later local insert."""
        with self._lock:
            self._events.add(event)

    def discard(self, event: Event) -> None:
        """Stop waking `event`."""
        with self._lock:
            self._events.discard(event)

    def wake_all(self) -> None:
        """Set every registered event."""
        with self._lock:
            for event in self._events:
                event.set()


class PostgresSubscription(ListenNotifySubscription["PostgresApplicationRecorder"]):
    """Follows the feed: pulls when this process inserts and every `POLL_INTERVAL` seconds.

    There is no NOTIFY on the write path (it would serialise commits), so events recorded by
    other processes arrive within one poll interval of becoming final.
    """

    POLL_INTERVAL = 0.1

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        wakeups: Wakeups,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        self._stopping = Event()
        self._wakeups = wakeups
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        wakeups.add(self._has_been_notified)
        self._poll_thread = Thread(target=self._poll, daemon=True)
        self._poll_thread.start()

    def stop(self) -> None:
        """Stop the subscription and its polling thread."""
        super().stop()
        self._stopping.set()
        self._wakeups.discard(self._has_been_notified)

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        while not self._stopping.wait(self.POLL_INTERVAL):
            self._has_been_notified.set()
