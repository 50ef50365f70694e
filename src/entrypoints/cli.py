"""The `jobledger` command line: look at jobs, report on them, clean up, run hooks, demo.

Exit codes: 0 success; 4 a jobledger error (unknown job, bad input, store unreachable...),
printed as one line on stderr; 64 a usage error. `watch` exits 0 completed, 1 failed,
2 cancelled, 3 timed out. `--json` output is documented in docs/cli.md.
"""

from __future__ import annotations

import importlib
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from ..application.stores import STORE_VARIABLE, describe_store, resolve_store_url
from ..application.tracker import Tracker
from ..domain.errors import InvalidInput, JobledgerError
from ..domain.projection import JobSummary
from ..domain.status import Status
from ..domain.validation import earlier
from . import cli_output as out
from .demo import run_demo

EXIT_ERROR = 4
EXIT_USAGE = 64
WATCH_EXITS = {Status.COMPLETED: 0, Status.FAILED: 1, Status.CANCELLED: 2}
WATCH_TIMEOUT = 3
_REDRAW = 0.5  # Seconds between redraws of `watch`.

_F = TypeVar("_F", bound=Callable[..., Any])


def _open(context: click.Context, *, create: bool = False) -> Tracker:
    """The Tracker on the chosen store; only commands that start jobs may create the store."""
    tracker = Tracker.open(context.obj["store"], create=create)
    context.call_on_close(tracker.close)
    return tracker


def json_option(function: _F) -> _F:
    """Add `--json`: print the result as JSON for scripts."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/cli.md).")(
        function
    )


def duration_option(name: str, **settings: Any) -> Callable[[_F], _F]:
    """An option taking a duration (3d, 12h, 1d12h, ...), passed on as a timedelta."""
    return click.option(name, callback=out.duration, metavar="DURATION", **settings)


def file_option(function: _F) -> _F:
    """Add `--file`: read component names from a file."""
    return click.option(
        "--file", "source", help="Read component names from this file (- for stdin)."
    )(function)


def _components(names: Sequence[str], source: str | None) -> list[str]:
    """Component names from arguments, else a file (`-` or nothing: stdin), one per line."""
    if names and source is None:
        return list(names)
    try:
        text = (
            sys.stdin.read()
            if source in {None, "-"}
            else Path(str(source)).read_text(encoding="utf-8")
        )
    except OSError as error:
        raise JobledgerError(f"cannot read components file {source!r}: {error.strerror}") from None
    return [*names, *(line for line in text.splitlines() if line.strip())]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=STORE_VARIABLE,
    help=f"Store URL (memory://, file:DIR, postgresql://...); default ${STORE_VARIABLE}, "
    "else file:.jobledger",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(context: click.Context, store: str | None, debug: bool) -> None:
    """Lock-free, event-sourced status tracking for jobs made of many components."""
    context.obj = {"store": resolve_store_url(store)}  # --debug is read by main()


@cli.command()
@click.argument("components", nargs=-1)
@file_option
@click.option("--name", help="A name for the job.")
@click.option("--allowed-failures", type=int, default=0, show_default=True)
@click.option("--job-id", help="Use this id (creating again with it is safe).")
@json_option
@click.pass_context
def create(
    context: click.Context,
    *,
    components: tuple[str, ...],
    source: str | None,
    name: str | None,
    allowed_failures: int,
    job_id: str | None,
    as_json: bool,
) -> None:
    """Create a job; components from arguments, --file, or stdin, one per line."""
    new = _open(context, create=True).create_job(
        _components(components, source),
        name=name,
        allowed_failures=allowed_failures,
        job_id=job_id,
    )
    out.emit_json({"job_id": str(new)}) if as_json else click.echo(str(new))


@cli.command()
@click.argument("job")
@click.argument("components", nargs=-1)
@file_option
@click.pass_context
def add(context: click.Context, job: str, components: tuple[str, ...], source: str | None) -> None:
    """Add components to an unfinished job."""
    _open(context).add_components(job, _components(components, source))


def _report_command(status: Status | None) -> click.Command:
    def command(
        context: click.Context, job: str, component: str, as_json: bool, **kwargs: Any
    ) -> None:
        given: Status | str = status if status is not None else kwargs.pop("status")
        receipt = _open(context).report(job, component, given, **kwargs)
        if as_json:
            out.emit_json(receipt)
        else:
            note = "" if receipt.recorded else " (already final; nothing recorded)"
            click.echo(f"{component}: {receipt.status.value}, version {receipt.version}{note}")

    params: list[click.Parameter] = [click.Argument(["job"]), click.Argument(["component"])]
    if status is None:
        params.append(click.Argument(["status"]))
    params += [
        click.Option(["--message", "-m"], default="", help="A message to record."),
        click.Option(["--progress", "-p"], type=float, help="Fraction done, 0..1 (in_progress)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print JSON (docs/cli.md)."),
    ]
    help_text = f"Report {status.value}." if status else "Report a status for a component."
    return click.Command(None, callback=click.pass_context(command), params=params, help=help_text)


cli.add_command(_report_command(None), "report")
cli.add_command(_report_command(Status.IN_PROGRESS), "start")
cli.add_command(_report_command(Status.COMPLETED), "complete")
cli.add_command(_report_command(Status.FAILED), "fail")


@cli.command()
@click.argument("job")
@click.option("--limit", default=50, show_default=True, help="Components to show.")
@json_option
@click.pass_context
def status(context: click.Context, job: str, limit: int, as_json: bool) -> None:
    """Show where a job stands."""
    tracker = _open(context)
    if as_json:
        out.emit_json(tracker.status(job))
        return
    summary = tracker.summary(job)
    page = tracker.components(job, limit=limit)
    console = out.console()
    console.print(out.summary_table(summary))
    console.print(out.components_table(page.items))
    if page.next_cursor is not None:
        console.print(f"... {summary.total - len(page.items)} more; use --limit or --json")


@cli.command()
@click.argument("job")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 3).")
@json_option
@click.pass_context
def watch(context: click.Context, job: str, timeout: float | None, as_json: bool) -> None:
    """Show live progress until the job finishes; the exit code tells the outcome."""
    tracker = _open(context)
    final: JobSummary
    try:
        if as_json:
            final = tracker.wait(job, timeout=timeout)
            out.emit_json(final)
        else:
            final = _watch_live(tracker, job, timeout)
    except TimeoutError as error:
        click.echo(f"jobledger: {error}", err=True)
        context.exit(WATCH_TIMEOUT)
    context.exit(WATCH_EXITS[final.overall])


def _watch_live(tracker: Tracker, job: str, timeout: float | None) -> JobSummary:
    """Redraw the job's progress twice a second until it finishes or `timeout` passes (this
    process reports nothing, so there is no report of its own to wake it sooner)."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=out.console()) as progress:
        task = progress.add_task(job, total=1.0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            summary = tracker.summary(job)
            progress.update(task, completed=summary.progress, description=summary.overall)
            if summary.is_finished:
                return summary
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"job {job} has not finished within {timeout} s")
            time.sleep(_REDRAW if remaining is None else min(_REDRAW, remaining))


@cli.command("list")
@click.option("--status", "wanted", type=click.Choice([s.value for s in Status]))
@click.option("--limit", default=50, show_default=True)
@click.option("--cursor", help="The next_cursor of the previous page.")
@json_option
@click.pass_context
def list_jobs(
    context: click.Context, wanted: str | None, limit: int, cursor: str | None, as_json: bool
) -> None:
    """List jobs, newest first."""
    page = _open(context).jobs(status=wanted, limit=limit, cursor=cursor)
    if as_json:
        out.emit_json(page)
        return
    out.console().print(out.jobs_table(page.items))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@cli.command()
@click.argument("job")
@click.option("--component", help="Only this component.")
@json_option
@click.pass_context
def history(context: click.Context, job: str, component: str | None, as_json: bool) -> None:
    """List what was recorded for a job, in order."""
    events = _open(context).history(job, component)
    out.emit_json(events) if as_json else out.console().print(out.history_table(events))


@cli.command()
@click.argument("job")
@click.option("--reason", default="", help="Why, for the record.")
@click.pass_context
def cancel(context: click.Context, job: str, reason: str) -> None:
    """Cancel an unfinished job."""
    _open(context).cancel(job, reason)


@cli.command()
@duration_option("--older-than", required=True, help="Finished longer ago than this: 3d, 12h")
@duration_option("--keep-failed-for", default="0s", help="Keep failed jobs this much longer.")
@click.option("--dry-run", is_flag=True, help="Only count.")
@json_option
@click.pass_context
def prune(
    context: click.Context,
    older_than: timedelta,
    keep_failed_for: timedelta,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete whole finished jobs."""
    finished_before = datetime.now(UTC) - older_than
    try:
        earlier(finished_before, keep_failed_for, "keep_failed_for")
    except InvalidInput:
        message = "reaches back before the year 1 with --older-than"
        raise click.BadParameter(message, param_hint="'--keep-failed-for'") from None
    count = _open(context).prune(
        finished_before=finished_before,
        keep_failed_for=keep_failed_for,
        dry_run=dry_run,
    )
    if as_json:
        out.emit_json({"pruned": count, "dry_run": dry_run})
    else:
        click.echo(f"{'would prune' if dry_run else 'pruned'} {count} job(s)")


@cli.command()
@duration_option("--older-than", default="10m", show_default=True, help="Quiet for this long.")
@click.option("--limit", default=100, show_default=True)
@json_option
@click.pass_context
def stale(context: click.Context, older_than: timedelta, limit: int, as_json: bool) -> None:
    """List in-progress components that stopped reporting."""
    items = _open(context).stale(older_than, limit=limit)
    out.emit_json(items) if as_json else out.console().print(out.stale_table(items))


@cli.command()
@click.argument("registrars", nargs=-1, required=True)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks.")
@click.pass_context
def hooks(context: click.Context, registrars: tuple[str, ...], once: bool, poll: float) -> None:
    """Run the hook runner. Each REGISTRAR is `module:function`, called with the Tracker to
    register hooks on it (tracker.on_completed(...) etc.)."""
    tracker = _open(context)
    for target in registrars:
        _registrar(target)(tracker)
    stopping: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, frame: stopping.append(received))
    calls = tracker.run_hooks(once=once, stop=lambda: bool(stopping), poll=poll)
    click.echo(f"{calls} hook call(s)", err=True)


def _registrar(target: str) -> Callable[[Tracker], object]:
    module, _, name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise JobledgerError(f"cannot load hook registrar {target!r}: {error}") from None
    if not callable(function):
        raise JobledgerError(f"hook registrar {target!r} is not callable")
    return function  # type: ignore[no-any-return]


@cli.command()
@click.option("--workers", default=4, show_default=True, help="Worker processes.")
@click.pass_context
def demo(context: click.Context, workers: int) -> None:
    """Play the original example: 10 downloads, 100 resizes, then one notification."""
    final = run_demo(context.obj["store"], workers=workers, console=out.console())
    context.exit(WATCH_EXITS[final.overall])


@cli.command()
@click.pass_context
def init(context: click.Context) -> None:
    """Create the store and all its tables, if missing (a PostgreSQL role without CREATE on
    the schema can then use it)."""
    _open(context, create=True).init_store()
    click.echo(f"store ready: {describe_store(context.obj['store'])}")


EXIT_DAMAGED = 5
"""`check` found damaged records and did not repair them."""


@cli.command()
@click.option("--repair", is_flag=True, help="Quarantine damaged records, rebuild the view.")
@json_option
@click.pass_context
def check(context: click.Context, repair: bool, as_json: bool) -> None:
    """Look for records the store cannot read; exit 5 if some were found and not repaired."""
    tracker = _open(context)
    result = tracker.check(repair=repair)
    if as_json:
        click.echo(result.model_dump_json())
    else:
        for damage in result.damaged:
            jobs = ", ".join(str(j) for j in damage.job_ids) or "cannot be told"
            click.echo(f"damaged record {damage.location!r} (jobs: {jobs}): {damage.reason!r}")
        for job_id in result.lost_jobs:
            click.echo(f"job {job_id} is lost: its creation was in a quarantined record")
        count = len(result.damaged)
        if not count:
            click.echo("no damaged records")
        elif result.repaired:
            click.echo(f"{count} damaged record(s) quarantined; the status view was rebuilt")
        else:
            click.echo(f"{count} damaged record(s): `jobledger check --repair` sets them aside")
    if result.damaged and not result.repaired:
        context.exit(EXIT_DAMAGED)


def main(argv: Iterable[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        returned = cli.main(args=args, prog_name="jobledger", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        error.show()
        return EXIT_USAGE
    except click.Abort:
        return EXIT_ERROR
    except (JobledgerError, click.ClickException) as error:
        if debug:
            raise
        click.echo(f"jobledger: {error}", err=True)
        return EXIT_ERROR
    return returned if isinstance(returned, int) else 0


if __name__ == "__main__":
    sys.exit(main())
