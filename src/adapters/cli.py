"""The `jobledger` command line (for now: help and the demo)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..application.stores import STORE_VARIABLE, redact, resolve_store_url
from ..application.tracker import Tracker
from ..domain.errors import JobledgerError
from .demo import run_demo


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="jobledger",
        description="Lock-free, event-sourced status tracking for jobs made of many components.",
    )
    parser.add_argument(
        "--store", help=f"store URL (default: ${STORE_VARIABLE}, else the default store)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo", help="run the example job: downloads, resizes, a notification")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.debug:
        logging.basicConfig(level=logging.DEBUG)
    url = resolve_store_url(args.store)
    try:
        with Tracker.open(url) as tracker:
            final = run_demo(tracker)
    except JobledgerError as error:
        if args.debug:
            raise
        print(f"jobledger: {error}", file=sys.stderr)
        return 1
    print(f"store: {redact(url)}")
    return 0 if final.overall.value == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
