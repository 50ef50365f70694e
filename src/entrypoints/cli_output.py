"""How the command line shows things: rich tables for people, stable JSON for scripts.

Names, messages and reasons are shown literally: rich markup in them is never obeyed and
control characters (escape sequences, line breaks, bidi overrides) appear as `\\x1b`, `\\n`,
`\\u202e`. Ids and times are never wrapped or cut; times are ISO 8601 UTC ending in `Z`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain, islice

import click
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..application.results import StaleComponent, StatusEvent
from ..domain.component import ComponentStatus
from ..domain.projection import JobStatus, JobSummary
from ..domain.status import Status
from ..domain.validation import parse_cursor

STYLES = {
    Status.PENDING: "dim",
    Status.IN_PROGRESS: "cyan",
    Status.RETRYING: "yellow",
    Status.COMPLETED: "green",
    Status.FAILED: "red",
    Status.CANCELLED: "magenta",
}

# C0 and C1 controls, line and paragraph separators, bidi marks, embeddings and isolates.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_WRAPPED = frozenset({"name", "component", "message"})
"""Table columns that wrap (folding long words); the others (ids, times...) never do."""
_WIDEST = 100_000


def visible(text: str) -> str:
    """`text` with every control character written as its Python escape (`\\x1b`, `\\n`)."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def literal(text: str) -> Text:
    """`text` for a table cell: escaped by `visible` and never read as markup."""
    return Text(visible(text))


def when(moment: datetime | None) -> str:
    """A time as people read it here: ISO 8601 in UTC to the second, ending in `Z`."""
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def emit_json(value: BaseModel | Sequence[BaseModel] | dict[str, object]) -> None:
    """Print `value` as one JSON document (pydantic models in their JSON form, whose times
    end in `Z`)."""
    if isinstance(value, BaseModel):
        data: object = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    click.echo(json.dumps(data, ensure_ascii=False))


def console() -> Console:
    """Where tables go (standard output)."""
    return Console(highlight=False)


def show(*renderables: RenderableType, on: Console | None = None) -> None:
    """Print `renderables`, widening the console past the terminal if need be so that no id
    or time is cut (the terminal then wraps the long lines whole)."""
    on = on or console()
    widest = on.options.update(width=_WIDEST)
    need = max(Measurement.get(on, widest, r).minimum for r in renderables)
    on.width = max(on.width, need)
    on.print(*renderables)


def status_page(
    status: JobStatus, limit: int, cursor: str | None
) -> tuple[list[ComponentStatus], str | None]:
    """One page of the job's components, in declared order, from one snapshot; the cursor is
    the ordinal of the page's last component, as `Tracker.components` uses."""
    start = parse_cursor(cursor, default=-1) + 1
    items = list(islice(status.components.values(), start, start + limit + 1))
    return items[:limit], str(start + limit - 1) if len(items) > limit else None


def status_json(status: JobStatus, page: list[ComponentStatus], next_cursor: str | None) -> None:
    """Print the `status --json` document: the summary, one page of components, the cursor."""
    document = status.model_dump(mode="json", exclude={"components"})
    document["components"] = {c.name: c.model_dump(mode="json") for c in page}
    document["next_cursor"] = next_cursor
    emit_json(document)


def follow(summaries: Iterator[JobSummary]) -> JobSummary:
    """Draw a progress bar from each summary until the last, which is returned."""
    final = first = next(summaries)
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=console()) as progress:
        task = progress.add_task(visible(first.name or str(first.job_id)), total=1.0)
        for final in chain([first], summaries):
            label = f"{visible(final.name or str(final.job_id))} {final.overall}"
            progress.update(task, completed=final.progress, description=label)
    return final


def _status(status: Status) -> Text:
    return Text(status.value, style=STYLES[status])


def _table(*headers: str) -> Table:
    table = Table()
    for header in headers:
        wraps = header in _WRAPPED
        table.add_column(header, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    return table


def _percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{fraction:.0%}"


def summary_table(summary: JobSummary) -> Table:
    """The job's header: name, outcome, progress bar, counts, times."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    table.add_row("job", str(summary.job_id))
    if summary.name is not None:
        table.add_row("name", literal(summary.name))
    table.add_row("status", _status(summary.overall))
    table.add_row("progress", ProgressBar(total=1.0, completed=summary.progress, width=40))
    table.add_row("", f"{summary.progress:.1%} of {summary.total} components")
    counts = Text(", ").join(
        Text.assemble(_status(s), f" {n}") for s, n in summary.counts.items() if n
    )
    table.add_row("components", counts)
    table.add_row("created", when(summary.created_at))
    table.add_row("updated", when(summary.updated_at))
    if summary.finished_at is not None:
        table.add_row("finished", when(summary.finished_at))
    if summary.cancel_reason:
        table.add_row("cancelled", literal(summary.cancel_reason))
    return table


def components_table(components: Iterable[ComponentStatus]) -> Table:
    """One row per component: status, progress, version, last update, message."""
    table = _table("component", "status", "progress", "version", "updated", "message")
    for c in components:
        bar = "" if c.progress is None else ProgressBar(total=1.0, completed=c.progress, width=12)
        table.add_row(
            literal(c.name),
            _status(c.status),
            bar,
            str(c.version),
            when(c.updated_at),
            literal(c.message),
        )
    return table


def jobs_table(items: Iterable[JobSummary]) -> Table:
    """The job listing."""
    table = _table("job", "name", "status", "progress", "components", "created")
    for s in items:
        table.add_row(
            str(s.job_id),
            literal(s.name or ""),
            _status(s.overall),
            _percent(s.progress),
            str(s.total),
            when(s.created_at),
        )
    return table


def history_table(events: Iterable[StatusEvent]) -> Table:
    """A job's or component's history, in recorded order."""
    table = _table("recorded", "component", "status", "progress", "version", "message")
    for e in events:
        who = literal(e.component) if e.component is not None else literal(f"hook {e.hook}")
        table.add_row(
            when(e.recorded_at),
            who,
            _status(e.status),
            _percent(e.progress),
            str(e.version),
            literal(e.message),
        )
    return table


def stale_table(items: Iterable[StaleComponent]) -> Table:
    """Quiet in-progress components."""
    table = _table("job", "component", "status", "last report", "message")
    for s in items:
        c = s.component
        table.add_row(
            str(s.job_id),
            literal(c.name),
            _status(c.status),
            when(c.updated_at),
            literal(c.message),
        )
    return table
