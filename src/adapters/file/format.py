"""The file store's record format: batches of stored events, tombstones and the format file.

A batch file holds the events of one `insert_events()` call (and its tracking record, if any):
a 16-byte header (magic, span, body length, CRC-32 of the body) and a body of length-prefixed
fields. A truncated or altered file fails the length or checksum test and raises `DataError`
naming the file, so damage is never skipped silently.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import DataError, StoredEvent, Tracking

FORMAT_VERSION = 1
FORMAT_TEXT = f"jobledger file store\nformat {FORMAT_VERSION}\n"
TOMBSTONE_PREFIX = "jobledger-tombstone:"

_MAGIC = b"JLB1"
_HEADER = struct.Struct(">4sIII")  # magic, span, body length, crc32(body)
HEADER_SIZE = _HEADER.size
_COUNT = struct.Struct(">I")
_EVENT = struct.Struct(">IBq")  # offset in batch, id kind, version
_LENGTH = struct.Struct(">I")
_TRACKING_ID = struct.Struct(">q")
_UUID_ID, _STR_ID = 0, 1


@dataclass(frozen=True)
class Batch:
    """The events of one insert: `(offset, event)` pairs, position = batch position + offset.

    `span` is how many feed positions the batch took when written; after a deletion the
    remaining events keep their offsets and the span is unchanged (a tombstone has no events).
    """

    span: int
    events: tuple[tuple[int, StoredEvent], ...]
    tracking: Tracking | None = None


def stream_key(originator_id: UUID | str) -> str:
    """The path-safe name of a stream: a UUID's hex, or `s` + SHA-256 of any other id.

    A UUID and its canonical string name the same stream, as in the memory store.
    """
    if isinstance(originator_id, UUID):
        return originator_id.hex
    try:
        parsed = UUID(originator_id)
    except ValueError:
        return "s" + _sha(originator_id)
    return parsed.hex if str(parsed) == originator_id else "s" + _sha(originator_id)


def tracking_key(application_name: str) -> str:
    """The path-safe name of an upstream application's tracking file."""
    return _sha(application_name)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encode_batch(batch: Batch) -> bytes:
    """Serialise a batch, header and checksum included."""
    parts = [_COUNT.pack(len(batch.events))]
    for offset, event in batch.events:
        if isinstance(event.originator_id, UUID):
            kind, raw_id = _UUID_ID, event.originator_id.bytes
        else:
            kind, raw_id = _STR_ID, event.originator_id.encode("utf-8", "surrogatepass")
        parts.append(_EVENT.pack(offset, kind, event.originator_version))
        for value in (raw_id, event.topic.encode("utf-8", "surrogatepass"), event.state):
            parts += (_LENGTH.pack(len(value)), value)
    if batch.tracking is None:
        parts.append(b"\0")
    else:
        name = batch.tracking.application_name.encode("utf-8", "surrogatepass")
        parts += (b"\1", _LENGTH.pack(len(name)), name)
        parts.append(_TRACKING_ID.pack(batch.tracking.notification_id))
    body = b"".join(parts)
    return _HEADER.pack(_MAGIC, batch.span, len(body), zlib.crc32(body)) + body


def decode_span(header: bytes, path: str) -> int:
    """The span recorded in a batch file's first `HEADER_SIZE` bytes."""
    if len(header) < HEADER_SIZE:
        raise DataError(f"damaged record {path}: truncated header ({len(header)} bytes)")
    magic, span, _, _ = _HEADER.unpack_from(header)
    if magic != _MAGIC:
        raise DataError(f"damaged record {path}: not a jobledger batch (magic {magic!r})")
    return int(span)


def decode_batch(data: bytes, path: str) -> Batch:
    """Parse a whole batch file, checking its length and checksum."""
    span = decode_span(data, path)
    _, _, length, crc = _HEADER.unpack_from(data)
    body = memoryview(data)[HEADER_SIZE:]
    if len(body) != length:
        raise DataError(f"damaged record {path}: body is {len(body)} bytes, header says {length}")
    if zlib.crc32(body) != crc:
        raise DataError(f"damaged record {path}: checksum mismatch")
    try:
        return _decode_body(span, body)
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"damaged record {path}: {exc}") from exc


def _decode_body(span: int, body: memoryview) -> Batch:
    (count,) = _COUNT.unpack_from(body)
    at = _COUNT.size
    events = []

    def chunk() -> bytes:
        nonlocal at
        (size,) = _LENGTH.unpack_from(body, at)
        at += _LENGTH.size + size
        if at > len(body):
            raise ValueError("field runs past the end of the record")
        return bytes(body[at - size : at])

    for _ in range(count):
        offset, kind, version = _EVENT.unpack_from(body, at)
        at += _EVENT.size
        raw_id, topic, state = chunk(), chunk(), chunk()
        originator_id = (
            UUID(bytes=raw_id) if kind == _UUID_ID else raw_id.decode("utf-8", "surrogatepass")
        )
        stored = StoredEvent(originator_id, version, topic.decode("utf-8", "surrogatepass"), state)
        events.append((offset, stored))
    tracking = None
    if body[at] == 1:
        at += 1
        name = chunk().decode("utf-8", "surrogatepass")
        (notification_id,) = _TRACKING_ID.unpack_from(body, at)
        tracking = Tracking(name, notification_id)
    return Batch(span, tuple(events), tracking)


def decode_tombstone(target: str, path: str) -> Batch:
    """Parse a tombstone (a symbolic link whose target records the span of a deleted batch)."""
    if target.startswith(TOMBSTONE_PREFIX) and target[len(TOMBSTONE_PREFIX) :].isdigit():
        return Batch(int(target[len(TOMBSTONE_PREFIX) :]), ())
    raise DataError(f"damaged record {path}: unexpected symbolic link to {target!r}")


def check_format(text: str, path: str) -> None:
    """Accept a format file this code can read; refuse a newer or unknown one."""
    lines = text.splitlines()
    if len(lines) != 2 or lines[0] != "jobledger file store" or not lines[1].startswith("format "):
        raise DataError(f"{path} is not a jobledger file store format file: {text[:80]!r}")
    version = lines[1].removeprefix("format ")
    if not version.isdigit():
        raise DataError(f"{path}: unreadable format version {version!r}")
    if int(version) > FORMAT_VERSION:
        raise DataError(
            f"{path}: store format {version} is newer than this jobledger reads "
            f"({FORMAT_VERSION}); upgrade jobledger"
        )
