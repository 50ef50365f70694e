"""RQ: jobs report their component's status through RQ's callbacks and a worker class.

`enqueue_group(queue, calls)` creates a job with one component per call and enqueues the
calls with `report_success` / `report_failure` / `report_stopped` as their callbacks; a
failure is `retrying` while the RQ job has retries left (RQ calls `on_failure` before it
decides to retry). `TrackedWorker` (forking) and `TrackedSimpleWorker` also report the start
of each attempt, a job that returns `rq.Retry`, and (forking) a killed work-horse. A job
carries its link in `job.meta["jobledger"]`. Workers report to `$JOBLEDGER_STORE`, or to the
store given to `use_store()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from rq import Queue, Retry, SimpleWorker, Worker
from rq.callbacks import Callback
from rq.job import Job
from rq.queue import EnqueueData
from rq.worker.base import BaseWorker

from ..application.tracker import Tracker
from ..domain.errors import InvalidJobDefinition
from ..domain.status import Status
from .reporting import LINK_KEY, Link, Reporter, describe, enter, link_group, progress

__all__ = [
    "TrackedSimpleWorker",
    "TrackedWorker",
    "enqueue_group",
    "progress",
    "report_failure",
    "report_stopped",
    "report_success",
    "tracked",
    "use_store",
]

_reporter = Reporter()
if TYPE_CHECKING:
    _Base = BaseWorker
else:
    _Base = object  # the mixin below is for RQ's workers


def use_store(store: str | None) -> None:
    """Make this process's callbacks and workers report to `store` (a URL; None:
    `$JOBLEDGER_STORE`)."""
    global _reporter  # noqa: PLW0603 - callbacks are named by import path, with no context
    _reporter.close()
    _reporter = Reporter(store)


def _link(job: Job) -> Link | None:
    return Link.decode((job.meta or {}).get(LINK_KEY))


def report_success(job: Job, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """RQ `on_success` callback: the component completed."""
    if link := _link(job):
        _reporter.report(link, Status.COMPLETED)


def report_failure(job: Job, connection: Any, *exc_info: Any, **kwargs: Any) -> None:
    """RQ `on_failure` callback: `retrying` if the job has retries left, else `failed`."""
    if link := _link(job):
        error = exc_info[1] if len(exc_info) > 1 else None
        message = describe(error) if isinstance(error, BaseException) else "failed"
        _reporter.report(link, _after_failure(job), message)


def report_stopped(job: Job, connection: Any, *args: Any, **kwargs: Any) -> None:
    """RQ `on_stopped` callback: the job was stopped, so the component failed."""
    if link := _link(job):
        _reporter.report(link, Status.FAILED, "stopped")


def _after_failure(job: Job) -> Status:
    return Status.RETRYING if (job.retries_left or 0) > 0 else Status.FAILED


_CALLBACKS = {
    "on_success": report_success,
    "on_failure": report_failure,
    "on_stopped": report_stopped,
}


def tracked(data: EnqueueData, job_id: UUID | str, component: str) -> EnqueueData:
    """`data` (from `Queue.prepare_data`) reporting on `component` of the job `job_id`, for
    `Queue.enqueue_many`. Raises `InvalidJobDefinition` if `data` has callbacks of its own (call
    ours from yours instead)."""
    taken = [name for name in _CALLBACKS if getattr(data, name) is not None]
    if taken:
        msg = f"{component!r} has its own {', '.join(taken)}: call report_* from it instead"
        raise InvalidJobDefinition(msg)
    meta = {**(data.meta or {}), LINK_KEY: Link(str(job_id), component).encode()}
    callbacks = {name: Callback(function) for name, function in _CALLBACKS.items()}
    return data._replace(meta=meta, **callbacks)


def enqueue_group(
    queue: Queue,
    calls: Iterable[EnqueueData | Callable[[], Any]],
    *,
    name: str | None = None,
    components: Sequence[str] | None = None,
    allowed_failures: int = 0,
    retry: Retry | None = None,
    store: Tracker | str | None = None,
) -> tuple[UUID, list[Job]]:
    """Create a job with one component per call (named `components`, else
    `"<function>#<i>"`) in `store` (a Tracker, a URL, or None: `$JOBLEDGER_STORE`) and
    enqueue the calls: each a `Queue.prepare_data(...)` or a callable taking no arguments.
    `retry` applies to calls without a retry of their own."""
    prepared = [c if isinstance(c, EnqueueData) else Queue.prepare_data(c) for c in calls]
    if retry is not None:
        prepared = [data._replace(retry=data.retry or retry) for data in prepared]
    names = [_function_name(data.func) for data in prepared]
    job_id, linked = link_group(
        tracked, prepared, names, store, components, name=name, allowed_failures=allowed_failures
    )
    return job_id, queue.enqueue_many(linked)


def _function_name(function: Any) -> str:
    if isinstance(function, str):
        return function
    return f"{function.__module__}.{getattr(function, '__qualname__', function)}"


class _Tracking(_Base):
    """Reports each attempt's start, and a job that returns `rq.Retry`."""

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        link = _link(job)
        enter(_reporter, link)
        if link is not None:
            _reporter.report(link, Status.IN_PROGRESS, "started")
        try:
            return bool(super().perform_job(job, queue, *args, **kwargs))
        finally:
            enter(_reporter, None)

    def handle_job_retry(self, job: Job, queue: Queue, retry: Retry, *args: Any, **kw: Any) -> None:
        if link := _link(job):
            gives_up = (job.number_of_retries or 0) >= retry.max
            status = Status.FAILED if gives_up else Status.RETRYING
            _reporter.report(link, status, f"returned Retry (max {retry.max})")
        super().handle_job_retry(job, queue, retry, *args, **kw)


class TrackedWorker(_Tracking, Worker):
    """RQ's forking worker, also reporting starts and killed work-horses (`failed`, or
    `retrying` with retries left). Run it with `rq worker -w
    jobledger.integrations.rq.TrackedWorker`."""

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        if link := _link(job):
            how = f"signal {os.WTERMSIG(ret_val)}" if os.WIFSIGNALED(ret_val) else f"{ret_val}"
            _reporter.report(link, _after_failure(job), f"work-horse killed ({how})")
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)  # type: ignore[no-untyped-call]


class TrackedSimpleWorker(_Tracking, SimpleWorker):
    """RQ's worker without fork, also reporting starts."""
