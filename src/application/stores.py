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
import re
from collections.abc import Callable
from typing import cast
from urllib.parse import unquote_plus

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

MALFORMED = (
    "malformed store URL: where its user information ends cannot be told; percent-encode "
    "special characters in a password ('/' as %2F, '?' as %3F, '#' as %23, '@' as %40)"
)
"""Said of a URL whose password could be misread: the URL itself is never shown."""
SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
"""Query parameters (libpq's) whose values `redact()` hides."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=:)")
_HOST = r"(?:\[[^\]]*\]?|[^:/?#@\[\],]*)(?::[0-9]*)?"
_HOSTS = re.compile(rf"{_HOST}(?:,{_HOST})*")
"""host[:port], comma-separated as libpq allows; an IPv6 host in brackets."""


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """`url` as (`scheme://`, its user information or None, the rest: hosts, path, query).
    A URL without `//` is all rest.

    The user information is what the authority (from `//` to the first `/`, `?` or `#`) holds
    before its `@`. A password holding an unencoded `/`, `?`, `#` or `@` would put an `@`
    in the user information, the path, the fragment or a query key, or would turn the
    password's head into a port that is not a number: then `ConfigurationError` (`MALFORMED`,
    the URL not echoed). An `@` in a query value (`application_name=a@b`) is allowed.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "", None, url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    info, at, hosts = rest[:end].rpartition("@")
    tail = rest[end:]
    path, _, fragment = tail.partition("#")
    path, _, query = path.partition("?")
    keys = [item.partition("=")[0] for item in query.split("&")]
    if (
        "@" in info
        or "@" in path
        or "@" in fragment
        or any("@" in key for key in keys)
        or not _HOSTS.fullmatch(hosts)
    ):
        raise ConfigurationError(MALFORMED)
    return f"{scheme}://", info if at else None, hosts + tail


def userinfo(url: str) -> str | None:
    """The user information of `url`, or None; raises as `split_userinfo()` does."""
    return split_userinfo(url)[1]


def redact(url: str) -> str:
    """`url` with its password hidden, for people: the user information is rewritten as a
    whole, `user:***@`, or `***@` if where it ends cannot be told; the values of
    `SECRET_PARAMETERS` in its query become `***`."""
    try:
        prefix, info, rest = split_userinfo(url)
    except ConfigurationError:
        return _hide_secret_parameters(_hide_all_userinfo(url))
    if not prefix:
        return _hide_all_userinfo(url) if "@" in url else url
    if info is not None and ":" in info:
        rest = f"{info.partition(':')[0]}:***@{rest}"
    elif info is not None:
        rest = f"{info}@{rest}"
    return prefix + _hide_secret_parameters(rest)


def _hide_all_userinfo(url: str) -> str:
    """`url` with everything between its scheme and its last `@` (if any) hidden."""
    scheme = _SCHEME.match(url)
    head = f"{scheme.group()}:" if scheme else ""
    if url[len(head) :].startswith("//"):
        head += "//"
    return f"{head}***@{url.rpartition('@')[2]}" if "@" in url else f"{head}***"


def _hide_secret_parameters(rest: str) -> str:
    """`rest` (no user information) with the values of its secret query parameters hidden."""
    base, question, query = rest.partition("?")
    if not question:
        return rest
    items = [
        f"{key}=***" if unquote_plus(key).strip() in SECRET_PARAMETERS else f"{key}{eq}{value}"
        for key, eq, value in (item.partition("=") for item in query.split("&"))
    ]
    return f"{base}?{'&'.join(items)}"


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
    scheme = _SCHEME.match(url)
    name = store_module(scheme.group().lower()) if scheme else None
    if name is None:
        # Only the scheme is shown: the rest may be a password (a libpq keyword string).
        shown = f"scheme {scheme.group()!r}" if scheme else "(not a URL: no scheme)"
        raise ConfigurationError(
            f"unsupported store URL {shown}: expected memory://, file:///abs/dir, "
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
