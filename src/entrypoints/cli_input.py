"""What the command line reads: component names, durations, timeouts, hook registrars, and
the options that take them."""

from __future__ import annotations

import importlib
import math
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from ..application.tracker import Tracker
from ..domain.errors import InvalidInput, JobledgerError
from ..domain.validation import earlier, is_seconds, parse_duration

_F = TypeVar("_F", bound=Callable[..., Any])


def json_option(function: _F) -> _F:
    """Add `--json`: print the result as JSON for scripts."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")(
        function
    )


def file_option(function: _F) -> _F:
    """Add `--file`: read component names from a file."""
    return click.option(
        "--file", "source", help="Read component names from this file (- for stdin)."
    )(function)


def duration_option(name: str, **settings: Any) -> Callable[[_F], _F]:
    """An option taking a duration (3d, 12h, 1d12h, ...), passed on as a timedelta."""
    return click.option(name, callback=_duration, metavar="DURATION", **settings)


def _duration(context: click.Context, option: click.Parameter, value: str) -> timedelta:
    """The duration, if it can count back from now (else a usage error, like a malformed one)."""
    try:
        span = parse_duration(value)
        earlier(datetime.now(UTC), span, option.opts[0])
        return span
    except InvalidInput as error:
        raise click.BadParameter(str(error), context, option) from None


class Seconds(click.ParamType[float]):
    """A number of seconds, zero or more (`inf` waits for ever; `nan` is refused); with
    `positive`, more than zero and at most `threading.TIMEOUT_MAX`."""

    name = "seconds"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if self.positive and not is_seconds(seconds, positive=True):
            most = f"{threading.TIMEOUT_MAX:g}"
            self.fail(f"{value} is not a positive number of seconds up to {most}", param, ctx)
        if not is_seconds(seconds):
            self.fail(f"{value} is not a number of seconds >= 0", param, ctx)
        return seconds


def components(names: Sequence[str], source: str | None) -> list[str]:
    """Component names from arguments, else a file (`-` or nothing: stdin), one per line, as
    UTF-8 with or without a byte order mark."""
    if names and source is None:
        return list(names)
    stdin = source in {None, "-"}
    where = "stdin" if stdin else repr(source)
    try:
        data = sys.stdin.buffer.read() if stdin else Path(str(source)).read_bytes()
    except OSError as error:
        raise JobledgerError(f"cannot read components file {source!r}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = f"byte 0x{error.object[error.start]:02x} at offset {error.start}"
        raise JobledgerError(f"components from {where} are not UTF-8 text: {bad}") from None
    return [*names, *(line for line in text.splitlines() if line.strip())]


def register_hooks(tracker: Tracker, targets: Sequence[str]) -> None:
    """Call each `module:function` registrar with `tracker`; any failure to load or run one
    is a `JobledgerError` naming it."""
    for target in targets:
        module, _, name = target.partition(":")
        try:
            function = getattr(importlib.import_module(module), name)
        except Exception as error:  # Importing runs arbitrary code.
            raise JobledgerError(f"cannot load hook registrar {target!r}: {error}") from error
        if not callable(function):
            raise JobledgerError(f"hook registrar {target!r} is not callable")
        try:
            function(tracker)
        except Exception as error:  # A registrar is user code.
            message = f"hook registrar {target!r} failed: {type(error).__name__}: {error}"
            raise JobledgerError(message) from error
