"""The PostgreSQL store's URL: what libpq gets, the store's own settings, and the password
that no message may show."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from eventsourcing.persistence import InfrastructureFactoryError
from psycopg.conninfo import conninfo_to_dict

T = TypeVar("T")

_URL_SETTINGS = {"pool_size": 5, "pool_timeout": 30.0}


class PostgresConfigurationError(InfrastructureFactoryError, ValueError):
    """The store URL is missing or malformed, or one of its settings is invalid."""


@dataclass(frozen=True)
class PostgresSettings:
    """A libpq URI split into what libpq gets and the store's own pool settings."""

    conninfo: str = field(repr=False)
    pool_size: int
    pool_timeout: float
    password: str = field(repr=False)
    where: str

    @classmethod
    def from_url(cls, url: str) -> PostgresSettings:
        """Parse `postgresql://...?pool_size=N&pool_timeout=S&<libpq parameters>`."""
        password = _password_in(url)
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
            reason = _redacted(str(error).strip(), password)  # libpq may quote the password.
            raise PostgresConfigurationError(f"malformed PostgreSQL store URL: {reason}") from None
        where = "database {!r} on host {!r} port {} as user {!r}".format(
            params.get("dbname", "(default)"),
            params.get("host", "(default)"),
            params.get("port", 5432),
            params.get("user", "(default)"),
        )
        return cls(conninfo, pool_size, pool_timeout, str(params.get("password") or ""), where)

    def redact(self, text: str) -> str:
        """Return `text` with the password, plain or percent-encoded, replaced by `***`."""
        return _redacted(text, self.password)


def _setting(given: Mapping[str, str], key: str, kind: Callable[[str], T], what: str) -> T:
    """The store's own URL setting `key`, converted, or its default."""
    try:
        return kind(given.get(key, str(_URL_SETTINGS[key])))
    except ValueError:
        msg = f"{key} in the PostgreSQL store URL must be {what}, got {given[key]!r}"
        raise PostgresConfigurationError(msg) from None


def _password_in(url: str) -> str:
    """The password of a URL's user information, as written (percent-encoded), or ''."""
    found = re.match(r"[^:/]*://[^/@:]*:([^/@]*)@", url)
    return found.group(1) if found else ""


def _redacted(text: str, password: str) -> str:
    """`text` with `password`, plain or percent-encoded, replaced by `***`."""
    secrets = {password, quote(password, safe=""), unquote(password)} - {""}
    for secret in sorted(secrets, key=len, reverse=True):  # A longer form may hold a shorter.
        text = text.replace(secret, "***")
    return text
