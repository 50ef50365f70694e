"""RQ job functions for the integration tests, run by a real `rq worker`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from once import first_time
from rq import Retry

from jobledger.integrations import rq as tracking


def succeed() -> None:
    """Succeeds at once."""


def flaky(marker: str) -> None:
    """Fails its first attempt, then succeeds."""
    if first_time(marker):
        raise RuntimeError("first attempt fails")


def broken() -> None:
    """Fails every attempt."""
    raise ValueError("always broken")


def killed(marker: str) -> None:
    """Kills its work-horse, the first time only if `marker` is given."""
    if not marker or first_time(marker):
        os.kill(os.getpid(), signal.SIGKILL)


def touch(path: str) -> None:
    """Creates the file `path`."""
    Path(path).touch()


def halfway(go: str) -> None:
    """Reports half its progress, then waits for the file `go`."""
    tracking.progress(0.5, "half done")
    while not Path(go).exists():
        time.sleep(0.05)


def asks_for_retry(marker: str) -> Retry | None:
    """Returns `Retry(max=1)`, the first time only if `marker` is given."""
    if not marker or first_time(marker):
        return Retry(max=1)
    return None
