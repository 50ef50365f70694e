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

SIZES = (1_000, 10_000, 100_000)


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """The fastest of several timed calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def view_against_fold(size: int) -> tuple[float, float, float]:
    with Tracker.open("memory://") as tracker:
        names = [f"c{n}" for n in range(size)]
        job = tracker.create_job(names)
        for name in names:
            tracker.start(job, name, progress=0.3)
            tracker.start(job, name, progress=0.7)
            tracker.complete(job, name)
        tracker.summary(job)  # catch the view up once

        def full_fold() -> object:
            events = list(tracker.ledger.stream(job))
            for name in names:
                events.extend(tracker.ledger.stream(component_stream_id(job, name)))
            return fold(None, events)

        return (
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


def main() -> None:
    sizes = SIZES if "--quick" not in sys.argv else SIZES[:2]
    print("## Status view (memory store; 3 events per component)\n")
    print("| components | summary() | status() | full fold (baseline) | fold / summary |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        summary, status, folded = view_against_fold(size)
        print(
            f"| {size:,} | {summary * 1e3:.3f} ms | {status * 1e3:.1f} ms | "
            f"{folded * 1e3:.0f} ms | {folded / summary:,.0f}x |"
        )
    median, p99 = visibility_lag()
    print("\n## Visibility lag (file store, 4 processes reporting, 1 observer process)\n")
    print("| median | 99th percentile |\n| ---: | ---: |")
    print(f"| {median * 1e3:.1f} ms | {p99 * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
