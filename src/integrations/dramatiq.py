"""Dramatiq: the `Jobledger` middleware reports each tracked message's component status.

Add it with `install(broker)`, which places it so that its `after_process_message` runs
after the Retries middleware has decided: a failed attempt is `retrying` unless the message
was failed (`message.failed`: retries exhausted, or an exception the actor `throws`).
`tracked_group(messages)` creates a job with one component per message and runs the group;
`tracked(message, job_id, component)` links one message. A message carries its link in its
options (`"jobledger"`), kept across retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from dramatiq import Broker, Message, Middleware, Worker, group
from dramatiq.broker import MessageProxy
from dramatiq.middleware import MiddlewareError, Retries

from ..application.tracker import Tracker
from ..domain.errors import ConfigurationError
from ..domain.status import Status
from .reporting import LINK_KEY, Link, Reporter, describe, enter, link_group, progress

__all__ = ["Jobledger", "MisplacedMiddleware", "install", "progress", "tracked", "tracked_group"]


class MisplacedMiddleware(ConfigurationError, MiddlewareError):
    """`Jobledger` comes after `Retries` in the broker's middleware, so it would report
    before Retries decides; add it with `install()` (or `before=Retries`)."""


class Jobledger(Middleware):
    """Reports tracked messages to `store` (a URL; None: `$JOBLEDGER_STORE`), opened in
    each worker process on first use: `in_progress` when processing starts, then
    `completed`, `retrying` (a retry will follow) or `failed` (with the exception; also
    for a skipped message, which never runs)."""

    def __init__(self, store: str | None = None) -> None:
        self.reporter = Reporter(store)

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        kinds = [type(middleware) for middleware in broker.middleware]
        if Retries in kinds and kinds.index(Retries) < broker.middleware.index(self):
            raise MisplacedMiddleware(self.__class__.__doc__)

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        link = Link.decode(message.options.get(LINK_KEY))
        enter(self.reporter, link)
        if link is not None and not message.failed:
            attempt = message.options.get("retries", 0) + 1
            self.reporter.report(link, Status.IN_PROGRESS, f"attempt {attempt}")

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        enter(self.reporter, None)
        link = Link.decode(message.options.get(LINK_KEY))
        if link is None:
            return
        if exception is None and not message.failed:
            self.reporter.report(link, Status.COMPLETED)
            return
        retried = not message.failed and any(isinstance(m, Retries) for m in broker.middleware)
        text = describe(exception) if exception is not None else "failed"
        self.reporter.report(link, Status.RETRYING if retried else Status.FAILED, text)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        enter(self.reporter, None)
        if link := Link.decode(message.options.get(LINK_KEY)):
            self.reporter.report(link, Status.FAILED, "skipped")


def install(broker: Broker, store: str | None = None) -> Jobledger:
    """Add a `Jobledger` middleware to `broker`, ahead of Retries in its list (Dramatiq runs
    the `after_*` hooks in reverse order, so it reports after Retries decided)."""
    middleware = Jobledger(store)
    has_retries = any(isinstance(m, Retries) for m in broker.middleware)
    broker.add_middleware(middleware, before=Retries if has_retries else None)
    return middleware


def tracked(message: Message[Any], job_id: UUID | str, component: str) -> Message[Any]:
    """A copy of `message` that reports on `component` of the job `job_id`."""
    return message.copy(options={LINK_KEY: Link(str(job_id), component).encode()})


def tracked_group(
    messages: Iterable[Message[Any]],
    *,
    name: str | None = None,
    components: Sequence[str] | None = None,
    allowed_failures: int = 0,
    store: Tracker | str | None = None,
) -> tuple[UUID, group]:
    """Create a job with one component per message (named `components`, else
    `"<actor name>#<i>"`) in `store` (a Tracker, a URL, or None: `$JOBLEDGER_STORE`), then
    run the group; return the job's id and the group."""
    messages = list(messages)
    names = [message.actor_name for message in messages]
    job_id, children = link_group(
        tracked, messages, names, store, components, name=name, allowed_failures=allowed_failures
    )
    linked = group(children)  # type: ignore[no-untyped-call]
    return job_id, linked.run()  # type: ignore[no-untyped-call]
