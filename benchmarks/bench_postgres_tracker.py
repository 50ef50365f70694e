"""PostgreSQL, through the Tracker: worker processes each reporting start + complete on
distinct components of one 10,000-component job, and of 16 jobs sharing those components,
against the baselines of bench_postgres_store.py measured in the same run on the same server:
(a) bare single-row INSERTs, (b) Laravel's SELECT ... FOR UPDATE + UPDATE, (c) eventsourcing's
stock recorder. Also counts optimistic-concurrency retries (there should be none: different
components never share a stream).

Run: `.venv/bin/python benchmarks/bench_postgres_tracker.py [--seconds 3] [--processes 1,4,16]`
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import psycopg
from bench_postgres_store import measure, prepare, run_workers

from jobledger import Tracker
from jobledger.testing.postgres_server import database_url, throwaway_postgres

COMPONENTS = 10_000
BASELINES = ("(a) bare INSERT", "(b) laravel FOR UPDATE", "(c) eventsourcing stock")


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "stream conflict" in record.getMessage():
            self.count += 1


def _report(args: tuple[Any, ...]) -> None:
    url, work, seconds, barrier, results = args
    retries = _Retries()
    logger = logging.getLogger("jobledger")
    logger.addHandler(retries)
    logger.setLevel(logging.DEBUG)
    try:
        with Tracker.open(url) as tracker:
            barrier.wait()
            started = time.monotonic()
            events = 0
            for job, name in work:
                if time.monotonic() - started > seconds:
                    break
                tracker.start(job, name)
                tracker.complete(job, name)
                events += 2
            results.put((events, time.monotonic() - started, retries.count))
    except BaseException as error:
        barrier.abort()
        results.put(error)


def tracker_rate(url: str, jobs: int, processes: int, seconds: float) -> tuple[float, int]:
    """Events per second through Tracker.report, and the optimistic-concurrency retries."""
    with Tracker.open(url) as tracker:
        per_job = COMPONENTS // jobs
        ids = [tracker.create_job([f"c{n}" for n in range(per_job)]) for _ in range(jobs)]
    work = [(ids[n % jobs], f"c{n // jobs}") for n in range(COMPONENTS)]
    jobs = [(url, work[w::processes], seconds) for w in range(processes)]
    totals = run_workers(_report, jobs, seconds + 300)
    return sum(t[0] / t[1] for t in totals), sum(t[2] for t in totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", default="1,4,16")
    options = parser.parse_args()
    counts = [int(n) for n in options.processes.split(",")]
    rates: dict[str, list[float]] = {}
    retries = 0
    with throwaway_postgres() as server:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in ("bench", "jobledger", "stock", "tracker"):
                admin.execute(f"CREATE DATABASE {name}")
        url, tracker_url = database_url(server, "bench"), database_url(server, "tracker")
        prepare(url)
        for processes in counts:
            for jobs in (1, 16):
                rate, retried = tracker_rate(tracker_url, jobs, processes, options.seconds)
                rates.setdefault(
                    f"jobledger Tracker, {jobs} job{'s' if jobs > 1 else ''}", []
                ).append(rate)
                retries += retried
            for variant in BASELINES:
                rate, _ = measure(variant, url, processes, options.seconds)
                rates.setdefault(variant, []).append(rate)
            print(
                f"  {processes} processes: "
                + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()),
                flush=True,
            )
    ours = rates["jobledger Tracker, 1 job"]
    header = " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in counts)
    print(f"\nPostgreSQL through Tracker.report, {options.seconds:g} s per cell, events/s\n")
    print(f"| variant | {header} | Tracker (1 job) / variant at {counts[-1]} |")
    print("| --- |" + " ---: |" * (len(counts) + 1))
    for variant, row in rates.items():
        cells = " | ".join(f"{rate:,.0f}" for rate in row)
        print(f"| {variant} | {cells} | {ours[-1] / row[-1]:.2f}x |")
    spread = rates["jobledger Tracker, 16 jobs"]
    print(f"\nOne job against 16 jobs at {counts[-1]} processes: {ours[-1] / spread[-1]:.2f}")
    print(f"Optimistic-concurrency retries: {retries}")


if __name__ == "__main__":
    main()
