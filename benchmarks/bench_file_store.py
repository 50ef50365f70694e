"""Single-event inserts per second into the file store, against a bare write-fsync-rename loop.

Run: `.venv/bin/python benchmarks/bench_file_store.py` (part of `make bench`). For 1 and 4
processes, each on streams of its own (four events per stream, like a component's reports),
it measures the file store's application recorder and, in
the same run on the same disk, a loop that writes, fsyncs and renames one small file per event.
Prints a markdown table; the target is a ratio of at least 40% with 4 processes.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import StoredEvent
from workers import run_workers

from jobledger.adapters.file import FileFactory

SECONDS = 1.5
ROUNDS = 3
EVENTS_PER_STREAM = 4
STATE = b'{"status":"in_progress","progress":0.5,"message":"step 3 of 6"}'


def bare_loop(directory: str, deadline: float) -> int:
    """Write, fsync and rename one small file per event until `deadline`."""
    count = 0
    prefix = os.path.join(directory, f"{os.getpid()}-")
    while time.monotonic() < deadline:
        temporary = f"{prefix}{count}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, STATE)
        os.fsync(fd)
        os.close(fd)
        os.rename(temporary, f"{prefix}{count}")
        count += 1
    return count


def file_store(directory: str, deadline: float) -> int:
    """Insert one event at a time into the file store's application recorder until `deadline`.

    Like a worker reporting on components: a few events per stream, then the next stream.
    """
    recorder = FileFactory({FileFactory.DIRECTORY: directory}).application_recorder()
    count = 0
    while time.monotonic() < deadline:
        stream = uuid.uuid4()
        for version in range(1, EVENTS_PER_STREAM + 1):
            recorder.insert_events([StoredEvent(stream, version, "bench", STATE)])
        count += EVENTS_PER_STREAM
    return count


def _timed(args: tuple[Any, ...]) -> None:
    work, directory, barrier, results = args
    try:
        barrier.wait()
        results.put(work(directory, time.monotonic() + SECONDS))
    except BaseException as error:
        barrier.abort()
        results.put(error)


def rate(work: Callable[[str, float], int], processes: int) -> float:
    """Operations per second of `processes` processes running `work` at once."""
    with tempfile.TemporaryDirectory(prefix="bench-file-", dir=os.environ.get("BENCH_DIR")) as d:
        if work is file_store:
            FileFactory({FileFactory.DIRECTORY: d}).application_recorder()  # create it once
        counts = run_workers(_timed, [(work, d)] * processes, SECONDS + 120)
    return sum(counts) / SECONDS


def main() -> None:
    """Measure and print the table.

    The two loops alternate for `ROUNDS` rounds and the medians are compared, so that a burst
    of other load on the machine does not land on one side only.
    """
    print("| processes | file store inserts/s | bare loop files/s | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    worst = 1.0
    for processes in (1, 4):
        rounds = [(rate(bare_loop, processes), rate(file_store, processes)) for _ in range(ROUNDS)]
        baseline = statistics.median(bare for bare, _ in rounds)
        measured = statistics.median(store for _, store in rounds)
        ratio = measured / baseline
        print(f"| {processes} | {measured:,.0f} | {baseline:,.0f} | {ratio:.0%} |")
        if processes == 4:
            worst = ratio
    sys.stdout.flush()
    if worst < 0.4:
        print(f"\nbelow target: {worst:.0%} of the bare loop with 4 processes (target 40%)")


if __name__ == "__main__":
    main()
