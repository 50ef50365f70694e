"""Running a benchmark's worker processes: shared by the bench_*.py scripts."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def run_workers(
    target: Callable[..., None], jobs: list[tuple[Any, ...]], timeout: float
) -> list[Any]:
    """Start one forked process per job, each called as `target((*job, barrier, results))`;
    return what each put on `results`, raising if any put an exception."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(jobs))
    results = context.Queue()
    workers = [context.Process(target=target, args=((*job, barrier, results),)) for job in jobs]
    for process in workers:
        process.start()
    totals = [results.get(timeout=timeout) for _ in workers]
    for process in workers:
        process.join()
    failures = [t for t in totals if isinstance(t, BaseException)]
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(jobs)} workers failed") from failures[0]
    return totals
