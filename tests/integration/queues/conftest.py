"""Fixtures shared by the queue integrations' tests: a store for each worker (file or
PostgreSQL), a real worker process on the throwaway Redis, and waiting for what it did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobledger import JobStatus, Status, Tracker
from jobledger.testing.freshness import eventually
from jobledger.testing.redis_server import stop_process

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))  # the task modules, imported by tests and workers alike


@dataclass
class Worker:
    """A worker process on a store, and a Tracker on that store for the test."""

    tracker: Tracker
    store_url: str
    redis_socket: str
    scratch: Path
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> None:
        assert self.process.poll() is None, self.log.read_text()[-4000:]


@pytest.fixture(scope="module", params=["file", "postgres"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh store shared by the test process and one module's worker."""
    if request.param == "file":
        yield f"file://{tmp_path_factory.mktemp('store')}"
        return
    import psycopg

    from jobledger.testing.postgres_server import database_url

    server = request.getfixturevalue("postgres_url")
    name = f"queues_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    yield database_url(server, name)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_worker(
    command: list[str],
    *,
    store_url: str,
    redis_socket: str,
    scratch: Path,
    ready: Callable[[Path], bool],
    flush: bool = True,
    modules: Path = HERE,
    env: Mapping[str, str] | None = None,
) -> Iterator[Worker]:
    """Run `command` (a worker of the task modules in `modules`, with `env` added to the
    environment) until the test module ends, first emptying Redis of other modules'
    messages unless `flush` is false."""
    import redis

    if flush:
        redis.Redis(unix_socket_path=redis_socket).flushall()
    environment = {
        **os.environ,
        "JOBLEDGER_STORE": store_url,
        "REDIS_SOCKET": redis_socket,
        "PYTHONPATH": str(modules),
        **(env or {}),
    }
    log = scratch / "worker.log"
    with log.open("wb") as output, Tracker.open(store_url) as tracker:
        process = subprocess.Popen(
            command, env=environment, cwd=modules, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while not ready(log):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            yield Worker(tracker, store_url, redis_socket, scratch, process, log)
        finally:
            stop_process(process, 20)


def settled(tracker: Tracker, job: uuid.UUID) -> JobStatus:
    """The job's status once it has finished and every component is final (a failed job
    finishes while others still run)."""
    tracker.wait(job, timeout=90)
    final = {Status.COMPLETED, Status.FAILED}
    eventually(lambda: all(c.status in final for c in tracker.status(job).components.values()))
    return tracker.status(job)
