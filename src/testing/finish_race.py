"""Many processes complete the last components of a job at the same instant, round after
round; each round must leave exactly one finish record. Reusable for any shared store."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from uuid import UUID

from ..application.tracker import Tracker
from ..domain.events import JobFinished


def _worker(
    url: str, index: int, jobs: multiprocessing.Queue[UUID | None], barrier: Barrier
) -> None:
    with Tracker.open(url) as tracker:
        while (job := jobs.get()) is not None:
            barrier.wait()
            tracker.complete(job, f"last-{index}")
            tracker.summary(job)
            barrier.wait()


def finish_records(tracker: Tracker, job: UUID) -> list[JobFinished]:
    """The finish records in a job's stream."""
    return [e for e in tracker.ledger.stream(job) if isinstance(e, JobFinished)]


def finish_race(url: str, *, processes: int = 16, rounds: int = 50) -> list[int]:
    """Run the race on the store at `url`; return the number of finish records per round."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    queues = [context.Queue() for _ in range(processes)]
    workers = [
        context.Process(target=_worker, args=(url, i, queues[i], barrier), daemon=True)
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    counts: list[int] = []
    try:
        with Tracker.open(url) as tracker:
            for _ in range(rounds):
                job = tracker.create_job(["first", *(f"last-{i}" for i in range(processes))])
                tracker.complete(job, "first")
                for queue in queues:
                    queue.put(job)
                barrier.wait(timeout=120)
                barrier.wait(timeout=120)
                tracker.summary(job)
                counts.append(len(finish_records(tracker, job)))
    finally:
        for queue in queues:
            queue.put(None)
        for worker in workers:
            worker.join(timeout=60)
    return counts
