"""How the command line shows things: rich tables for people, stable JSON for scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import click
from pydantic import BaseModel
from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table

from ..application.results import StaleComponent, StatusEvent
from ..domain.component import ComponentStatus
from ..domain.errors import InvalidInput
from ..domain.projection import JobSummary
from ..domain.status import Status
from ..domain.validation import earlier

STYLES = {
    Status.PENDING: "dim",
    Status.IN_PROGRESS: "cyan",
    Status.RETRYING: "yellow",
    Status.COMPLETED: "green",
    Status.FAILED: "red",
    Status.CANCELLED: "magenta",
}

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def duration(context: click.Context, option: click.Parameter, value: str) -> timedelta:
    """Option callback: `3d`, `12h`, `1d12h`, `90s` or `2w` as a timedelta, or BadParameter
    naming the option."""
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        message = f"{value!r} is not a duration like 3d, 12h, 30m or 1d12h"
        raise click.BadParameter(message, context, option)
    try:
        span = sum((timedelta(**{_UNITS[u]: float(n)}) for n, u in parts), timedelta())
        earlier(datetime.now(UTC), span, "duration")  # Every command counts back from now.
    except (OverflowError, InvalidInput):
        message = f"{value!r} reaches back before the year 1"
        raise click.BadParameter(message, context, option) from None
    return span


def emit_json(value: BaseModel | Sequence[BaseModel] | dict[str, object]) -> None:
    """Print `value` as one JSON document (pydantic models in their JSON form)."""
    if isinstance(value, BaseModel):
        data: object = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    click.echo(json.dumps(data, ensure_ascii=False))


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


def _status(status: Status) -> str:
    return f"[{STYLES[status]}]{status.value}[/]"


def summary_table(summary: JobSummary) -> Table:
    """The job's header: name, outcome, progress bar, counts, times."""
    table = Table.grid(padding=(0, 2))
    table.add_row("job", str(summary.job_id))
    if summary.name is not None:
        table.add_row("name", summary.name)
    table.add_row("status", _status(summary.overall))
    table.add_row(
        "progress",
        ProgressBar(total=1.0, completed=summary.progress, width=40),
    )
    table.add_row("", f"{summary.progress:.1%} of {summary.total} components")
    counts = ", ".join(f"{_status(s)} {n}" for s, n in summary.counts.items() if n)
    table.add_row("components", counts)
    table.add_row("created", _when(summary.created_at))
    table.add_row("updated", _when(summary.updated_at))
    if summary.finished_at is not None:
        table.add_row("finished", _when(summary.finished_at))
    if summary.cancel_reason:
        table.add_row("cancelled", summary.cancel_reason)
    return table


def components_table(components: Iterable[ComponentStatus]) -> Table:
    """One row per component: status, progress, version, last update, message."""
    table = Table("component", "status", "progress", "version", "updated", "message")
    for c in components:
        bar = "" if c.progress is None else ProgressBar(total=1.0, completed=c.progress, width=12)
        table.add_row(
            c.name, _status(c.status), bar, str(c.version), _when(c.updated_at), c.message
        )
    return table


def jobs_table(items: Iterable[JobSummary]) -> Table:
    """The job listing."""
    table = Table("job", "name", "status", "progress", "components", "created")
    for s in items:
        table.add_row(
            str(s.job_id),
            s.name or "",
            _status(s.overall),
            f"{s.progress:.0%}",
            str(s.total),
            _when(s.created_at),
        )
    return table


def history_table(events: Iterable[StatusEvent]) -> Table:
    """A job's or component's history, in recorded order."""
    table = Table("recorded", "component", "status", "progress", "version", "message")
    for e in events:
        who = e.component if e.component is not None else f"hook {e.hook}"
        progress = "" if e.progress is None else f"{e.progress:.0%}"
        table.add_row(
            _when(e.recorded_at), who, _status(e.status), progress, str(e.version), e.message
        )
    return table


def stale_table(items: Iterable[StaleComponent]) -> Table:
    """Quiet in-progress components."""
    table = Table("job", "component", "status", "last report", "message")
    for s in items:
        c = s.component
        table.add_row(str(s.job_id), c.name, _status(c.status), _when(c.updated_at), c.message)
    return table


def console() -> Console:
    """Where tables go (standard output)."""
    return Console(highlight=False)
