"""Deleting whole streams from a file store: all or none, space reclaimed, positions kept.

A deletion writes an intent (`prune`, the stream keys) and then, under the store lock, moves each
stream's marker directory into `trash/` (readers see a stream whole or not at all), rewrites
every feed batch those markers name without the deleted events (a batch left empty becomes a
tombstone: a symbolic link recording its span, so positions are never reused), removes the
intent and empties the trash. A crash part-way is finished by the next opener (`recover()`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import DataError

from .format import TOMBSTONE_PREFIX, Batch, encode_batch, stream_key
from .index import Marker, list_markers
from .io import fsync_dir, temp_name, translated, write_durable
from .store import FileStore, version_runs

_STREAM_KEY = re.compile(r"[0-9a-f]{32}|s[0-9a-f]{64}")


def delete_streams(store: FileStore, originator_ids: Sequence[UUID]) -> None:
    """Delete every event of the given streams; see `PrunableRecorder.delete_streams`."""
    keys = sorted({stream_key(originator_id) for originator_id in originator_ids})
    with translated(store.root), store.lock.held():
        store.refresh_locked()
        _finish(store)
        keys = [key for key in keys if os.path.isdir(store.stream_dir(key))]
        if not keys:
            return
        temporary = temp_name(store.tmp)
        write_durable(temporary, json.dumps({"streams": keys}).encode())
        os.rename(temporary, _intent(store))
        fsync_dir(store.root)
        _apply(store, keys)


def recover(store: FileStore) -> None:
    """Finish whatever a crashed process left: a commit in flight or a deletion part-way."""
    with translated(store.root), store.lock.held():
        store.refresh_locked()
        _finish(store)


def _intent(store: FileStore) -> str:
    return os.path.join(store.root, "prune")


def _trash(store: FileStore, key: str) -> str:
    return os.path.join(store.root, "trash", key)


def _finish(store: FileStore) -> None:
    path = _intent(store)
    try:
        with open(path, "rb") as file:
            keys = json.loads(file.read())["streams"]
    except FileNotFoundError:
        keys = None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"damaged deletion record {path}: {exc}") from exc
    if keys is not None:
        if not all(isinstance(key, str) and _STREAM_KEY.fullmatch(key) for key in keys):
            raise DataError(f"damaged deletion record {path}: {keys!r:.200}")
        _apply(store, keys)
    for name in os.listdir(os.path.join(store.root, "trash")):
        shutil.rmtree(_trash(store, name))


def _apply(store: FileStore, keys: list[str]) -> None:
    for key in keys:
        if not os.path.lexists(_trash(store, key)) and os.path.isdir(store.stream_dir(key)):
            os.rename(store.stream_dir(key), _trash(store, key))
            fsync_dir(os.path.dirname(store.stream_dir(key)))
    fsync_dir(os.path.join(store.root, "trash"))
    positions = {marker.position for key in keys for marker in list_markers(_trash(store, key))}
    doomed = set(keys)
    for position in sorted(positions):
        _rewrite(store, position, doomed)
    for directory in {os.path.dirname(store.feed.path(position)) for position in positions}:
        fsync_dir(directory)
    os.unlink(_intent(store))
    fsync_dir(store.root)
    for key in keys:
        shutil.rmtree(_trash(store, key), ignore_errors=True)


def _rewrite(store: FileStore, position: int, doomed: set[str]) -> None:
    """Replace the batch at `position` by one without the doomed streams' events.

    The kept streams' markers are then linked to the new batch, so the old one's space is freed.
    """
    path = store.feed.path(position)
    batch = store.feed.read(position)
    if batch is None:
        if position >= store.feed.next_position():
            return  # named only by a marker its killed writer left: nothing to rewrite
        raise DataError(f"damaged file store: {path}, named by a deleted stream, is missing")
    keep = tuple(
        (offset, event)
        for offset, event in batch.events
        if stream_key(event.originator_id) not in doomed
    )
    if len(keep) < len(batch.events):
        temporary = temp_name(store.tmp)
        if keep:
            write_durable(temporary, encode_batch(Batch(batch.span, keep, batch.tracking)))
        else:
            os.symlink(f"{TOMBSTONE_PREFIX}{batch.span}", temporary)
        os.rename(temporary, path)
    for key, runs in version_runs(event for _, event in keep).items():
        for first, last in runs:
            marker = Marker(first, last, position, store.stream_dir(key)).path
            if os.path.exists(marker) and not os.path.samestat(os.stat(marker), os.stat(path)):
                temporary = temp_name(store.tmp)
                os.link(path, temporary)
                os.rename(temporary, marker)
