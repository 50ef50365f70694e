"""Web dashboard benchmark (issue 15): the page of a 100,000-component job against the page
of a 100-component job (the baseline), each served over HTTP by uvicorn once the status view
has caught up. Target: the large job's page under a second.

Run: .venv/bin/python benchmarks/bench_web_pages.py   (part of `make bench`)
"""

from __future__ import annotations

import tempfile
from functools import partial

import httpx
from bench_status_view import best_of

from jobledger import Tracker
from jobledger.entrypoints.web.server import BackgroundServer
from jobledger.testing.postgres_server import ServerBinariesNotFound, throwaway_postgres
from jobledger.web import create_app

SMALL, LARGE = 100, 100_000


def page_times(url: str) -> tuple[float, float]:
    """The fastest of 10 fetches of the small job's page and of the large job's."""
    with Tracker.open(url) as tracker, BackgroundServer(create_app(tracker)) as server:
        pages = []
        for size in (SMALL, LARGE):
            job = tracker.create_job([f"component-{n}" for n in range(size)])
            tracker.fail(job, f"component-{size - 1}", message="the last one failed")
            pages.append(f"{server.url}/jobs/{job}")
        with httpx.Client(timeout=120) as client:
            for page in pages:
                client.get(page).raise_for_status()  # the view catches up once
            small, large = (best_of(10, partial(client.get, page)) for page in pages)
    return small, large


def row(store: str, url: str) -> None:
    small, large = page_times(url)
    print(f"| {store} | {small * 1e3:.1f} ms | {large * 1e3:.1f} ms | {large / small:.2f}x |")


def main() -> None:
    print(f"## The job page of a {LARGE:,}-component job (baseline: {SMALL} components)\n")
    print(f"| store | {SMALL} components | {LARGE:,} components | ratio |")
    print("| --- | ---: | ---: | ---: |")
    row("memory", "memory://")
    with tempfile.TemporaryDirectory() as directory:
        row("file", f"file://{directory}")
    try:
        with throwaway_postgres() as url:
            row("PostgreSQL", url)
    except ServerBinariesNotFound as error:
        print(f"| PostgreSQL | not run: {error} | | |")


if __name__ == "__main__":
    main()
