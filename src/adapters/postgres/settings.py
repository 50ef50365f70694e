"""The PostgreSQL store's URL: what libpq gets and the store's own settings. The password is
taken out of the URL before anything parses the rest, and no parser's message is quoted, so no
message can show it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from eventsourcing.persistence import InfrastructureFactoryError
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import Conninfo

from ...application.stores import split_userinfo
from ...domain.errors import ConfigurationError

T = TypeVar("T")

URL_KEY = "JOBLEDGER_POSTGRES_URL"
_URL_SETTINGS = {"pool_size": 5, "pool_timeout": 30.0}
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MALFORMED = "malformed PostgreSQL store URL"
_ENCODE = "percent-encode special characters in a password ('/' as %2F, '@' as %40, ...)"


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
        scheme, separator, _ = url.partition("://")
        if scheme.lower() not in ("postgresql", "postgres") or not separator:
            # libpq would read it as a keyword string and quote it, password and all.
            msg = f"{_MALFORMED}: it must start with postgresql:// or postgres://; {_ENCODE}"
            raise PostgresConfigurationError(msg)
        url, password = _without_password(url)
        # libpq's query starts at the first `?` (a `#` before it belongs to the path).
        base, _, query_text = url.partition("?")
        try:
            urlsplit(base)
        except ValueError as error:  # Its message does not repeat the URL.
            raise PostgresConfigurationError(f"{_MALFORMED}: {error}") from None
        # The rest goes to libpq as written: it percent-decodes, but reads `+` as itself.
        parts = [part.partition("=") for part in query_text.split("&") if part]
        _check_keys([unquote(key) for key, _, _ in parts], query_text)
        own = {unquote(k): unquote(v) for k, _, v in parts if unquote(k) in _URL_SETTINGS}
        rest = "&".join("".join(p) for p in parts if unquote(p[0]) not in _URL_SETTINGS)
        conninfo = f"{base}?{rest}" if rest else base
        pool_size = _setting(own, "pool_size", int, "a whole number")
        pool_timeout = _setting(own, "pool_timeout", float, "a number of seconds")
        if pool_size < 1 or not pool_timeout > 0:
            msg = f"pool_size must be >= 1 and pool_timeout > 0, got {pool_size}, {pool_timeout}"
            raise PostgresConfigurationError(msg)
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error:  # libpq's message quotes the text it could not parse
            raise PostgresConfigurationError(f"{_MALFORMED}; {_ENCODE}") from None
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
        prefix, info, rest = split_userinfo(url)
    except ConfigurationError as error:
        raise PostgresConfigurationError(str(error)) from None
    if info is None or ":" not in info:
        return url, None
    user, _, password = info.partition(":")
    if _BAD_PERCENT.search(password):
        msg = f"{_MALFORMED}: the password holds an invalid percent-encoding"
        raise PostgresConfigurationError(msg)
    return f"{prefix}{user}@{rest}", unquote(password)


def _check_keys(keys: list[str], query: str) -> None:
    """Refuse query keys that are neither libpq's nor the store's, naming the first unless
    an `@` in the query means it might be part of a misplaced password."""
    unknown = [key for key in keys if key not in _URL_SETTINGS and key not in _libpq_keywords()]
    if unknown and "@" in query:
        raise PostgresConfigurationError(f"{_MALFORMED}; {_ENCODE}")
    if unknown:
        raise PostgresConfigurationError(f'{_MALFORMED}: unknown query parameter: "{unknown[0]}"')


@functools.cache
def _libpq_keywords() -> frozenset[str]:
    """The connection parameters the libpq in use knows."""
    return frozenset(option.keyword.decode() for option in Conninfo.get_defaults())


def _setting(given: Mapping[str, str], key: str, kind: Callable[[str], T], what: str) -> T:
    """The store's own URL setting `key`, converted, or its default."""
    try:
        return kind(given.get(key, str(_URL_SETTINGS[key])))
    except ValueError:
        msg = f"{key} in the PostgreSQL store URL must be {what}, got {given[key]!r}"
        raise PostgresConfigurationError(msg) from None
