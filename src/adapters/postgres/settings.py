"""The PostgreSQL store's URL: what libpq gets and the store's own settings. The password is
taken out of the URL before anything parses the rest, so no parser's message can quote it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from eventsourcing.persistence import InfrastructureFactoryError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ...application.stores import userinfo
from ...domain.errors import ConfigurationError

T = TypeVar("T")

URL_KEY = "JOBLEDGER_POSTGRES_URL"
_URL_SETTINGS = {"pool_size": 5, "pool_timeout": 30.0}
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class PostgresConfigurationError(InfrastructureFactoryError, ValueError):
    """The store URL is missing or malformed, or one of its settings is invalid."""


def environment_for(url: str) -> dict[str, str]:
    """The settings selecting the PostgreSQL store at `url`, checked now."""
    try:
        PostgresSettings.from_url(url)
    except PostgresConfigurationError as error:
        raise ConfigurationError(str(error)) from None
    return {URL_KEY: url}


@dataclass(frozen=True)
class PostgresSettings:
    """A libpq URI split into what libpq gets and the store's own pool settings."""

    conninfo: str = field(repr=False)
    pool_size: int
    pool_timeout: float
    where: str

    @classmethod
    def from_url(cls, url: str) -> PostgresSettings:
        """Parse `postgresql://...?pool_size=N&pool_timeout=S&<libpq parameters>`."""
        url, password = _without_password(url)
        try:
            parts = urlsplit(url)
        except ValueError as error:  # Its message does not repeat the URL.
            raise PostgresConfigurationError(f"malformed PostgreSQL store URL: {error}") from None
        if parts.scheme not in ("postgresql", "postgres"):
            msg = "a PostgreSQL store URL must start with postgresql:// or postgres://"
            raise PostgresConfigurationError(msg)
        query = parse_qsl(parts.query, keep_blank_values=True)
        own = {key: value for key, value in query if key in _URL_SETTINGS}
        rest = urlencode([(k, v) for k, v in query if k not in _URL_SETTINGS])
        conninfo = urlunsplit(parts._replace(query=rest))
        pool_size = _setting(own, "pool_size", int, "a whole number")
        pool_timeout = _setting(own, "pool_timeout", float, "a number of seconds")
        if pool_size < 1 or not pool_timeout > 0:
            msg = f"pool_size must be >= 1 and pool_timeout > 0, got {pool_size}, {pool_timeout}"
            raise PostgresConfigurationError(msg)
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error as error:
            reason = str(error).strip()
            raise PostgresConfigurationError(f"malformed PostgreSQL store URL: {reason}") from None
        where = "database {!r} on host {!r} port {} as user {!r}".format(
            params.get("dbname", "(default)"),
            params.get("host", "(default)"),
            params.get("port", 5432),
            params.get("user", "(default)"),
        )
        if password is not None:
            conninfo = make_conninfo(conninfo, password=password)
        return cls(conninfo, pool_size, pool_timeout, where)


def _without_password(url: str) -> tuple[str, str | None]:
    """`url` without the password of its user information, and that password, decoded."""
    try:
        info = userinfo(url)
    except ConfigurationError as error:
        raise PostgresConfigurationError(str(error)) from None
    if info is None or ":" not in info:
        return url, None
    user, _, password = info.partition(":")
    if _BAD_PERCENT.search(password):
        msg = "malformed PostgreSQL store URL: the password holds an invalid percent-encoding"
        raise PostgresConfigurationError(msg)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest.rpartition('@')[2]}", unquote(password)


def _setting(given: Mapping[str, str], key: str, kind: Callable[[str], T], what: str) -> T:
    """The store's own URL setting `key`, converted, or its default."""
    try:
        return kind(given.get(key, str(_URL_SETTINGS[key])))
    except ValueError:
        msg = f"{key} in the PostgreSQL store URL must be {what}, got {given[key]!r}"
        raise PostgresConfigurationError(msg) from None
