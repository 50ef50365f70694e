"""The demonstration `make demo` runs: the original package's example job.

Ten "download" and a hundred "resize" components are worked on by a pool of worker
processes that report through the store (threads, on the in-process memory store); a few
attempts fail and are retried. The one "notify" component is dispatched once every other
component has completed, and an `on_completed` hook announces the finished job, once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..application.hooks import FinishedJob
from ..application.stores import describe_store
from ..application.tracker import Tracker
from ..domain.projection import JobStatus
from ..domain.status import Status
from . import cli_output as out

GROUPS = {
    "download": [f"download-{n:02d}" for n in range(1, 11)],
    "resize": [f"resize-{n:03d}" for n in range(1, 101)],
    "notify": ["notify"],
}
FLAKY = frozenset(["download-03", *random.Random(7).sample(GROUPS["resize"], 6)])

_worker_tracker: Tracker | None = None


def run_demo(
    url: str, *, workers: int = 4, console: Console | None = None, pace: float = 1.0
) -> JobStatus:
    """Run the example job on the store at `url` with live progress, each step `pace`
    times as long as usual; return its end."""
    console = console or out.console()
    announced: list[FinishedJob] = []
    with Tracker.open(url) as tracker:
        tracker.on_completed(announced.append, name="announce")
        job = tracker.create_job(
            [name for names in GROUPS.values() for name in names], name="import images"
        )
        console.print(f"job {job}: 10 downloads, 100 resizes, then 1 notification")
        with _pool(url, tracker, workers) as pool, _Display(console) as display:
            names = GROUPS["download"] + GROUPS["resize"]
            work = [pool.submit(_work, job, n, pace) for n in names]
            while not display.show(tracker.status(job)):
                time.sleep(0.1)
            work.append(pool.submit(_work, job, "notify", pace))
            final = tracker.wait(job, timeout=120 * pace)
            display.show(final)
            for done in work:
                done.result()
        tracker.run_hooks(once=True)
        for finished in announced:
            ran = f"hook {finished.hook!r} ran for {finished.key}: {finished.outcome}"
            console.print(out.literal(ran))
        out.show(out.summary_table(final), on=console)
        console.print(f"retried after a failed attempt: {', '.join(sorted(FLAKY))}")
    console.print(out.literal(f"store: {describe_store(url)}"))
    return final


class _Display:
    """A progress bar per component group, and the number of components retrying."""

    def __init__(self, console: Console) -> None:
        columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn())
        self._progress = Progress(*columns, console=console)
        self._bars = {g: self._progress.add_task(g, total=len(n)) for g, n in GROUPS.items()}

    def __enter__(self) -> _Display:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def show(self, status: JobStatus) -> bool:
        """Update the bars; True once everything but the notification has completed."""
        for group, names in GROUPS.items():
            states = [status.components[n].status for n in names]
            retrying = states.count(Status.RETRYING)
            label = f"{group} ({retrying} retrying)" if retrying else group
            done = states.count(Status.COMPLETED)
            self._progress.update(self._bars[group], completed=done, description=label)
        return all(
            status.components[n].status is Status.COMPLETED
            for n in GROUPS["download"] + GROUPS["resize"]
        )


@contextmanager
def _pool(url: str, tracker: Tracker, workers: int) -> Iterator[Executor]:
    if url.lower().startswith("memory:"):
        with ThreadPoolExecutor(workers, initializer=_use, initargs=(tracker,)) as threads:
            yield threads
        return
    spawn = get_context("spawn")
    with ProcessPoolExecutor(workers, spawn, initializer=_connect, initargs=(url,)) as processes:
        yield processes


def _use(tracker: Tracker) -> None:
    global _worker_tracker  # noqa: PLW0603 - the worker's tracker, set once per worker
    _worker_tracker = tracker


def _connect(url: str) -> None:
    _use(Tracker.open(url))


def _work(job: UUID, name: str, pace: float) -> None:
    tracker = _worker_tracker
    assert tracker is not None, "worker not initialised"
    tracker.start(job, name, progress=0.0)
    time.sleep(0.03 * pace)
    if name in FLAKY:
        tracker.start(job, name, progress=0.4)
        tracker.report(job, name, Status.RETRYING, message="timed out; retrying")
        time.sleep(0.2 * pace)
        tracker.start(job, name, progress=0.0, message="attempt 2")
    tracker.start(job, name, progress=0.5)
    time.sleep(0.03 * pace)
    tracker.complete(job, name)
