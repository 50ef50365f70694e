"""The file store's engine: committing batches, reading streams, and tracking records.

Layout of a store directory (docs/adapters.md explains it in full): `FORMAT`, `lock`, `feed/`
(see feed.py), `streams/` (see index.py), `tracking/<sha256 of name>`, `tmp/`, `trash/`,
and transiently `pending` (a batch with a tracking record being committed) and `prune` (a
deletion in progress, see prune.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from uuid import UUID

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    OperationalError,
    StoredEvent,
    Tracking,
)

from ..shared import Lifetime, check_tracking
from .feed import Feed
from .format import Batch, encode_batch, stream_key, tracking_key
from .index import Marker, list_markers
from .io import (
    StoreLock,
    fsync_dir,
    make_dir,
    read_batch,
    store_lock,
    temp_name,
    translated,
    write_durable,
)
from .layout import open_layout

_READ_ATTEMPTS = 20
_COMMIT_ATTEMPTS = 100
Runs = dict[str, list[tuple[int, int]]]


def version_runs(events: Iterable[StoredEvent]) -> Runs:
    """Group events by stream key into runs of consecutive versions; reject duplicates."""
    versions: dict[str, list[int]] = {}
    for event in events:
        versions.setdefault(stream_key(event.originator_id), []).append(event.originator_version)
    runs: Runs = {}
    for key, numbers in versions.items():
        numbers.sort()
        if len(set(numbers)) < len(numbers):
            raise IntegrityError(f"events for stream {key} repeat a version: {numbers}")
        starts = [n for i, n in enumerate(numbers) if i == 0 or numbers[i - 1] != n - 1]
        ends = [
            n for i, n in enumerate(numbers) if i == len(numbers) - 1 or numbers[i + 1] != n + 1
        ]
        runs[key] = list(zip(starts, ends, strict=True))
    return runs


class FileStore:
    """Events, feed and tracking records in one store directory, shared by many processes.

    A commit writes and fsyncs its batch first, then holds the store's fcntl lock only to
    check versions, claim the next feed position and link names into place; reads take no lock.
    With `create=False` a missing store is refused and opening writes nothing; `home`, the
    store directory `root` lives in, is not made a store if it holds other things and no
    store. Its recorders check `lifetime` before each use.
    """

    def __init__(
        self,
        root: str,
        lifetime: Lifetime | None = None,
        *,
        create: bool = True,
        home: str | None = None,
    ) -> None:
        self.root = os.path.abspath(root)
        self.lifetime = lifetime or Lifetime(f"the file store {self.root}")
        self.streams, self.tracking, self.tmp = (
            os.path.join(self.root, name) for name in ("streams", "tracking", "tmp")
        )
        self.pending = os.path.join(self.root, "pending")
        self.feed = Feed(self.root)
        with translated(self.root):
            open_layout(self.root, create=create, home=home)

    @property
    def lock(self) -> StoreLock:
        """The store's lock, its file opened (or created) on first use: reads need none."""
        return store_lock(os.path.join(self.root, "lock"))

    def unfinished(self) -> bool:
        """Whether a crashed process left a commit or a deletion for `recover()` to finish."""
        return any(os.path.lexists(os.path.join(self.root, n)) for n in ("pending", "prune"))

    def stream_dir(self, key: str) -> str:
        """The directory of markers of the stream with `key`."""
        return os.path.join(self.streams, key[:2], key)

    def tracking_path(self, application_name: str) -> str:
        """The file recording how far `application_name` has been processed."""
        return os.path.join(self.tracking, tracking_key(application_name))

    # Writing.

    def commit(self, events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        """Record `events` (and `tracking`) atomically and durably; return their positions."""
        runs = version_runs(events)
        if not events and tracking is None:
            return []
        with translated(self.root):
            changed = {self.stream_dir(key) for key in runs}  # directories to fsync at the end
            for directory in list(changed):
                changed.update(_make_stream_dir(directory))
            temporaries: list[str] = []
            try:
                batch = Batch(len(events), tuple(enumerate(events)), tracking)
                batch_tmp = self._write_temp(batch, temporaries) if events else None
                tracking_tmp = None
                if tracking is not None:
                    tracking_tmp = self._write_temp(Batch(0, (), tracking), temporaries)
                position = self._commit(runs, batch, batch_tmp, tracking_tmp, changed)
                if events:
                    changed.add(os.path.dirname(self.feed.path(position)))
                if tracking is not None:
                    changed.add(self.tracking)
                for directory in sorted(changed, key=len, reverse=True):
                    fsync_dir(directory)
            finally:
                for path in temporaries:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        return list(range(position, position + len(events)))

    def _write_temp(self, batch: Batch, temporaries: list[str]) -> str:
        path = temp_name(self.tmp)
        write_durable(path, encode_batch(batch))
        temporaries.append(path)
        return path

    def _commit(
        self,
        runs: Runs,
        batch: Batch,
        batch_tmp: str | None,
        tracking_tmp: str | None,
        changed: set[str],
    ) -> int:
        tracking = batch.tracking
        for _ in range(_COMMIT_ATTEMPTS):
            with self.lock.held():
                position = self.refresh_locked()
                self._check_locked(runs, tracking)
                if batch_tmp is not None:
                    markers = [
                        Marker(first, last, position, self.stream_dir(key))
                        for key, key_runs in runs.items()
                        for first, last in key_runs
                    ]
                    if not self._publish_locked(batch_tmp, markers, batch, changed):
                        continue
                if tracking is not None and tracking_tmp is not None:
                    os.rename(tracking_tmp, self.tracking_path(tracking.application_name))
                    if batch_tmp is not None:
                        os.unlink(self.pending)
                return position
        raise OperationalError(
            f"file store {self.root}: feed position {position} stayed taken although the feed "
            "ends there (a directory cache that does not refresh?)"
        )

    def _check_locked(self, runs: Runs, tracking: Tracking | None) -> None:
        """Raise `IntegrityError` on a version or tracking conflict; drop dead markers in the way.

        A dead marker is one whose batch never reached the feed (its writer was killed).
        """
        for key, key_runs in runs.items():
            for first, last in key_runs:
                for marker in list_markers(self.stream_dir(key), first, last):
                    if self.is_committed(marker, key):
                        raise IntegrityError(
                            f"stream {key} already has a version in {first}..{last}"
                        )
                    os.unlink(marker.path)  # left by a writer killed before its commit point
        if tracking is not None:
            check_tracking(tracking, self.max_tracking_id(tracking.application_name))

    def is_committed(self, marker: Marker, key: str) -> bool:
        """Whether the feed batch at the marker's position holds the marker's versions."""
        return marker.events_in(self.feed.read(marker.position), key) is not None

    def _publish_locked(
        self, batch_tmp: str, markers: list[Marker], batch: Batch, changed: set[str]
    ) -> bool:
        """Create the markers, then link the batch into the feed: the commit point.

        Returns False, having undone the markers, if the position proved taken (a stale view
        of the feed). A batch with a tracking record is first linked as `pending`, so that a
        crash before the tracking file is replaced can be finished by the next writer.
        """
        position = markers[0].position
        made = [self.pending] if batch.tracking else []
        try:
            if batch.tracking:
                os.link(batch_tmp, self.pending)
            for marker in markers:
                if not os.path.isdir(marker.directory):  # deleted meanwhile
                    changed.update(_make_stream_dir(marker.directory))
                try:
                    os.link(batch_tmp, marker.path)
                except FileExistsError:
                    raise IntegrityError(f"{marker.path}: version {marker.first} taken") from None
                made.append(marker.path)
            if make_dir(os.path.dirname(self.feed.path(position)), sync=False):
                changed.add(self.feed.directory)
            os.link(batch_tmp, self.feed.path(position))
        except BaseException as exc:
            for path in made:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if isinstance(exc, FileExistsError):
                self.feed.forget()
                return False
            raise
        self.feed.appended(position, batch.span)
        return True

    def refresh_locked(self) -> int:
        """Under the lock: finish a commit a crashed process left half done; the next position."""
        position, newest = self.feed.end()
        if os.path.lexists(self.pending):
            pending = read_batch(self.pending)
            committed = newest is not None and os.path.samestat(
                os.stat(self.pending), os.stat(self.feed.path(newest))
            )
            if pending and pending.tracking and committed:
                current = self.max_tracking_id(pending.tracking.application_name)
                if current is None or current < pending.tracking.notification_id:
                    path = self._write_temp(Batch(0, (), pending.tracking), [])
                    os.rename(path, self.tracking_path(pending.tracking.application_name))
            os.unlink(self.pending)
        return position

    # Reading.

    def events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[tuple[int, StoredEvent]]:
        """Committed events of a stream with versions in (`gt`, `lte`], lock-free, each with
        its feed position.

        Reads only the batches it needs (newest first when `desc`), and sees a stream that is
        being deleted either whole or not at all.
        """
        key = stream_key(originator_id)
        low = -(2**63) if gt is None else gt + 1
        high = 2**63 if lte is None else lte
        with translated(self.root):
            for _ in range(_READ_ATTEMPTS):
                events = self._try_events(key, low, high, desc, limit)
                if events is not None:
                    return events
        raise OperationalError(f"file store {self.root}: stream {key} kept changing while read")

    def _try_events(
        self, key: str, low: int, high: int, desc: bool, limit: int | None
    ) -> list[tuple[int, StoredEvent]] | None:
        directory = self.stream_dir(key)
        if not os.path.isdir(directory):
            os.stat(self.streams)  # a missing store is an error, a missing stream is not
            return []
        markers = list_markers(directory, low, high)
        results: list[tuple[int, StoredEvent]] = []
        for marker in reversed(markers) if desc else markers:
            batch = self.feed.read(marker.position)
            found = marker.events_in(batch, key)
            if found is None:
                if not os.path.lexists(marker.path):
                    return None  # deleted concurrently: read again
                self._check_dead_marker(marker, batch)
                continue
            found = [pair for pair in found if low <= pair[1].originator_version <= high]
            results += reversed(found) if desc else found
            if limit is not None and len(results) >= limit:
                break
        return results[:limit]

    def _check_dead_marker(self, marker: Marker, batch: Batch | None) -> None:
        """Accept a marker of a commit in flight or killed; raise if the feed lost its batch."""
        if batch is None:
            self.feed.check_end(marker.position)
            return
        feed_path = self.feed.path(marker.position)
        if os.path.samestat(os.stat(marker.path), os.stat(feed_path)):
            raise DataError(
                f"damaged store: {feed_path} lacks versions {marker.first}..{marker.last} "
                f"that {marker.path} names"
            )

    def max_tracking_id(self, application_name: str) -> int | None:
        """The highest notification id recorded as processed from `application_name`."""
        path = self.tracking_path(application_name)
        with translated(self.root):
            batch = read_batch(path)
            if batch is None:
                os.stat(self.tracking)  # a missing store is an error
                return None
        if batch.tracking is None or batch.tracking.application_name != application_name:
            raise DataError(f"damaged tracking record {path}: {batch.tracking}")
        return batch.tracking.notification_id


def _make_stream_dir(directory: str) -> list[str]:
    """Create a stream directory (and its fan-out parent); the directories that gained entries."""
    created = [
        path for path in (os.path.dirname(directory), directory) if make_dir(path, sync=False)
    ]
    return [os.path.dirname(path) for path in created]
