"""The demonstration `make demo` runs: the original package's example job.

Ten "download" and a hundred "resize" components are worked on by a pool of worker
processes that report through the store (threads, on the in-process memory store), or with
`queue="celery"` by Celery tasks on a real worker (`integrations.celery_demo`); a few
attempts fail and are retried. The one "notify" component is dispatched once every other
component has completed, and an `on_completed` hook announces the finished job, once.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Protocol
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..application.hooks import FinishedJob
from ..application.stores import describe_store
from ..application.tracker import Tracker
from ..domain.errors import ConfigurationError
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
    url: str,
    *,
    workers: int = 4,
    console: Console | None = None,
    pace: float = 1.0,
    queue: str | None = None,
) -> JobStatus:
    """Run the example job on the store at `url` with live progress, each step `pace`
    times as long as usual, on `workers` processes: a pool of ours, or with `queue`
    ("celery") the queue's own workers; return the job's end."""
    console = console or out.console()
    announced: list[FinishedJob] = []
    with Tracker.open(url) as tracker:
        tracker.on_completed(announced.append, name="announce")
        with _workers(url, tracker, workers, queue) as pool:
            job = tracker.create_job(
                [name for names in GROUPS.values() for name in names], name="import images"
            )
            where = f" on {queue} workers" if queue else ""
            console.print(f"job {job}: 10 downloads, 100 resizes, then 1 notification{where}")
            with _Display(console) as display:
                pool.dispatch(job, GROUPS["download"] + GROUPS["resize"], pace)
                while not display.show(tracker.status(job)):
                    pool.check()
                    time.sleep(0.1)
                pool.dispatch(job, GROUPS["notify"], pace)
                final = tracker.wait(job, timeout=120 * pace)
                display.show(final)
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


class Workers(Protocol):
    """Where the demo's components are worked on."""

    def dispatch(self, job: UUID, names: Sequence[str], pace: float) -> None:
        """Start work on the components `names` of `job`."""

    def check(self) -> None:
        """Raise if the work cannot go on (a worker failed)."""


class _Pool:
    """Our own pool: threads on the memory store, else spawned processes."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._work: list[Future[None]] = []

    def dispatch(self, job: UUID, names: Sequence[str], pace: float) -> None:
        self._work += [self._executor.submit(_work, job, n, pace) for n in names]

    def check(self) -> None:
        for done in self._work:
            if done.done():
                done.result()

    def join(self) -> None:
        """Wait for all the work; raise its first error."""
        for done in self._work:
            done.result()


@contextmanager
def _workers(url: str, tracker: Tracker, workers: int, queue: str | None) -> Iterator[Workers]:
    if queue is not None:
        with _queue_workers(url, workers, queue) as queued:
            yield queued
        return
    if url.lower().startswith("memory:"):
        executor: Executor = ThreadPoolExecutor(workers, initializer=_use, initargs=(tracker,))
    else:
        spawn = get_context("spawn")
        executor = ProcessPoolExecutor(workers, spawn, initializer=_connect, initargs=(url,))
    with executor:
        pool = _Pool(executor)
        yield pool
        pool.join()


QUEUES = ("celery",)
"""The queues `demo --queue` runs on."""


@contextmanager
def _queue_workers(url: str, workers: int, queue: str) -> Iterator[Workers]:
    """The queue's workers, imported only now: the queue is an optional extra."""
    if url.lower().startswith("memory:"):
        raise ConfigurationError(f"demo --queue {queue} needs a file: or postgresql:// store")
    try:
        module = importlib.import_module(f"..integrations.{queue}_demo", __package__)
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("jobledger"):
            raise
        raise ConfigurationError(
            f"demo --queue {queue} needs the {queue} extra (pip install 'jobledger[{queue}]'): "
            f"{error}"
        ) from None
    with module.demo_workers(url, concurrency=workers, flaky=FLAKY) as queued:
        yield queued


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
