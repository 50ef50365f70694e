"""What the stores' factories and recorders share: choosing a recorder class from the
environment, and the rule every tracking record follows."""

from __future__ import annotations

from typing import TypeVar

from eventsourcing.persistence import InfrastructureFactoryError, IntegrityError, Tracking
from eventsourcing.utils import Environment, resolve_topic

_R = TypeVar("_R")


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


def check_tracking(tracking: Tracking, recorded: int | None) -> None:
    """Raise `IntegrityError` unless `tracking` is above the position `recorded` for its
    application (None: nothing recorded yet)."""
    if recorded is not None and recorded >= tracking.notification_id:
        raise IntegrityError(
            f"tracking id {tracking.notification_id} of {tracking.application_name!r} "
            f"is not above the recorded {recorded}"
        )
