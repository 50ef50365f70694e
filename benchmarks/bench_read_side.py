"""Read side under write load (issue 13): writer processes report start + complete at full
rate on distinct components of one job while one reader process calls summary() in a loop
and one waiter process wait()s for small jobs that the main process finishes.

Reported per store and number of writers, all measured in the same run:
- write rate: events/s through Tracker.report over all writers, with the reader and waiter
  running, and (in brackets) without them;
- catch-up rate: events/s a fresh Tracker folds into the view when the same writers have
  left it a backlog (no reader meanwhile), and its ratio to the write rate without reader;
- summary() p50/p99/max in the reader process;
- lag p50/p99: from the n-th completion's report() returning (over all writers) to the end
  of the reader's first summary() showing at least n completions (a query no longer waits
  for other processes' reports: it shows them once the view has applied them);
- drain: from the last report returning to a summary() showing every completion;
- wake-up p50/p99: from complete() returning in the main process to wait() returning in the
  waiter process.

`--nice N` adds N to the writer processes' nice value and `--reader-nice N` to the reader's
(their server backends keep theirs): with both, the waiter process advances the view at a
higher priority than the processes that write and read (docs/benchmarks.md, "The 16-writer
lag is the updater's share of the CPU").

Run: `.venv/bin/python benchmarks/bench_read_side.py [--stores postgres,file]
[--writers 1,4,16] [--seconds 4] [--nice 0] [--reader-nice 0]`
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import os
import tempfile
import time
from contextlib import ExitStack
from multiprocessing.synchronize import Event as EventType
from typing import Any

from jobledger import Status, Tracker
from jobledger.testing.postgres_server import throwaway_postgres

context = multiprocessing.get_context("fork")


def _write(url: str, job: str, names: list[str], stop: EventType, out: Any) -> None:
    returned: list[float] = []
    with Tracker.open(url) as tracker:
        tracker.start(job, names[0])  # opens the store before the clock starts
        tracker.complete(job, names[0])
        started = time.monotonic()
        for name in names[1:]:
            if stop.is_set():
                break
            tracker.start(job, name)
            tracker.complete(job, name)
            returned.append(time.monotonic())
    out.put((started, returned))


def _read(url: str, job: str, total: Any, out: Any) -> None:
    calls: list[tuple[float, float, int]] = []
    with Tracker.open(url) as tracker:
        tracker.summary(job)  # The first one applies the job's creation: all 40,000 rows.
        out.put("ready")
        while True:
            start = time.monotonic()
            completed = tracker.summary(job).counts[Status.COMPLETED]
            calls.append((start, time.monotonic(), completed))
            if 0 < total.value <= completed:
                break
    out.put(calls)


def _wait(url: str, jobs: Any, out: Any) -> None:
    with Tracker.open(url) as tracker:
        while (job := jobs.get()) is not None:
            tracker.summary(job)
            out.put("ready")
            tracker.wait(job, timeout=300)
            out.put(time.monotonic())


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def _start(target: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    process = context.Process(target=target, args=args)
    process.start()
    return process


def _niced(nice: int, target: Any, *args: Any) -> None:
    os.nice(nice)
    target(*args)


def _writers(
    url: str, job: str, names: list[str], count: int, stop: EventType, *, nice: int
) -> Any:
    out = context.Queue()
    processes = [
        _start(_niced, nice, _write, url, job, names[w::count], stop, out) for w in range(count)
    ]
    return processes, out


def _collect(processes: list[Any], out: Any) -> tuple[float, list[float]]:
    results = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    started = max(s for s, _ in results)
    return started, sorted(t for _, returned in results for t in returned)


def under_load(
    url: str, writers: int, seconds: float, probes: int, *, nice: int, reader_nice: int
) -> dict[str, float]:
    """Writers at full rate with a reader and a waiter: latency, lag, drain, wake-ups."""
    with Tracker.open(url) as tracker:
        names = [f"c{n}" for n in range(40_000)]
        job = str(tracker.create_job(names))
        stop, total = context.Event(), context.Value("q", 0)
        reads, jobs, woken = context.Queue(), context.Queue(), context.Queue()
        reader = _start(_niced, reader_nice, _read, url, job, total, reads)
        waiter = _start(_wait, url, jobs, woken)
        assert reads.get(timeout=600) == "ready"
        processes, out = _writers(url, job, names, writers, stop, nice=nice)
        wakeups, deadline = [], time.monotonic() + seconds + 1
        while time.monotonic() < deadline and len(wakeups) < probes:
            probe = str(tracker.create_job(["only"]))
            jobs.put(probe)
            woken.get(timeout=600)
            time.sleep(0.05)  # the waiter is inside wait() now
            tracker.complete(probe, "only")
            done = time.monotonic()
            wakeups.append(woken.get(timeout=600) - done)
        jobs.put(None)
        stop.set()
        started, returned = _collect(processes, out)
        total.value = len(returned) + writers  # every writer's first pair too
        calls = reads.get(timeout=600)
        reader.join()
        waiter.join()
    ends, shown = [end for _, end, _ in calls], [completed for _, _, completed in calls]
    lags = []
    for n, done in enumerate(returned, start=writers + 1):  # every writer's first pair too
        i = max(bisect.bisect_left(shown, n), bisect.bisect_left(ends, done))
        lags.append(calls[i][1] - done)
    latencies = [end - start for start, end, _ in calls if start >= started]
    return {
        "write": 2 * len(returned) / (returned[-1] - started),
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "max": max(latencies),
        "lag50": _percentile(lags, 0.5),
        "lag99": _percentile(lags, 0.99),
        "drain": calls[-1][1] - returned[-1],
        "wake50": _percentile(wakeups, 0.5),
        "wake99": _percentile(wakeups, 0.99),
    }


def catch_up_rate(url: str, writers: int, seconds: float, nice: int) -> tuple[float, float]:
    """The write rate, and the rate a fresh Tracker folds the backlog those writes left."""
    names = [f"c{n}" for n in range(40_000)]
    with Tracker.open(url) as tracker:
        job = str(tracker.create_job(names))
        tracker.summary(job)  # Caught up; closing stops its view keeper, so a backlog builds.
    stop = context.Event()
    processes, out = _writers(url, job, names, writers, stop, nice=nice)
    time.sleep(seconds)
    stop.set()
    started, returned = _collect(processes, out)
    with Tracker.open(url) as fresh:
        start = time.perf_counter()
        fresh.summary(job)
        took = time.perf_counter() - start
    events = 2 * (len(returned) + writers)
    return 2 * len(returned) / (returned[-1] - started), events / took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", default="postgres,file")
    parser.add_argument("--writers", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--probes", type=int, default=20)
    for option, whose in (("--nice", "writer processes'"), ("--reader-nice", "reader process's")):
        parser.add_argument(
            option,
            type=int,
            default=0,
            choices=range(20),
            metavar="0-19",
            help=f"added to the {whose} nice value",
        )
    args = parser.parse_args()
    if args.nice or args.reader_nice:
        print(f"(nice +{args.nice} for the writers, +{args.reader_nice} for the reader)")
    print(
        "| store | writers | write ev/s (no reader) | catch-up ev/s (x no-reader write) "
        "| summary p50 / p99 / max | lag p50 / p99 | drain | wait() wake-up p50 / p99 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for store in args.stores.split(","):
        with ExitStack() as stack:
            if store == "postgres":
                url = stack.enter_context(throwaway_postgres())
            else:
                url = "file://" + stack.enter_context(tempfile.TemporaryDirectory())
            for writers in [int(w) for w in args.writers.split(",")]:
                m = under_load(
                    url,
                    writers,
                    args.seconds,
                    args.probes,
                    nice=args.nice,
                    reader_nice=args.reader_nice,
                )
                write, rate = catch_up_rate(url, writers, args.seconds, args.nice)
                ms = {k: f"{v * 1e3:,.0f}" for k, v in m.items()}
                cells = [
                    store,
                    str(writers),
                    f"{m['write']:,.0f} ({write:,.0f})",
                    f"{rate:,.0f} ({rate / write:.1f}x)",
                    f"{ms['p50']} / {ms['p99']} / {ms['max']} ms",
                    f"{ms['lag50']} / {ms['lag99']} ms",
                    f"{ms['drain']} ms",
                    f"{ms['wake50']} / {ms['wake99']} ms",
                ]
                print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
