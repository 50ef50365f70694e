"""What the queue integrations share: the link from a task to its component, job creation
for a group of tasks and linking them to it, a per-process Tracker, reports that never raise
into a task, and `progress()`."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID, uuid4

from ..application.tracker import Tracker
from ..domain.errors import InvalidInput, InvalidJobDefinition, InvalidTransition
from ..domain.status import Status

__all__ = ["LINK_KEY", "Link", "Reporter", "describe", "link_group", "new_job", "progress"]

#: The name under which a task carries its link (a message header, job meta or option).
LINK_KEY = "jobledger"

#: Reports keep at most this many characters of an exception's message.
MESSAGE_LIMIT = 4_000

logger = logging.getLogger("jobledger.integrations")

Task = TypeVar("Task")


@dataclass(frozen=True)
class Link:
    """The job and component a task reports on."""

    job_id: str
    component: str

    def encode(self) -> dict[str, str]:
        """The link as a JSON-compatible value, for a message header or job meta."""
        return {"job": self.job_id, "component": self.component}

    @classmethod
    def decode(cls, value: object) -> Link | None:
        """The link `encode` made, or None for anything else (an untracked task)."""
        if isinstance(value, Mapping):
            job, component = value.get("job"), value.get("component")
            if isinstance(job, str) and isinstance(component, str):
                return cls(job, component)
        return None


def new_job(
    store: Tracker | str | None,
    task_names: Sequence[str],
    components: Sequence[str] | None,
    *,
    name: str | None,
    allowed_failures: int,
) -> tuple[UUID, list[Link]]:
    """Create a job with one component per task (`components`, else `"<task name>#<i>"`)
    in `store` (a Tracker, a store URL, or None for `$JOBLEDGER_STORE`); return its id and
    the tasks' links, in order."""
    names = list(components) if components is not None else _default_names(task_names)
    if len(names) != len(task_names):
        msg = f"{len(names)} component names for {len(task_names)} tasks"
        raise InvalidJobDefinition(msg)
    job_id = uuid4()
    if isinstance(store, Tracker):
        store.create_job(names, name=name, allowed_failures=allowed_failures, job_id=job_id)
    else:
        with Tracker.open(store) as tracker:
            tracker.create_job(names, name=name, allowed_failures=allowed_failures, job_id=job_id)
    return job_id, [Link(str(job_id), component) for component in names]


def link_group(
    tracked: Callable[[Task, str, str], Task],
    tasks: Sequence[Task],
    task_names: Sequence[str],
    store: Tracker | str | None,
    components: Sequence[str] | None,
    *,
    name: str | None,
    allowed_failures: int,
) -> tuple[UUID, list[Task]]:
    """Create a job with one component per task, as `new_job` does; return its id and the
    tasks, in order, each linked to its component by `tracked(task, job_id, component)`."""
    job_id, links = new_job(
        store, task_names, components, name=name, allowed_failures=allowed_failures
    )
    linked = [
        tracked(task, link.job_id, link.component) for task, link in zip(tasks, links, strict=True)
    ]
    return job_id, linked


def _default_names(task_names: Sequence[str]) -> list[str]:
    return [f"{task}#{index}" for index, task in enumerate(task_names)]


def describe(error: BaseException) -> str:
    """An exception as a report's message: its type and (clipped) text."""
    text = str(error)
    described = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return described[:MESSAGE_LIMIT]


class Reporter:
    """Reports tasks' statuses from a worker to the store `store` names (None:
    `$JOBLEDGER_STORE`), opened on first use in each process, so a pool child forked from
    the worker opens its own. Never raises into the task, except for invalid `progress()`
    input: a report on a component already final (a redelivered task) is a logged no-op,
    as is any store failure."""

    def __init__(self, store: str | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._tracker: Tracker | None = None
        self._pid = os.getpid()
        # Trackers inherited over fork: never used nor closed here, since closing them (or
        # letting them be collected) would close connections the parent still uses.
        self._inherited: list[Tracker] = []

    def tracker(self) -> Tracker:
        """This process's Tracker on the store."""
        with self._lock:
            if self._tracker is not None and self._pid != os.getpid():
                self._inherited.append(self._tracker)
                self._tracker = None
            if self._tracker is None:
                self._tracker = Tracker.open(self._store)
                self._pid = os.getpid()
            return self._tracker

    def report(
        self, link: Link, status: Status, message: str = "", progress: float | None = None
    ) -> None:
        """Record `status` for the linked component; log instead of raising."""
        try:
            self.tracker().report(
                link.job_id, link.component, status, message=message, progress=progress
            )
        except InvalidTransition as error:
            logger.info("%s on %s not recorded: %s", status.value, link, error)
        except InvalidInput:
            raise
        except Exception:
            logger.exception("could not record %s on %s", status.value, link)

    def close(self) -> None:
        """Close this process's Tracker, if it opened one."""
        with self._lock:
            if self._tracker is not None and self._pid == os.getpid():
                self._tracker.close()
            self._tracker = None


_running: ContextVar[tuple[Reporter, Link] | None] = ContextVar("jobledger_task", default=None)


def enter(reporter: Reporter, link: Link | None) -> None:
    """Make `link` the running task's, for `progress()` (None when the task ends)."""
    _running.set(None if link is None else (reporter, link))


def progress(fraction: float, message: str = "") -> None:
    """Report the running task's progress (`in_progress`, `fraction` from 0 to 1); does
    nothing outside a tracked task. Raises `InvalidReport` for a fraction out of range."""
    running = _running.get()
    if running is not None:
        reporter, link = running
        reporter.report(link, Status.IN_PROGRESS, message, progress=fraction)
