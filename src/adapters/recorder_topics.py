"""Choosing a recorder class from the environment, as every store's factory does."""

from __future__ import annotations

from typing import TypeVar

from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.utils import Environment, TopicError, resolve_topic

_R = TypeVar("_R")


def recorder_class(
    env: Environment, key: str, default: type[_R], given: type[_R] | None = None
) -> type[_R]:
    """`given` if passed, else the class named by the topic `env[key]`, else `default`.

    Raises `InfrastructureFactoryError`, naming the setting, unless that class is `default`
    or a subclass of it.
    """
    chosen: object = given
    if chosen is None:
        topic = env.get(key)
        try:
            chosen = resolve_topic(topic) if topic else default
        except TopicError as error:
            raise InfrastructureFactoryError(f"{key}: {error}") from None
    if not (isinstance(chosen, type) and issubclass(chosen, default)):
        raise InfrastructureFactoryError(
            f"{key} names {chosen!r}, which is not a {default.__qualname__}"
        )
    return chosen
