"""The `jobledger` command line: look at jobs, report on them, clean up, run hooks, demo.

Exit codes: 0 success; 4 an error (unknown job, bad input, store unreachable, memory://...),
printed as one line on stderr, with the traceback only under --debug; 64 a usage error;
130 interrupted. `watch` exits 0 completed, 1 failed, 2 cancelled, 3 timed out. Output is
documented in docs/cli.md.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import click

from ..application.stores import STORE_VARIABLE, describe_store, resolve_store_url
from ..application.tracker import Tracker
from ..domain.errors import JobledgerError
from ..domain.projection import JobSummary
from ..domain.status import JOB_STATUSES, Status
from ..domain.validation import earlier
from . import cli_output as out
from .cli_input import Seconds, components, duration_option, file_option, json_option
from .cli_input import register_hooks as load_hooks
from .cli_serve import serve, serve_demo
from .demo import QUEUES, run_demo

EXIT_ERROR = 4
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130
WATCH_EXITS = {Status.COMPLETED: 0, Status.FAILED: 1, Status.CANCELLED: 2}
WATCH_TIMEOUT = 3
PAGE = 50
"""Components shown by `status` (unless --limit) and `watch --json`."""


def _open(context: click.Context, *, create: bool = False) -> Tracker:
    """The Tracker on the chosen store; only commands that start jobs may create the store."""
    tracker = Tracker.open(context.obj["store"], create=create)
    context.call_on_close(tracker.close)
    return tracker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=STORE_VARIABLE,
    help=f"Store URL (file:DIR, postgresql://...; memory:// for demo only); default "
    f"${STORE_VARIABLE}, else file:.jobledger",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(context: click.Context, store: str | None, debug: bool) -> None:
    """Lock-free, event-sourced status tracking for jobs made of many components."""
    url = resolve_store_url(store)  # --debug is read by main()
    if url.lower().startswith("memory:") and context.invoked_subcommand != "demo":
        raise JobledgerError(
            "memory:// keeps jobs only while one command runs; use a file: or postgresql:// "
            "store (memory:// serves only `demo`)"
        )
    context.obj = {"store": url}


@cli.command()
@click.argument("names", nargs=-1)
@file_option
@click.option("--name", help="A name for the job.")
@click.option("--allowed-failures", type=int, default=0, show_default=True)
@click.option("--job-id", help="Use this id (creating again with it is safe).")
@json_option
@click.pass_context
def create(
    context: click.Context,
    *,
    names: tuple[str, ...],
    source: str | None,
    name: str | None,
    allowed_failures: int,
    job_id: str | None,
    as_json: bool,
) -> None:
    """Create a job; components from arguments, --file, or stdin, one per line."""
    new = _open(context, create=True).create_job(
        components(names, source),
        name=name,
        allowed_failures=allowed_failures,
        job_id=job_id,
    )
    out.emit_json({"job_id": str(new)}) if as_json else click.echo(str(new))


@cli.command()
@click.argument("job")
@click.argument("names", nargs=-1)
@file_option
@json_option
@click.pass_context
def add(
    context: click.Context, job: str, names: tuple[str, ...], source: str | None, as_json: bool
) -> None:
    """Add components to an unfinished job."""
    added = components(names, source)
    _open(context).add_components(job, added)
    job_id = str(UUID(job))  # As the Tracker accepted it.
    if as_json:
        out.emit_json({"job_id": job_id, "added": len(added)})
    else:
        click.echo(f"added {len(added)} component(s) to job {job_id}")


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
            shown = out.visible(component)
            click.echo(f"{shown}: {receipt.status.value}, version {receipt.version}{note}")

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
@click.option("--limit", type=click.IntRange(min=1), default=PAGE, show_default=True,
              help="Components to show.")  # fmt: skip
@click.option("--cursor", help="The next_cursor of the previous page.")
@json_option
@click.pass_context
def status(context: click.Context, job: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """Show where a job stands, with one page of its components."""
    snapshot = _open(context).status(job)
    page, next_cursor = out.status_page(snapshot, limit, cursor)
    if as_json:
        out.status_json(snapshot, page, next_cursor)
        return
    out.show(out.summary_table(snapshot), out.components_table(page))
    if next_cursor is not None:
        click.echo(f"... {snapshot.total - int(next_cursor) - 1} more: --cursor {next_cursor}")


@cli.command()
@click.argument("job")
@click.option("--timeout", type=Seconds(), help="Give up after this many seconds (exit 3).")
@json_option
@click.pass_context
def watch(context: click.Context, job: str, timeout: float | None, as_json: bool) -> None:
    """Show live progress until the job finishes; the exit code tells the outcome."""
    tracker = _open(context)
    final: JobSummary
    try:
        if as_json:
            final = tracker.wait(job, timeout=timeout)
            out.status_json(final, *out.status_page(final, PAGE, None))
        else:
            final = out.follow(tracker.follow(job, timeout=timeout))
            out.show(out.summary_table(final))
    except TimeoutError as error:
        click.echo(f"jobledger: {error}", err=True)
        context.exit(WATCH_TIMEOUT)
    context.exit(WATCH_EXITS[final.overall])


@cli.command("list")
@click.option("--status", "wanted", type=click.Choice([s.value for s in JOB_STATUSES]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
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
    out.show(out.jobs_table(page.items))
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
    out.emit_json(events) if as_json else out.show(out.history_table(events))


@cli.command()
@click.argument("job")
@click.option("--reason", default="", help="Why, for the record.")
@json_option
@click.pass_context
def cancel(context: click.Context, job: str, reason: str, as_json: bool) -> None:
    """Cancel an unfinished job."""
    _open(context).cancel(job, reason)
    job_id = str(UUID(job))  # As the Tracker accepted it.
    if as_json:
        out.emit_json({"job_id": job_id, "overall": Status.CANCELLED.value})
    else:
        click.echo(f"cancelled job {job_id}")


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
    finished_before = earlier(datetime.now(UTC), older_than, "--older-than")
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
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@click.pass_context
def stale(context: click.Context, older_than: timedelta, limit: int, as_json: bool) -> None:
    """List in-progress components that stopped reporting."""
    items = _open(context).stale(older_than, limit=limit)
    out.emit_json(items) if as_json else out.show(out.stale_table(items))


@cli.command()
@click.argument("registrars", nargs=-1, required=True)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--poll",
    type=Seconds(positive=True),
    default=1.0,
    show_default=True,
    help="Seconds between looks.",
)
@click.pass_context
def hooks(context: click.Context, registrars: tuple[str, ...], once: bool, poll: float) -> None:
    """Run the hook runner. Each REGISTRAR is `module:function`, called with the Tracker to
    register hooks on it (tracker.on_completed(...) etc.)."""
    tracker = _open(context)
    load_hooks(tracker, registrars)
    stopping = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, frame: stopping.set())
    calls = tracker.run_hooks(once=once, stop=stopping, poll=poll)
    click.echo(f"{calls} hook call(s)", err=True)


@cli.command()
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Worker processes.")  # fmt: skip
@click.option("--serve", "dashboard", is_flag=True,
              help="Serve the dashboard too, work slower, serve until Ctrl-C.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The dashboard's port on 127.0.0.1 (with --serve).")  # fmt: skip
@click.option("--queue", type=click.Choice(QUEUES),
              help="Run the tasks on this queue's real workers, with a throwaway Redis "
              "(needs the queue's extra and redis-server).")  # fmt: skip
@click.pass_context
def demo(
    context: click.Context, workers: int, dashboard: bool, port: int, queue: str | None
) -> None:
    """Play the original example: 10 downloads, 100 resizes, then one notification."""
    url, console = context.obj["store"], out.console()
    if dashboard:
        final = serve_demo(url, workers=workers, port=port, console=console, queue=queue)
    else:
        final = run_demo(url, workers=workers, console=console, queue=queue)
    context.exit(WATCH_EXITS[final.overall])


@cli.command()
@click.pass_context
def init(context: click.Context) -> None:
    """Create the store and all its tables, if missing (a PostgreSQL role without CREATE on
    the schema can then use it)."""
    _open(context, create=True).init_store()
    click.echo(f"store ready: {out.visible(describe_store(context.obj['store']))}")


cli.add_command(serve)

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
    except click.Abort:  # Ctrl-C
        click.echo("jobledger: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as error:  # Every failure is one line, exit 4.
        if debug:
            traceback.print_exc()
        expected = isinstance(error, JobledgerError | click.ClickException)
        message = str(error) if expected else f"unexpected {type(error).__name__}: {error}"
        click.echo(f"jobledger: {out.visible(message)}", err=True)
        return EXIT_ERROR
    return returned if isinstance(returned, int) else 0


if __name__ == "__main__":
    sys.exit(main())
