"""Store URLs: which eventsourcing persistence module a URL's scheme selects, and the one rule
for keeping a URL's user information (its password) out of every message.

Each store module parses its own URLs: `environment_for(url)` returns its settings. This is
the edge where environment variables are read (`JOBLEDGER_STORE`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import cast

from ..domain.errors import ConfigurationError

STORE_VARIABLE = "JOBLEDGER_STORE"
DEFAULT_STORE = "file:.jobledger"
STORES = {
    "memory": "jobledger.adapters.memory",
    "file": "jobledger.adapters.file",
    "postgresql": "jobledger.adapters.postgres",
    "postgres": "jobledger.adapters.postgres",
}
"""URL scheme -> persistence module, imported only when a URL names it."""

_NOT_IN_USERINFO = frozenset("/?#@")


def userinfo(url: str) -> str | None:
    """The user information of `url` (between `://` and the last `@`), or None.

    Raises `ConfigurationError`, without echoing the URL, when it holds `/`, `?` or `#`:
    then where the password ends cannot be told.
    """
    _, separator, rest = url.partition("://")
    info, at, _ = rest.rpartition("@")
    if not (separator and at):
        return None
    if _NOT_IN_USERINFO & set(info):
        raise ConfigurationError(
            "malformed store URL: its user information holds '/', '?', '#' or '@'; "
            "percent-encode special characters in a password (e.g. '/' as %2F, '@' as %40)"
        )
    return info


def redact(url: str) -> str:
    """`url` with the password in its user information hidden: the user information is
    rewritten as a whole, `user:***@`, or `***@` if it cannot be parsed."""
    scheme, _, rest = url.partition("://")
    try:
        info = userinfo(url)
    except ConfigurationError:
        shown = "***"
    else:
        if info is None or ":" not in info:
            return url
        shown = info.partition(":")[0] + ":***"
    return f"{scheme}://{shown}@{rest.rpartition('@')[2]}"


def resolve_store_url(url: str | None) -> str:
    """The URL to open: `url`, else `$JOBLEDGER_STORE`, else the default store."""
    return url or os.environ.get(STORE_VARIABLE) or DEFAULT_STORE


def store_environment(url: str, *, create: bool = True) -> dict[str, str]:
    """The eventsourcing environment selecting the store that `url` names; with
    `create=False` the store must already exist (`CREATE_TABLE=no`)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a store URL must be a str, not {url!r}")
    name = STORES.get(url.partition(":")[0].lower())
    if name is None:
        raise ConfigurationError(
            f"unsupported store URL {redact(url)!r}: expected memory://, file:///abs/dir, "
            "file:rel/dir or postgresql://user:password@host:port/dbname"
        )
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise ConfigurationError(str(error)) from error
    environment_for = cast(Callable[[str], dict[str, str]], module.environment_for)
    settings = {"PERSISTENCE_MODULE": name, **environment_for(url)}
    return settings if create else {**settings, "CREATE_TABLE": "no"}


def describe_store(url: str) -> str:
    """Where the store at `url` lives, for people: a directory, a redacted URL, or memory."""
    environment = store_environment(url)
    if "JOBLEDGER_FILE_DIR" in environment:
        return environment["JOBLEDGER_FILE_DIR"]
    if environment["PERSISTENCE_MODULE"] == STORES["memory"]:
        return "memory of this process (gone when it exits)"
    return redact(url)
