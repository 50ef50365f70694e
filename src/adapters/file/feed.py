"""The file store's feed: batches named by the position of their first event, in one chain.

`feed/<position // 1024>/<position>` holds the batch whose events take positions `position`
to `position + span - 1`, so the next batch is always at `position + span`: a reader follows
the chain by name and stops at the first name that does not exist yet. It never lists a
directory to move forward, so it never skips a batch that a directory listing missed, and a
position is never filled after a reader has passed it. Entries are never removed: a batch left
empty by a deletion becomes a tombstone that keeps its span.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from eventsourcing.persistence import DataError, Notification

from .format import Batch
from .io import list_numbers, read_batch, translated

BUCKET = 1024


class Feed:
    """Reads the feed of the store at `root` and remembers where it ends."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.directory = os.path.join(root, "feed")
        self._cursor: tuple[int, int | None] | None = None  # (next position, newest batch)

    def path(self, position: int) -> str:
        """Where the batch starting at `position` lives."""
        return os.path.join(self.directory, str(position // BUCKET), str(position))

    def read(self, position: int) -> Batch | None:
        """The batch or tombstone starting at `position`, or None if there is none."""
        return read_batch(self.path(position))

    def next_position(self) -> int:
        """The position the next batch will take: one past the last ever assigned."""
        return self.end()[0]

    def end(self) -> tuple[int, int | None]:
        """The next position, and the position of the newest batch (None if there is none)."""
        with translated(self.root):
            position, newest = self._cursor or (self._newest_listed(), None)
            while (batch := read_batch(self.path(position), header_only=True)) is not None:
                if batch.span < 1:
                    raise DataError(f"damaged record {self.path(position)}: span 0")
                position, newest = position + batch.span, position
            self._cursor = (position, newest)
            return position, newest

    def appended(self, position: int, span: int) -> None:
        """Note that this process just committed a batch at `position`."""
        self._cursor = (position + span, position)

    def forget(self) -> None:
        """Drop the remembered end (it proved stale); the next look starts from a listing."""
        self._cursor = None

    def check_end(self, position: int) -> None:
        """Raise if the batch at `position` is missing although the feed goes on past it (a
        lost entry); it is read again after the end, so a commit landing meanwhile is not
        taken for damage."""
        end = self.next_position()
        if position < end and self.read(position) is None:
            raise DataError(
                f"damaged store: {self.path(position)} is missing, but the feed goes on to "
                f"position {end - 1}"
            )

    def _newest_listed(self, at_most: int | None = None) -> int:
        """The highest batch position present (not above `at_most`), from a listing; else 1."""
        limit = None if at_most is None else at_most // BUCKET
        for bucket in reversed(list_numbers(self.directory, missing_ok=False)):
            if limit is not None and bucket > limit:
                continue
            names = list_numbers(os.path.join(self.directory, str(bucket)))
            names = [name for name in names if at_most is None or name <= at_most]
            if names:
                return names[-1]
        return 1

    def notifications(
        self, first: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> list[Notification]:
        """Up to `limit` notifications with positions from `first` to `stop`, in order."""
        results: list[Notification] = []
        with translated(self.root):
            position = self._newest_listed(at_most=first)
            while len(results) < limit and (stop is None or position <= stop):
                batch = self.read(position)
                if batch is None:
                    self.check_end(position)
                    break
                for offset, event in batch.events:
                    notification_id = position + offset
                    if notification_id < first or (topics and event.topic not in topics):
                        continue
                    if (stop is not None and notification_id > stop) or len(results) == limit:
                        break
                    results.append(Notification(id=notification_id, **vars(event)))
                position += batch.span
        return results
