"""PostgreSQL, through the Tracker: worker processes each reporting start + complete on
distinct components of one 10,000-component job, and of 16 jobs sharing those components,
against the baselines of bench_postgres_store.py measured in the same run on the same server:
(a) bare single-row INSERTs, (b) Laravel's SELECT ... FOR UPDATE + UPDATE, (c) eventsourcing's
stock recorder. Also counts optimistic-concurrency retries (there should be none: different
components never share a stream).

Run: `.venv/bin/python benchmarks/bench_postgres_tracker.py [--seconds 3] [--processes 1,4,16]
[--rounds 5]` (every cell the median of its rounds, as in bench_postgres_store.py)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bench_postgres_store import (
    cpu_line,
    cpu_per_event,
    databases,
    measure,
    options,
    rotated,
    table,
)
from workers import run_workers

from jobledger import Tracker

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
            (first_job, first_name), *rest = work
            # Before the clock starts, as the baselines connect before it: the first
            # component opens the store's connections and loads the job definition.
            tracker.start(first_job, first_name)
            tracker.complete(first_job, first_name)
            barrier.wait()
            started, cpu = time.monotonic(), time.process_time()
            finished = []  # When each start + complete pair returned.
            for job, name in rest:
                if time.monotonic() - started > seconds:
                    break
                tracker.start(job, name)
                tracker.complete(job, name)
                finished.append(time.monotonic())
            results.put((started, finished, retries.count, time.process_time() - cpu))
    except BaseException as error:
        barrier.abort()
        results.put(error)


def tracker_rate(url: str, jobs: int, processes: int, seconds: float) -> tuple[float, int, float]:
    """Events per second through Tracker.report, the optimistic-concurrency retries, and
    the workers' CPU per event in µs."""
    with Tracker.open(url) as tracker:
        per_job = COMPONENTS // jobs
        ids = [tracker.create_job([f"c{n}" for n in range(per_job)]) for _ in range(jobs)]
    work = [(ids[n % jobs], f"c{n // jobs}") for n in range(COMPONENTS)]
    jobs = [(url, work[w::processes], seconds) for w in range(processes)]
    totals = run_workers(_report, jobs, seconds + 300)
    # The job may run out of components before `seconds` are up: count only the window in
    # which every worker was reporting, as the baselines' workers all run to the deadline.
    start = max(started for started, *_ in totals)
    end = min(finished[-1] for _, finished, *_ in totals)
    pairs = sum(start < when <= end for _, finished, *_ in totals for when in finished)
    events = sum(2 * len(finished) for _, finished, *_ in totals)
    rate = 2 * pairs / (end - start)
    return rate, sum(retried for _, _, retried, _ in totals), cpu_per_event(totals, events)


def main() -> None:
    given = options(__doc__.splitlines()[0])
    ours, others = "jobledger Tracker, 1 job", "jobledger Tracker, 16 jobs"
    rounds: dict[str, list[list[float]]] = {
        variant: [[] for _ in given.counts] for variant in (ours, others, *BASELINES)
    }
    cpu: dict[str, list[float]] = {variant: [] for variant in rounds}  # At the last count.
    retries = 0
    with databases("tracker") as urls:

        def run(variant: str, processes: int) -> float:
            nonlocal retries
            if variant in BASELINES:
                rate, _, used = measure(variant, urls["bench"], processes, given.seconds)
            else:
                jobs = 1 if variant == ours else 16
                rate, retried, used = tracker_rate(urls["tracker"], jobs, processes, given.seconds)
                retries += retried
            if processes == given.counts[-1]:
                cpu[variant].append(used)
            return rate

        for cell, processes in enumerate(given.counts):
            for turn in range(given.rounds):
                for variant in rotated(list(rounds), turn):
                    rounds[variant][cell].append(run(variant, processes))
                print(
                    f"  {processes} processes: "
                    + ", ".join(f"{k} {v[cell][-1]:.0f}/s" for k, v in rounds.items()),
                    flush=True,
                )
    title = f"PostgreSQL through Tracker.report, {given.seconds:g} s per cell"
    table(title, given.counts, rounds, ours)
    spreads = [a / b for a, b in zip(rounds[ours][-1], rounds[others][-1], strict=True)]
    print(
        f"\nOne job against 16 jobs at {given.counts[-1]} processes, per round: "
        + ", ".join(f"{spread:.2f}" for spread in spreads)
    )
    print(f"Optimistic-concurrency retries: {retries}")
    print(cpu_line(given.counts[-1], cpu))


if __name__ == "__main__":
    main()
