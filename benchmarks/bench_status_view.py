"""Status view benchmark (issue 5): summary() and status() against a full fold, and the lag
from report() returning to the change being visible in another process.

Run: .venv/bin/python benchmarks/bench_status_view.py   (part of `make bench`)
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType

from jobledger import Tracker, fold
from jobledger.domain.events import component_stream_id
from jobledger.testing.postgres_server import ServerBinariesNotFound, throwaway_postgres

SIZES = (1_000, 10_000, 100_000)


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """The fastest of several timed calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def view_against_fold(url: str, size: int, *, events: int = 3) -> tuple[float, float, float, float]:
    """Times of: a new Tracker's first summary() (its view catches up), summary() and
    status() when caught up, and a full fold of the job's events."""
    with Tracker.open(url) as writer:
        names = [f"c{n}" for n in range(size)]
        job = writer.create_job(names)
        for name in names:
            for fraction in (0.3, 0.7)[: events - 1]:
                writer.start(job, name, progress=fraction)
            writer.complete(job, name)
        tracker = Tracker(writer.ledger)  # a view of its own, empty until the first query
        start = time.perf_counter()
        tracker.summary(job)
        first = time.perf_counter() - start

        def full_fold() -> object:
            events = list(tracker.ledger.stream(job))
            for name in names:
                events.extend(tracker.ledger.stream(component_stream_id(job, name)))
            return fold(None, events)

        return (
            first,
            best_of(20, lambda: tracker.summary(job)),
            best_of(3, lambda: tracker.status(job)),
            best_of(3, full_fold),
        )


def _load(url: str, job: str, worker: int, stop: EventType) -> None:
    with Tracker.open(url) as tracker:
        n = 0
        while not stop.is_set():
            tracker.start(job, f"load-{worker}", progress=(n % 100) / 100)
            n += 1


def _observe(url: str, job: str, probes: int, seen: multiprocessing.Queue[float]) -> None:
    with Tracker.open(url) as tracker:
        for probe in range(1, probes + 1):
            while tracker.status(job).components["probe"].version < probe:
                pass
            seen.put(time.time())


def visibility_lag(probes: int = 60) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        url = f"file://{directory}"
        with Tracker.open(url) as tracker:
            job = str(tracker.create_job(["probe", *(f"load-{w}" for w in range(4))]))
            stop = context.Event()
            load = [context.Process(target=_load, args=(url, job, w, stop)) for w in range(4)]
            seen: multiprocessing.Queue[float] = context.Queue()
            observer = context.Process(target=_observe, args=(url, job, probes, seen))
            for process in [*load, observer]:
                process.start()
            time.sleep(2)  # let every process start and catch up
            lags = []
            for _ in range(probes):
                tracker.start(job, "probe")
                returned = time.time()
                lags.append(seen.get(timeout=60) - returned)
                time.sleep(0.02)
            stop.set()
            for process in [*load, observer]:
                process.join(timeout=60)
    lags.sort()
    return statistics.median(lags), lags[int(len(lags) * 0.99) - 1]


def table(title: str, url: str, sizes: tuple[int, ...], events: int) -> None:
    print(f"## {title}\n")
    print(
        "| components | events | first summary() of a new Tracker | summary() | status() "
        "| full fold (baseline) | fold / summary |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        first, summary, status, folded = view_against_fold(url, size, events=events)
        print(
            f"| {size:,} | {size * events:,} | {first * 1e3:.0f} ms | {summary * 1e3:.3f} ms "
            f"| {status * 1e3:.1f} ms | {folded * 1e3:.0f} ms | {folded / summary:,.0f}x |"
        )
    print()


def main() -> None:
    quick = "--quick" in sys.argv
    table("Status view, memory store", "memory://", SIZES[:2] if quick else SIZES, 3)
    with tempfile.TemporaryDirectory() as directory:
        table("Status view, file store", f"file://{directory}", (1_000, 10_000), 1)
    try:
        with throwaway_postgres() as url:
            sizes = (1_000, 10_000) if quick else (10_000, 100_000)
            table("Status view, PostgreSQL store (throwaway server)", url, sizes, 3)
    except ServerBinariesNotFound as error:
        print(f"## Status view, PostgreSQL store\n\nNot run: {error}\n")
    median, p99 = visibility_lag()
    print("## Visibility lag (file store, 4 processes reporting, 1 observer process)\n")
    print("From report() returning in one process to status() showing it in another;")
    print("negative: visible before the reporting call had returned.\n")
    print("| median | 99th percentile |\n| ---: | ---: |")
    print(f"| {median * 1e3:.1f} ms | {p99 * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
