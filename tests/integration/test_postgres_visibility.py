"""On PostgreSQL, whatever was acknowledged before a process asked is visible to its first
query, while other writers keep transactions in flight and earlier positions have gaps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from jobledger import JobNotFound, Tracker

WRITERS, ROUNDS, FRESH = 3, 20, 8


def leave_gaps(url: str, count: int) -> None:
    """Conflicting reports on one component: each loser's position is never used."""
    with Tracker.open(url) as first, Tracker.open(url) as second:
        job = first.create_job(["g"])
        for n in range(count):
            (first if n % 2 else second).start(job, "g", progress=n / count)


def keep_reporting(url: str, job: UUID, component: str, stop: threading.Event) -> None:
    with Tracker.open(url) as tracker:
        n = 0
        while not stop.is_set():
            n += 1
            tracker.start(job, component, progress=(n % 100) / 100)


def first_query_sees(url: str, job: UUID) -> bool:
    with Tracker.open(url) as fresh:  # a new feed horizon, as in a process just started
        try:
            fresh.summary(job)
        except JobNotFound:
            return False
        return True


@pytest.mark.slow
def test_a_fresh_tracker_sees_every_job_acknowledged_before_it_asked(
    postgres_database: str,
) -> None:
    url = postgres_database
    with Tracker.open(url) as tracker:
        busy = tracker.create_job([f"c{n}" for n in range(WRITERS)])
        stop = threading.Event()
        writers = [
            threading.Thread(target=keep_reporting, args=(url, busy, f"c{n}", stop))
            for n in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        misses = 0
        try:
            with ThreadPoolExecutor(FRESH) as pool:
                for _ in range(ROUNDS):
                    leave_gaps(url, 3)
                    job = tracker.create_job(["a"])
                    seen = pool.map(first_query_sees, [url] * FRESH, [job] * FRESH)
                    misses += list(seen).count(False)
        finally:
            stop.set()
            for writer in writers:
                writer.join()
    assert misses == 0
