"""First summary() over a backlog (issue 13): how long a new Tracker's first query takes when
the PostgreSQL status view has never been caught up and the feed holds 30,000 or 300,000
events (one job of 10,000 or 100,000 components, three reports each, written by 4 processes).

Each size is written once into a template database; every timing runs in a fresh process on
a fresh copy of it. The same is timed for the `src` of git revision `--before` (by default
the last one before the read side was reworked, exported to a temporary directory),
alternating with this checkout, so both are measured in the same run on the same server.

Run: `.venv/bin/python benchmarks/bench_first_summary.py [--before REV] [--sizes 10000,100000]
[--rounds 2]`
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import psycopg

from jobledger import Tracker
from jobledger.testing.postgres_server import database_url, throwaway_postgres

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "d96f7e5"
"""The last revision before issue 13 (the read side): "before" in docs/benchmarks.md."""
WRITERS = 4
TIMED = """
import sys, time
from jobledger import Tracker
with Tracker.open(sys.argv[1]) as tracker:
    start = time.perf_counter()
    tracker.summary(sys.argv[2])
    print(time.perf_counter() - start)
"""


def _write(url: str, job: str, names: list[str]) -> None:
    with Tracker.open(url) as tracker:  # reports only: this never touches the status view
        for name in names:
            tracker.start(job, name, progress=0.3)
            tracker.start(job, name, progress=0.7)
            tracker.complete(job, name)


def template(url: str, size: int) -> tuple[str, str]:
    """A template database holding one job of `size` components, 3 reports each; its name
    and the job id."""
    name = f"backlog_{size}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    source = database_url(url, name)
    with Tracker.open(source) as tracker:
        names = [f"c{n}" for n in range(size)]
        job = str(tracker.create_job(names))
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_write, args=(source, job, names[w::WRITERS]))
        for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer exited with {process.exitcode}")
    return name, job


def first_summary(url: str, tpl: str, job: str, path: str, run: int) -> float:
    """Seconds a new Tracker, importing jobledger from `path`, takes for its first summary()
    on a fresh copy of the template."""
    copy = f"{tpl}_run{run}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {copy} TEMPLATE {tpl}")
    try:
        out = subprocess.run(
            [sys.executable, "-c", TIMED, database_url(url, copy), job],
            env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
            text=True,
        )
        return float(out.stdout)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {copy}")


def export(revision: str, into: Path) -> Path:
    """The `src` of `revision`, as an importable `jobledger` package under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "src").rename(into / "jobledger")
    return into


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--before",
        default=BASELINE,
        help=f"a git revision to compare with ('' for none; {BASELINE})",
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_postgres() as url:
        variants = {"after": _current(Path(tmp))}
        if args.before:
            try:
                variants = {"before": str(export(args.before, Path(tmp) / "before")), **variants}
            except subprocess.CalledProcessError:
                print(f"(revision {args.before} is not in this clone: timing this one only)")
        print("| events | " + " | ".join(variants) + " | speed-up |")
        print("| ---: |" + " ---: |" * (len(variants) + 1))
        for size in [int(s) for s in args.sizes.split(",")]:
            started = time.perf_counter()
            tpl, job = template(url, size)
            print(f"(wrote {3 * size:,} events in {time.perf_counter() - started:.0f} s)")
            times: dict[str, list[float]] = {name: [] for name in variants}
            for run in range(args.rounds):
                for name, path in variants.items():
                    times[name].append(first_summary(url, tpl, job, path, run))
            cells = [", ".join(f"{t:.2f} s" for t in found) for found in times.values()]
            ratio = min(times["before"]) / min(times["after"]) if "before" in times else 1.0
            print(f"| {3 * size:,} | " + " | ".join(cells) + f" | {ratio:.1f}x |", flush=True)


def _current(tmp: Path) -> str:
    """This checkout's `src`, as an importable `jobledger` package."""
    link = tmp / "current"
    link.mkdir()
    (link / "jobledger").symlink_to(ROOT / "src")
    return str(link)


if __name__ == "__main__":
    main()
