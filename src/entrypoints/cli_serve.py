"""`jobledger serve`, and the dashboard beside `jobledger demo --serve`: the web app needs
the `web` extra, imported only when these run, so the command line works without it."""

from __future__ import annotations

import importlib
import ipaddress
import time
from types import ModuleType
from typing import Any

import click
from rich.console import Console

from ..application.tracker import Tracker
from ..domain.errors import ConfigurationError
from ..domain.projection import JobStatus
from .demo import run_demo

_HOST = "127.0.0.1"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def web_app(url: str, token_file: str | None, host: str, read_token: bool | None) -> Any:
    """The web app on the store at `url`, with the token from `token_file` or the
    environment; reads need it by default when `host` is not a loopback address."""
    token = _web("auth").load_token(token_file)
    required = not _is_loopback(host) if read_token is None else read_token
    if required and token is None:
        raise ConfigurationError(
            f"serving on {host}, which is not a loopback address, needs a token for reads: "
            "give --token-file or $JOBLEDGER_WEB_TOKEN, or --open-reads"
        )
    return _web("app").create_app(url, token=token, read_token_required=required)


def _web(module: str) -> ModuleType:
    """A module of the web package, imported only when needed: it needs the web extra."""
    try:
        return importlib.import_module(f"{__package__}.web.{module}")
    except ImportError as error:
        raise ConfigurationError(
            f"the web app needs the web extra (pip install 'jobledger[web]'): {error}"
        ) from None


@click.command()
@click.option("--host", default=_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token-file", help="File holding the token (else $JOBLEDGER_WEB_TOKEN).")
@click.option(
    "--read-token/--open-reads",
    "read_token",
    default=None,
    help="Require the token for reads too [default: only off loopback].",
)
@click.pass_context
def serve(
    context: click.Context, host: str, port: int, token_file: str | None, read_token: bool | None
) -> None:
    """Serve the JSON API and the live dashboard (docs/web.md). Writes need the token and
    are refused when none is configured."""
    app = web_app(context.obj["store"], token_file, host, read_token)
    click.echo(f"dashboard: http://{host}:{port}/ (Ctrl-C stops)", err=True)
    _web("server").serve(app, host, port)


DEMO_PACE = 10.0
"""How much slower `demo --serve` works, so that the dashboard can be watched."""


def serve_demo(
    url: str, *, workers: int, port: int, console: Console, queue: str | None = None
) -> JobStatus:
    """Run the demo slowed down while serving the dashboard on the loopback address, then
    keep serving until Ctrl-C; return the demo job's end."""
    if url.lower().startswith("memory:"):
        raise ConfigurationError("demo --serve needs a file: or postgresql:// store")
    Tracker.open(url).close()  # The app opens the store without creating it.
    app = web_app(url, None, _HOST, read_token=False)
    with _web("server").BackgroundServer(app, _HOST, port) as server:
        console.print(f"dashboard: {server.url}/")
        final = run_demo(url, workers=workers, console=console, pace=DEMO_PACE, queue=queue)
        console.print(f"the dashboard stays at {server.url}/ until Ctrl-C")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return final
