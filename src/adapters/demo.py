"""The demonstration `make demo` runs: the original package's example job.

Ten "download" and a hundred "resize" components are worked on by a pool of threads that
report through the store; a few attempts fail and are retried; the single "notify"
component runs once every other component has completed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from ..application.tracker import Tracker
from ..domain.projection import JobStatus
from ..domain.status import Status

DOWNLOADS = [f"download-{n:02d}" for n in range(1, 11)]
RESIZES = [f"resize-{n:03d}" for n in range(1, 101)]
NOTIFY = "notify"


def run_demo(
    tracker: Tracker, *, workers: int = 4, out: Callable[[str], None] = print
) -> JobStatus:
    """Run the example job on `tracker` and return its final status."""
    job = tracker.create_job([*DOWNLOADS, *RESIZES, NOTIFY], name="image import")
    out(f"job {job}: {len(DOWNLOADS)} downloads, {len(RESIZES)} resizes, 1 notification")
    done = threading.Event()
    printer = threading.Thread(target=_show_progress, args=(tracker, job, done, out))
    printer.start()
    rng = random.Random(7)
    flaky = set(rng.sample(RESIZES, 5))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda name: _work(tracker, job, name, name in flaky), DOWNLOADS))
        list(pool.map(lambda name: _work(tracker, job, name, name in flaky), RESIZES))
    tracker.start(job, NOTIFY, message="all images ready; notifying")
    tracker.complete(job, NOTIFY, message="notification sent")
    final = tracker.wait(job, timeout=60)
    done.set()
    printer.join()
    out(_table(final))
    return final


def _work(tracker: Tracker, job: UUID, name: str, flaky: bool) -> None:
    tracker.start(job, name, progress=0.0)
    time.sleep(0.005)
    if flaky:
        tracker.report(job, name, Status.RETRYING, message="timed out; retrying")
        tracker.start(job, name, progress=0.0, message="attempt 2")
    tracker.start(job, name, progress=0.5)
    time.sleep(0.005)
    tracker.complete(job, name)


def _show_progress(
    tracker: Tracker, job: UUID, done: threading.Event, out: Callable[[str], None]
) -> None:
    while not done.wait(0.1):
        status = tracker.status(job)
        out(f"  {status.progress:6.1%}  " + _counts(status))


def _counts(status: JobStatus) -> str:
    return ", ".join(f"{s.value} {n}" for s, n in status.counts.items() if n)


def _table(status: JobStatus) -> str:
    groups = {"download": DOWNLOADS, "resize": RESIZES, "notify": [NOTIFY]}
    lines = [f"job {status.job_id} {status.overall.value} ({status.progress:.0%})"]
    for group, names in groups.items():
        states = [status.components[n].status for n in names]
        done = sum(s is Status.COMPLETED for s in states)
        lines.append(f"  {group:<9} {done:>3}/{len(names):<3} completed")
    retried = sum(1 for c in status.components.values() if c.version > 3)
    lines.append(f"  {retried} components needed a second attempt")
    return "\n".join(lines)
