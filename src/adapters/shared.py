"""What the stores share: choosing a recorder class from the environment, the rule every
tracking record follows, where a feed selection starts, the subscription every store's
application recorder returns, and refusing use after close."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from threading import Event, Lock, Thread
from typing import Any, TypeVar

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactoryError,
    IntegrityError,
    InterfaceError,
    ListenNotifySubscription,
    Tracking,
)
from eventsourcing.utils import Environment, resolve_topic

_R = TypeVar("_R")


class NoSuchStore(InfrastructureFactoryError):
    """The store does not exist, and it was opened without creating it (`CREATE_TABLE=no`)."""


class _PassOn(logging.Filter):
    """Hands each record to another logger instead of the one it was logged on."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = logging.getLogger(target)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.target.isEnabledFor(record.levelno):
            record.name = self.target.name
            self.target.handle(record)
        return False


def pass_logs_on(source: str, target: str) -> None:
    """Send the records of a library's logger `source` to our logger `target` (once)."""
    logger = logging.getLogger(source)
    if not any(isinstance(f, _PassOn) for f in logger.filters):
        logger.addFilter(_PassOn(target))


def recorder_class(
    env: Environment, key: str, default: type[_R], given: type[_R] | None = None
) -> type[_R]:
    """`given` if passed, else the class named by the topic `env[key]`, else `default`.

    Raises `InfrastructureFactoryError`, naming the setting, unless that class is `default`
    or a subclass of it.
    """
    chosen: object = given
    source = "the class given"
    if chosen is None:
        topic = env.get(key)
        source = f"{key}={topic!r}"
        try:
            chosen = resolve_topic(topic) if topic else default
        except Exception as error:  # Importing the named module may raise anything.
            raise InfrastructureFactoryError(f"{source}: {type(error).__name__}: {error}") from None
    if not (isinstance(chosen, type) and issubclass(chosen, default)):
        raise InfrastructureFactoryError(f"{source} is {chosen!r}, not a {default.__qualname__}")
    return chosen


class Lifetime:
    """Whether a store is still open: its factory closes it, and its recorders and views call
    `check()` before each use, so that every use after `close()` fails the same way."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.closed = False

    def close(self) -> None:
        """Refuse every later use; closing again does nothing."""
        self.closed = True

    def check(self) -> None:
        """Raise eventsourcing's `InterfaceError`, naming the store, if it is closed."""
        if self.closed:
            raise InterfaceError(f"{self.store} is closed")


def check_tracking(tracking: Tracking, recorded: int | None) -> None:
    """Raise `IntegrityError` unless `tracking` is above the position `recorded` for its
    application (None: nothing recorded yet)."""
    if recorded is not None and recorded >= tracking.notification_id:
        raise IntegrityError(
            f"tracking id {tracking.notification_id} of {tracking.application_name!r} "
            f"is not above the recorded {recorded}"
        )


def first_position(start: int | None, inclusive_of_start: bool) -> int:
    """The first feed position `select_notifications(start, ...)` may return (at least 1)."""
    first = 1 if start is None else start + (0 if inclusive_of_start else 1)
    return max(first, 1)


class Wakeups:
    """Events of this process's subscriptions, set when this process records events."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._events: set[Event] = set()

    def add(self, event: Event) -> None:
        """Wake `event` on every later local insert."""
        with self._lock:
            self._events.add(event)

    def discard(self, event: Event) -> None:
        """Stop waking `event`."""
        with self._lock:
            self._events.discard(event)

    def wake_all(self) -> None:
        """Set every registered event."""
        with self._lock:
            for event in self._events:
                event.set()


class LocalSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """Follows a recorder's feed: pulls at once when this process records events and, given
    `poll`, every `poll` seconds, to see what other processes record (no store here sends
    notifications on its write path: they would serialise commits)."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        wakeups: Wakeups,
        *,
        gt: int | None,
        topics: Sequence[str],
        poll: float | None,
    ) -> None:
        self._stopping = Event()
        self._wakeups = wakeups
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        wakeups.add(self._has_been_notified)
        self._poll_thread = Thread(target=self._poll, args=(poll,), daemon=True)
        if poll is not None:
            self._poll_thread.start()

    def stop(self) -> None:
        """Stop the subscription and its polling."""
        super().stop()
        self._stopping.set()
        self._wakeups.discard(self._has_been_notified)

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            if self._poll_thread.ident is not None:
                self._poll_thread.join()

    def _poll(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            self._has_been_notified.set()
