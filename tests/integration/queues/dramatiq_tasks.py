"""Dramatiq actors for the integration tests, run by a real `dramatiq` worker.

Retries back off for 10-50 ms; messages of a killed worker are requeued after 5 s.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from once import first_time

from jobledger.integrations import dramatiq as tracking

broker = RedisBroker(
    url=f"unix://{os.environ.get('REDIS_SOCKET', '')}",
    heartbeat_timeout=5_000,
    maintenance_chance=1_000_000,
)
tracking.install(broker)
dramatiq.set_broker(broker)
fast = {"min_backoff": 10, "max_backoff": 50}


@dramatiq.actor(max_retries=0)
def succeed() -> None:
    """Succeeds at once."""


@dramatiq.actor(max_retries=3, **fast)
def flaky(marker: str) -> None:
    """Fails its first attempt, then succeeds."""
    if first_time(marker):
        raise RuntimeError("first attempt fails")


@dramatiq.actor(max_retries=2, **fast)
def broken() -> None:
    """Fails every attempt."""
    raise ValueError("always broken")


@dramatiq.actor(queue_name="crash", max_retries=0)
def killed_once(marker: str) -> None:
    """Kills the worker process running it on the first delivery."""
    if first_time(marker):
        os.kill(os.getpid(), signal.SIGKILL)


@dramatiq.actor(max_retries=0)
def touch(path: str) -> None:
    """Creates the file `path`."""
    Path(path).touch()


@dramatiq.actor(max_retries=0)
def halfway(go: str) -> None:
    """Reports half its progress, then waits for the file `go`."""
    tracking.progress(0.5, "half done")
    while not Path(go).exists():
        time.sleep(0.05)
