"""PostgreSQL store benchmark: many worker processes reporting on distinct components.

Each worker process reports start + complete for one component after another, as two
single-event inserts on the component's own stream, for a fixed time. Compared in the same
run, on the same throwaway server, with the same driver and process counts:

  jobledger   jobledger.adapters.postgres application recorder (no write lock)
  (a) bare    bare psycopg single-row INSERTs into a narrow table: the ceiling
  (b) laravel Laravel batches' mutable counter: SELECT ... FOR UPDATE on one row, then UPDATE
  (c) stock   eventsourcing.postgres application recorder (LOCK TABLE + NOTIFY per insert)

Run: `.venv/bin/python benchmarks/bench_postgres_store.py [--seconds 3] [--processes 1,4,16]
[--rounds 5]`. Every cell is the median of its rounds; in each round every variant runs once,
in an order that rotates, so that a busy moment of a shared machine does not always fall on
the same variant. The server runs with fsync off (nothing here measures disks); results go
to stdout as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from workers import run_workers

from jobledger.testing.postgres_server import database_url, throwaway_postgres

Report = Callable[[UUID, int], None]


def jobledger_reporter(url: str) -> Report:
    from jobledger.adapters.postgres import PostgresFactory

    factory = PostgresFactory({PostgresFactory.POSTGRES_URL: f"{url}&pool_size=1"})
    return _recorder_reporter(factory.application_recorder(), keep=factory)


def stock_reporter(url: str, *, create_table: bool = False) -> Report:
    from eventsourcing.postgres import PostgresFactory as StockFactory

    params = psycopg.conninfo.conninfo_to_dict(url)
    factory = StockFactory(
        {
            "POSTGRES_DBNAME": str(params["dbname"]),
            "POSTGRES_HOST": str(params["host"]),
            "POSTGRES_PORT": str(params["port"]),
            "POSTGRES_USER": str(params["user"]),
            "POSTGRES_PASSWORD": "",
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "0",
            # Its table creation is not safe when processes start at once (the function
            # replacement fails with "tuple concurrently updated"): create it once, up front.
            "CREATE_TABLE": "yes" if create_table else "no",
        }
    )
    return _recorder_reporter(factory.application_recorder(), keep=factory)


def _recorder_reporter(recorder: ApplicationRecorder, keep: object) -> Report:
    def report(component: UUID, version: int) -> None:
        _ = keep  # The factory owns the pool: keep it alive as long as the reporter.
        state = b'{"status": "completed"}' if version == 2 else b'{"status": "in_progress"}'
        recorder.insert_events([StoredEvent(component, version, "bench:Reported", state)])

    return report


def bare_reporter(url: str) -> Report:
    conn = psycopg.connect(url, autocommit=True)

    def report(component: UUID, version: int) -> None:
        conn.execute(
            "INSERT INTO narrow (component, version, status) VALUES (%s, %s, %s)",
            (component, version, "completed" if version == 2 else "in_progress"),
        )

    return report


def laravel_reporter(url: str) -> Report:
    conn = psycopg.connect(url)

    def report(component: UUID, version: int) -> None:
        with conn.transaction():
            conn.execute("SELECT pending_jobs FROM job_batches WHERE id = 1 FOR UPDATE")
            conn.execute("UPDATE job_batches SET pending_jobs = pending_jobs - 1 WHERE id = 1")

    return report


VARIANTS: dict[str, Callable[[str], Report]] = {
    "jobledger": lambda url: jobledger_reporter(database_url(url, "jobledger")),
    "(a) bare INSERT": bare_reporter,
    "(b) laravel FOR UPDATE": laravel_reporter,
    "(c) eventsourcing stock": lambda url: stock_reporter(database_url(url, "stock")),
}


def prepare(url: str) -> None:
    """Create every variant's tables before timing starts."""
    jobledger_reporter(database_url(url, "jobledger"))
    stock_reporter(database_url(url, "stock"), create_table=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE narrow (id bigserial PRIMARY KEY, component uuid NOT NULL,"
            " version int NOT NULL, status text NOT NULL)"
        )
        conn.execute("CREATE TABLE job_batches (id int PRIMARY KEY, pending_jobs bigint)")
        conn.execute("INSERT INTO job_batches VALUES (1, 1000000000)")


def worker(args) -> None:
    variant, url, seconds, barrier, results = args
    try:
        report = VARIANTS[variant](url)
        events = conflicts = 0
        barrier.wait()
        cpu = time.process_time()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            component = uuid4()
            for version in (1, 2):
                try:
                    report(component, version)
                    events += 1
                except IntegrityError:
                    conflicts += 1
        results.put((events, conflicts, time.process_time() - cpu))
    except BaseException as error:
        barrier.abort()
        results.put(error)


def measure(variant: str, url: str, processes: int, seconds: float) -> tuple[float, int, float]:
    """Return events per second over all processes, the number of conflicts, and the
    workers' CPU per event in µs."""
    totals = run_workers(worker, [(variant, url, seconds)] * processes, seconds + 120)
    events = sum(t[0] for t in totals)
    return events / seconds, sum(t[1] for t in totals), cpu_per_event(totals, events)


def cpu_per_event(totals: list[tuple[Any, ...]], events: int) -> float:
    """The CPU the workers used (the last item of each total, in s) per event, in µs."""
    return 1e6 * sum(t[-1] for t in totals) / max(events, 1)


def cpu_line(processes: int, cpu: dict[str, list[float]]) -> str:
    """One line giving each variant's median client CPU per event at `processes`."""
    each = ", ".join(f"{variant} {statistics.median(us):.0f}" for variant, us in cpu.items())
    return f"Client CPU per event at {processes} processes, µs, median of rounds: {each}"


def options(description: str) -> argparse.Namespace:
    """`--seconds` per cell, the comma-separated `--processes` counts (as `counts`) and the
    `--rounds` per cell."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=5)
    parsed = parser.parse_args()
    parsed.counts = [int(n) for n in parsed.processes.split(",")]
    return parsed


@contextmanager
def databases(*names: str) -> Iterator[dict[str, str]]:
    """A throwaway server with these databases, the baselines' tables ready in `bench`."""
    with throwaway_postgres() as server:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in ("bench", "jobledger", "stock", *names):  # Recorders share table names.
                admin.execute(f"CREATE DATABASE {name}")
        urls = {name: database_url(server, name) for name in ("bench", *names)}
        prepare(urls["bench"])
        yield urls


def rotated(variants: list[str], turn: int) -> list[str]:
    """The variants in the order of round `turn`: each round starts one variant later, so
    that none always runs first (after the others' writes, as autovacuum wakes up)."""
    start = turn % len(variants)
    return variants[start:] + variants[:start]


def table(title: str, counts: list[int], rounds: dict[str, list[list[float]]], ours: str) -> None:
    """Print the median events/s per variant and process count (`rounds[variant]` holds one
    list of rates per count), and `ours` over each variant at the last count: the median of
    the ratios within each round, with their range."""
    header = " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in counts)
    print(f"\n{title}, {os.cpu_count()} CPUs, events/s, median of rounds\n")
    print(f"| variant | {header} | {ours} / variant at {counts[-1]} (range) |")
    print("| --- |" + " ---: |" * (len(counts) + 1))
    for variant, cells in rounds.items():
        rates = " | ".join(f"{statistics.median(cell):,.0f}" for cell in cells)
        ratios = [a / b for a, b in zip(rounds[ours][-1], cells[-1], strict=True)]
        spread = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"| {variant} | {rates} | {spread} |")


def main() -> None:
    given = options(__doc__.splitlines()[0])
    rounds = {variant: [[] for _ in given.counts] for variant in VARIANTS}
    cpu: dict[str, list[float]] = {variant: [] for variant in VARIANTS}  # At the last count.
    conflicts = 0
    with databases() as urls:
        for cell, processes in enumerate(given.counts):
            for turn in range(given.rounds):
                for variant in rotated(list(VARIANTS), turn):
                    rate, conflicted, used = measure(
                        variant, urls["bench"], processes, given.seconds
                    )
                    rounds[variant][cell].append(rate)
                    if processes == given.counts[-1]:
                        cpu[variant].append(used)
                    conflicts += conflicted
                    print(f"  {variant:<26} {processes:>2} processes: {rate:>8.0f}/s", flush=True)
    table(f"PostgreSQL, {given.seconds:g} s per cell", given.counts, rounds, "jobledger")
    print(f"\nIntegrityErrors between different streams: {conflicts}")
    print(cpu_line(given.counts[-1], cpu))


if __name__ == "__main__":
    main()
