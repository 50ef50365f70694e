"""Checks on everything a caller hands in; each failure names the offending value."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from pydantic import ConfigDict, JsonValue, TypeAdapter, ValidationError

from .errors import InvalidInput, InvalidJobDefinition, InvalidReport, JobledgerError
from .events import Event
from .status import Status

MAX_NAME_LENGTH = 512
"""Longest component or job name, in characters."""

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest status message, in UTF-8 bytes."""

_E = TypeVar("_E", bound=JobledgerError)
_METADATA = TypeAdapter(dict[str, JsonValue], config=ConfigDict(allow_inf_nan=False))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _preview(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _utf8_size(value: str, error: type[_E], what: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise error(f"{what} {_preview(value)} is not valid Unicode text") from None


def check_name(value: object, what: str = "component name") -> str:
    """Return `value` if it is a usable name: a non-blank `str` of at most 512 characters."""
    if not isinstance(value, str):
        raise InvalidJobDefinition(f"{what} must be a str, not {type(value).__name__}: {value!r}")
    if not value.strip():
        raise InvalidJobDefinition(f"{what} must not be empty or whitespace only: {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidJobDefinition(
            f"{what} {_preview(value)} has {len(value)} characters; at most {MAX_NAME_LENGTH}"
        )
    _utf8_size(value, InvalidJobDefinition, what)
    return value


def check_components(values: object, existing: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the new component names in order; reject none, blanks, bad types and duplicates."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidJobDefinition(
            f"components must be a collection of names, not {type(values).__name__}: {values!r}"
        )
    names = tuple(check_name(v) for v in values)
    if not names:
        raise InvalidJobDefinition("a job needs at least one component; got none")
    seen = set(existing)
    for name in names:
        if name in seen:
            raise InvalidJobDefinition(f"component name {_preview(name)} appears more than once")
        seen.add(name)
    return names


def check_metadata(value: Mapping[str, object] | None) -> dict[str, JsonValue]:
    """Return the metadata as a JSON-compatible dict (empty for None); NaN and infinities
    are refused, as JSON has no such numbers."""
    if value is None:
        return {}
    try:
        return _METADATA.validate_python(value, strict=True)
    except ValidationError as error:
        problem = error.errors()[0]
        # The path alternates keys (or indexes) and the JSON type tried there: keep the keys.
        where = ".".join(str(p) for p in problem["loc"][::2]) or "metadata"
        raise InvalidJobDefinition(
            f"metadata is not JSON-compatible at {where!r}: {problem['msg']}, "
            f"not {problem['input']!r:.80}"
        ) from None


def check_allowed_failures(value: object) -> int:
    """Return `value` if it is a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidJobDefinition(f"allowed_failures must be an int >= 0, not {value!r}")
    return value


def check_message(value: object) -> str:
    """Return `value` if it is a `str` of at most 64 KiB in UTF-8."""
    if not isinstance(value, str):
        raise InvalidReport(f"message must be a str, not {type(value).__name__}: {value!r}")
    size = _utf8_size(value, InvalidReport, "message")
    if size > MAX_MESSAGE_BYTES:
        raise InvalidReport(
            f"message {_preview(value)} is {size} bytes in UTF-8; at most {MAX_MESSAGE_BYTES}"
        )
    return value


def check_progress(value: object) -> float | None:
    """Return `value` as a float if it is None or a real fraction between 0 and 1."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not 0 <= value <= 1
    ):
        raise InvalidReport(f"progress must be a number from 0 to 1, not {value!r}")
    return float(value) or 0.0  # -0.0 is 0.0, or it reads back as "-0%".


def parse_job_id(value: object, error: type[_E]) -> UUID:
    """Return `value` as a UUID, raising `error` naming it if it is not one."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise error(f"malformed job id {value!r}: expected a UUID")


def parse_status(value: Status | str) -> Status:
    """Return the `Status` that `value` names, or raise `InvalidInput` naming it."""
    try:
        return Status(value)
    except ValueError:
        raise InvalidInput(f"unknown status {value!r}") from None


def check_limit(limit: object) -> int:
    """Return `limit` if it is a positive int, else raise `InvalidInput` naming it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"limit must be a positive int, not {limit!r}")
    return limit


def check_position(position: object, name: str = "after") -> int:
    """Return `position` if it is a feed position (an int, 0 or more), else `InvalidInput`."""
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise InvalidInput(f"{name} must be a feed position (an int >= 0), not {position!r}")
    return position


def check_event_types(types: Iterable[object]) -> tuple[type[Event], ...]:
    """Return `types` if each is a jobledger event class, else `InvalidInput` naming it."""
    found = tuple(types)
    for kind in found:
        if not (isinstance(kind, type) and issubclass(kind, Event)):
            raise InvalidInput(f"{kind!r} is not a jobledger event type")
    return found  # type: ignore[return-value]


def parse_cursor(cursor: object, *, default: int) -> int:
    """Return the position a page cursor holds (`default` for None), else `InvalidInput`."""
    if cursor is None:
        return default
    if isinstance(cursor, str) and cursor.isdigit():
        return int(cursor)
    raise InvalidInput(f"malformed cursor {cursor!r}: pass back a next_cursor you were given")


def is_seconds(value: float, *, positive: bool = False) -> bool:
    """Whether `value` is a number of seconds to wait: 0 or more (`inf` waits for ever, NaN
    is refused), or with `positive`, more than 0 and at most `threading.TIMEOUT_MAX`."""
    return 0 < value <= threading.TIMEOUT_MAX if positive else value >= 0


def parse_duration(text: str) -> timedelta:
    """`3d`, `12h`, `1d12h`, `90s` or `2w` as a timedelta, else `InvalidInput` naming it;
    `earlier()` decides whether it reaches back too far."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise InvalidInput(f"{text!r} is not a duration like 3d, 12h, 30m or 1d12h")
    try:
        return sum((timedelta(**{_UNITS[u]: float(n)}) for n, u in parts), timedelta())
    except OverflowError:
        raise InvalidInput(f"{text!r} reaches back before the year 1") from None


def earlier(moment: datetime, span: object, name: str) -> datetime:
    """`moment - span` for a non-negative timedelta `span`; else `InvalidInput` naming it.
    The one check of a duration, whoever counts back with it."""
    if not isinstance(span, timedelta) or span < timedelta(0):
        raise InvalidInput(f"{name} must be a non-negative timedelta, not {span!r}")
    try:
        return moment - span
    except OverflowError:
        raise InvalidInput(
            f"{name} {span} reaches back before the year 1 from {moment:%Y-%m-%d}"
        ) from None
