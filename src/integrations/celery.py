"""Celery: tasks report their component's status through Celery's signals.

`install(app)` connects the handlers; `tracked_group(signatures)` creates a job with one
component per signature and applies the group; `tracked(signature, job_id, component)` links
one signature to a component of an existing job; `progress()` reports from a running task.
A task carries its link in the message header `jobledger`, kept across retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from celery import Celery, Task, group, signals
from celery.canvas import Signature
from celery.exceptions import TimeLimitExceeded
from celery.result import GroupResult
from celery.worker import state as worker_state

from ..application.tracker import Tracker
from ..domain.status import Status
from .reporting import LINK_KEY, Link, Reporter, describe, enter, link_group, progress

__all__ = ["install", "progress", "tracked", "tracked_group"]


def install(app: Celery, store: str | None = None) -> Reporter:
    """Report the status of `app`'s tracked tasks to `store` (a URL; None:
    `$JOBLEDGER_STORE`), opened in each worker process on first use. Call it where the
    worker imports the app. Returns the Reporter (close it to release the store)."""
    handlers = _Handlers(app, Reporter(store))
    uid = f"jobledger-{id(app)}"
    for signal, handler in (
        (signals.task_received, handlers.received),
        (signals.task_prerun, handlers.prerun),
        (signals.task_postrun, handlers.postrun),
        (signals.task_retry, handlers.retry),
        (signals.task_success, handlers.success),
        (signals.task_failure, handlers.failure),
        (signals.task_revoked, handlers.revoked),
    ):
        signal.connect(handler, weak=False, dispatch_uid=uid)
    return handlers.reporter


def tracked(signature: Signature, job_id: UUID | str, component: str) -> Signature:
    """A copy of `signature` that reports on `component` of the existing job `job_id`."""
    copy = signature.clone()
    headers = dict(copy.options.get("headers") or {})
    headers[LINK_KEY] = Link(str(job_id), component).encode()
    copy.set(headers=headers)
    return copy


def tracked_group(
    signatures: Iterable[Signature],
    *,
    name: str | None = None,
    components: Sequence[str] | None = None,
    allowed_failures: int = 0,
    store: Tracker | str | None = None,
    **options: Any,
) -> tuple[UUID, GroupResult]:
    """Create a job with one component per signature (named `components`, else
    `"<task name>#<i>"`) in `store` (a Tracker, a URL, or None: `$JOBLEDGER_STORE`), then
    apply the group with `options`; return the job's id and the group's result."""
    signatures = list(signatures)
    names = [signature.task for signature in signatures]
    job_id, linked = link_group(
        tracked, signatures, names, store, components, name=name, allowed_failures=allowed_failures
    )
    return job_id, group(linked).apply_async(**options)


class _Handlers:
    def __init__(self, app: Celery, reporter: Reporter) -> None:
        self.app = app
        self.reporter = reporter
        # The worker process's links by task id, for a hard time limit's failure, which
        # Celery signals there without the task's request.
        self.received_links: dict[str, Link] = {}

    def _link(self, task: Task, request: Any = None) -> Link | None:
        if getattr(task, "app", None) is not self.app:
            return None
        request = request if request is not None else task.request
        link = Link.decode(getattr(request, LINK_KEY, None))
        headers = getattr(request, "headers", None)
        if link is None and isinstance(headers, dict):
            link = Link.decode(headers.get(LINK_KEY))
        return link

    def received(self, request: Any = None, **_: Any) -> None:
        link = Link.decode(request.request_dict.get(LINK_KEY)) if request is not None else None
        if link is not None and request.task is not None and request.task.app is self.app:
            if len(self.received_links) > 1_000:  # keep only requests still in this worker
                live = worker_state.requests
                self.received_links = {k: v for k, v in self.received_links.items() if k in live}
            self.received_links[request.id] = link

    def prerun(self, sender: Task, **_: Any) -> None:
        link = self._link(sender)
        enter(self.reporter, link)
        if link is not None:
            attempt = (sender.request.retries or 0) + 1
            self.reporter.report(link, Status.IN_PROGRESS, f"attempt {attempt}")

    def postrun(self, **_: Any) -> None:
        enter(self.reporter, None)

    def retry(self, sender: Task, request: Any = None, reason: Any = None, **_: Any) -> None:
        link = self._link(sender, request)
        if link is not None:
            cause = getattr(reason, "exc", None) or reason
            message = describe(cause) if isinstance(cause, BaseException) else str(cause or "")
            self.reporter.report(link, Status.RETRYING, message)

    def success(self, sender: Task, **_: Any) -> None:
        link = self._link(sender)
        if link is not None:
            self.reporter.report(link, Status.COMPLETED)

    def failure(
        self, sender: Task, task_id: str = "", exception: BaseException | None = None, **_: Any
    ) -> None:
        link = self._link(sender) or self.received_links.pop(task_id, None)
        if link is None:
            return
        # A hard time limit with late acknowledgement (and acks_on_timeout off) requeues the
        # message: another attempt follows.
        requeued = (
            isinstance(exception, TimeLimitExceeded)
            and bool(sender.acks_late)
            and not _acks_on_timeout(sender)
        )
        status = Status.RETRYING if requeued else Status.FAILED
        self.reporter.report(link, status, describe(exception or RuntimeError("failed")))

    def revoked(
        self,
        sender: Task,
        request: Any = None,
        terminated: bool = False,
        expired: bool = False,
        **_: Any,
    ) -> None:
        link = self._link(sender, request)
        if link is not None:
            why = "expired" if expired else "terminated" if terminated else "revoked"
            self.reporter.report(link, Status.FAILED, f"revoked ({why})")


def _acks_on_timeout(task: Task) -> bool:
    flag = getattr(task, "acks_on_timeout", None)
    if flag is None:
        flag = getattr(task, "acks_on_failure_or_timeout", True)
    return bool(flag)
