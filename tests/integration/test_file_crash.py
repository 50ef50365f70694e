"""Eight writers SIGKILLed at random moments, again and again: nothing acknowledged is lost.

Each worker (this file run as a script) appends events to streams of its own and, now and then,
to one stream all workers share (retrying version conflicts), and logs every insert only after
`insert_events()` returned. The test then checks the store against the log.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from jobledger.adapters.file import FileFactory

WORKERS = 8
KILLS = 24
NAMESPACE = uuid.UUID("6f1c1d7e-2f7a-4a7b-9a53-1f0f6c1d2e3f")
SHARED = uuid.uuid5(NAMESPACE, "shared")


def run_worker(directory: str, index: int, log_path: str) -> None:
    """Insert events forever, logging each acknowledged one as `stream:version:id`; after
    the first, create the worker's ready file."""
    recorder = FileFactory({"JOBLEDGER_FILE_DIR": directory}).application_recorder()
    streams = [uuid.uuid5(NAMESPACE, f"{index}-{n}") for n in range(3)]
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        stream = SHARED if random.random() < 0.1 else random.choice(streams)
        done = recorder.select_events(stream, desc=True, limit=1)
        first = done[0].originator_version + 1 if done else 1
        versions = range(first, first + random.randint(1, 3))
        events = [StoredEvent(stream, v, "crash", f"{stream}:{v}".encode()) for v in versions]
        try:
            ids = recorder.insert_events(events)
        except IntegrityError:
            continue
        assert ids is not None
        acks = " ".join(f"{stream.hex}:{v}:{i}" for v, i in zip(versions, ids, strict=True))
        os.write(log, f"{acks}\n".encode())
        ready(Path(log_path), index).touch()


def ready(log: Path, index: int) -> Path:
    """The file a worker creates once it has written something."""
    return log.with_name(f"worker{index}.ready")


def start(directory: Path, index: int, log: Path) -> subprocess.Popen[bytes]:
    ready(log, index).unlink(missing_ok=True)
    command = [sys.executable, __file__, str(directory), str(index), str(log)]
    with open(log.with_name(f"worker{index}.err"), "ab") as errors:
        return subprocess.Popen(command, stderr=errors)


@pytest.mark.slow
def test_sigkilled_writers_lose_nothing_acknowledged_and_leave_no_torn_record(
    tmp_path: Path,
) -> None:
    directory, log = tmp_path / "store", tmp_path / "acks.log"
    FileFactory({"JOBLEDGER_FILE_DIR": str(directory)}).application_recorder()
    workers = {i: start(directory, i, log) for i in range(WORKERS)}
    kills, deadline = 0, time.monotonic() + 90
    while kills < KILLS and time.monotonic() < deadline:
        time.sleep(random.uniform(0.05, 0.3))
        # Kill only workers that have started writing, however slowly they started.
        writing = [i for i in workers if ready(log, i).exists()]
        if not writing:
            continue
        victim = random.choice(writing)
        process = workers[victim]
        assert process.poll() is None, (tmp_path / f"worker{victim}.err").read_text()
        process.kill()
        process.wait()
        kills += 1
        workers[victim] = start(directory, victim, log)
    for index, process in workers.items():
        assert process.poll() is None, (tmp_path / f"worker{index}.err").read_text()
        process.kill()
        process.wait()
    assert kills >= 20

    recorder = FileFactory({"JOBLEDGER_FILE_DIR": str(directory)}).application_recorder()
    assert not (directory / "events" / "pending").exists()
    notifications = []
    while page := recorder.select_notifications(len(notifications) + 1, 500):
        notifications += page
    ids = [n.id for n in notifications]
    assert ids == list(range(1, len(ids) + 1))  # dense, ordered, no holes
    assert recorder.max_notification_id() == len(ids)
    in_feed = {(n.originator_id.hex, n.originator_version): n for n in notifications}
    assert len(in_feed) == len(notifications)  # each (stream, version) exactly once
    assert all(
        n.state == f"{n.originator_id}:{n.originator_version}".encode() for n in notifications
    )

    acknowledged = [ack.split(":") for ack in log.read_text().split()]
    assert len(acknowledged) >= 50
    for stream_hex, version, position in acknowledged:
        assert in_feed[(stream_hex, int(version))].id == int(position)

    per_stream = Counter(stream_hex for stream_hex, _ in in_feed)
    for stream_hex, count in per_stream.items():
        events = recorder.select_events(uuid.UUID(stream_hex))
        assert [e.originator_version for e in events] == list(range(1, count + 1))


if __name__ == "__main__":
    run_worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])
