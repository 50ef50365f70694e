"""Finding the file store's damaged feed records and moving them aside.

A damaged record (a batch that fails its length or checksum test) is refused on every read that
meets it, so one torn file stops the whole feed. `damaged()` reads every batch and names the
streams whose markers point at a damaged one. `quarantine()` keeps the bytes in
`quarantine/<position>`, moves those markers beside it, and then replaces the feed entry with a
tombstone of the same span: positions stay taken and the feed reads past it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import DataError

from ...application.ports import DamagedRecord
from .format import TOMBSTONE_PREFIX, stream_key
from .index import Marker, list_markers
from .io import fsync_dir, list_numbers, make_dir, read_batch, temp_name, translated
from .store import FileStore

QUARANTINE = "quarantine"
"""The folder of the store directory that keeps quarantined records and their markers."""

Streams = dict[int, list[tuple[UUID | str, int, int]]]


def damaged(store: FileStore) -> list[DamagedRecord]:
    """Every feed batch of `store` that cannot be read, in feed order."""
    with translated(store.root):
        positions = _listed(store)
        found: list[tuple[int, str, int | None]] = []
        for index, position in enumerate(positions):
            try:
                store.feed.read(position)
            except DataError as error:
                following = positions[index + 1] if index + 1 < len(positions) else None
                found.append((position, str(error), following))
        streams = _streams_at(store, {position for position, _, _ in found}) if found else {}
    return [
        DamagedRecord(
            location=store.feed.path(position),
            position=position,
            span=_span(store, position, following, streams.get(position, [])),
            reason=reason,
            streams=tuple(streams.get(position, [])),
        )
        for position, reason, following in found
    ]


def quarantine(store: FileStore, records: Sequence[DamagedRecord]) -> None:
    """Set `records` aside; see `CheckableRecorder.quarantine`."""
    folder = os.path.join(store.root, QUARANTINE)
    with translated(store.root), store.lock.held():
        make_dir(folder)
        for record in records:
            path = store.feed.path(record.position)
            try:
                store.feed.read(record.position)
                continue  # reads well: quarantined already
            except DataError:
                pass
            kept = os.path.join(folder, str(record.position))
            if not os.path.lexists(kept):
                os.link(path, kept, follow_symlinks=False)
            for stream, first, last in record.streams:
                key = stream_key(stream) if isinstance(stream, UUID) else stream
                marker = Marker(first, last, record.position, store.stream_dir(key)).path
                if os.path.lexists(marker):
                    os.rename(marker, os.path.join(folder, f"{record.position}.{key}.{first}"))
            tombstone = temp_name(store.tmp)
            os.symlink(f"{TOMBSTONE_PREFIX}{record.span}", tombstone)
            os.rename(tombstone, path)
            fsync_dir(os.path.dirname(path))
        fsync_dir(folder)


def _listed(store: FileStore) -> list[int]:
    """Every feed position that has an entry, ascending."""
    directory = store.feed.directory
    return [
        position
        for bucket in list_numbers(directory)
        for position in list_numbers(os.path.join(directory, str(bucket)))
    ]


def _streams_at(store: FileStore, positions: set[int]) -> Streams:
    """The stream versions whose markers point at these positions (a UUID where the stream
    key is one, else the key)."""
    found: Streams = {}
    for fan_out in sorted(os.listdir(store.streams)):
        for key in sorted(os.listdir(os.path.join(store.streams, fan_out))):
            stream: UUID | str = UUID(hex=key) if len(key) == 32 else key
            for marker in list_markers(store.stream_dir(key)):
                if marker.position in positions:
                    found.setdefault(marker.position, []).append(
                        (stream, marker.first, marker.last)
                    )
    return found


def _span(
    store: FileStore,
    position: int,
    following: int | None,
    streams: list[tuple[UUID | str, int, int]],
) -> int:
    """How many positions the batch took: up to the next entry, else its header's count,
    else the versions its markers name."""
    if following is not None:
        return following - position
    try:
        header = read_batch(store.feed.path(position), header_only=True)
    except DataError:
        header = None
    if header is not None:
        return header.span
    return max(1, sum(last - first + 1 for _, first, last in streams))
