"""Store URLs: which eventsourcing persistence module a URL's scheme selects, and the one rule
for keeping a URL's user information (its password) out of every message.

Each store module parses its own URLs: `environment_for(url)` returns its settings. A store
package adds a scheme with an entry point in the group `jobledger.stores` (name: the scheme,
value: its module). This is the edge where environment variables are read (`JOBLEDGER_STORE`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
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
ENTRY_POINTS = "jobledger.stores"
"""The entry-point group where store packages register more schemes."""

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


def store_module(scheme: str) -> str | None:
    """The persistence module for a URL scheme: a built-in store's, else the one a package
    registers under that name in the entry-point group `jobledger.stores`, else None."""
    if scheme in STORES:
        return STORES[scheme]
    found = importlib.metadata.entry_points(group=ENTRY_POINTS, name=scheme)
    return next((entry.value for entry in found), None) if scheme else None


def store_environment(url: str, *, create: bool = True) -> dict[str, str]:
    """The eventsourcing environment selecting the store that `url` names; with
    `create=False` the store must already exist (`CREATE_TABLE=no`)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a store URL must be a str, not {url!r}")
    name = store_module(url.partition(":")[0].lower())
    if name is None:
        raise ConfigurationError(
            f"unsupported store URL {redact(url)!r}: expected memory://, file:///abs/dir, "
            "file:rel/dir, postgresql://user:password@host:port/dbname or a scheme a "
            f"store package registers (entry-point group {ENTRY_POINTS!r})"
        )
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise ConfigurationError(str(error)) from error
    if not callable(getattr(module, "environment_for", None)):
        raise ConfigurationError(f"the store module {name!r} has no environment_for(url)")
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
