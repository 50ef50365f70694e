"""Celery tasks for the integration tests, run by a real worker (`celery -A celery_tasks`).

The broker is the throwaway Redis at `$REDIS_SOCKET`; the store is `$JOBLEDGER_STORE`.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from celery import Celery, Task
from once import first_time

from jobledger.integrations import celery as tracking

app = Celery("celery_tasks", broker=f"redis+socket://{os.environ.get('REDIS_SOCKET', '')}")
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
tracking.install(app)


@app.task
def succeed() -> None:
    """Succeeds at once."""


# A short countdown: with none, the next attempt may finish before the `retrying` report of
# the last one is recorded (docs/queues.md, the caveat on retries without a countdown).
@app.task(bind=True, max_retries=3, default_retry_delay=0.3)
def flaky(self: Task, marker: str) -> None:
    """Fails its first attempt, then succeeds."""
    if first_time(marker):
        raise self.retry(exc=RuntimeError("first attempt fails"))


@app.task(bind=True, max_retries=2, default_retry_delay=0.3)
def broken(self: Task) -> None:
    """Fails every attempt, then gives up."""
    raise self.retry(exc=ValueError("always broken"))


@app.task(acks_late=True, reject_on_worker_lost=True)
def killed_once(marker: str) -> None:
    """The worker process running it is killed on the first delivery."""
    if first_time(marker):
        os.kill(os.getpid(), signal.SIGKILL)


@app.task
def touch(path: str) -> None:
    """Creates the file `path`."""
    Path(path).touch()


@app.task
def halfway(go: str) -> None:
    """Reports half its progress, then waits for the file `go`."""
    tracking.progress(0.5, "half done")
    while not Path(go).exists():
        time.sleep(0.05)


@app.task
def sleep(seconds: float) -> None:
    """Sleeps (to be revoked or timed out)."""
    time.sleep(seconds)


@app.task(time_limit=1)
def overrun() -> None:
    """Exceeds its hard time limit."""
    time.sleep(30)


@app.task(time_limit=1, acks_late=True, acks_on_timeout=False)
def overrun_once(marker: str) -> None:
    """Exceeds its hard time limit on the first delivery only; late acknowledgement without
    acks_on_timeout requeues the message."""
    if first_time(marker):
        time.sleep(30)
