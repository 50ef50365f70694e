"""Store URLs: which eventsourcing persistence module a URL selects, with which settings.

This is the edge where environment variables are read (`JOBLEDGER_STORE`).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

from ..domain.errors import ConfigurationError

STORE_VARIABLE = "JOBLEDGER_STORE"
DEFAULT_STORE = "file:.jobledger"


def redact(url: str) -> str:
    """Return `url` with any password replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def resolve_store_url(url: str | None) -> str:
    """The URL to open: `url`, else `$JOBLEDGER_STORE`, else the default store."""
    return url or os.environ.get(STORE_VARIABLE) or DEFAULT_STORE


def store_environment(url: str) -> dict[str, str]:
    """Return the eventsourcing environment selecting the store that `url` names."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a store URL must be a str, not {url!r}")
    scheme = url.partition(":")[0].lower()
    if scheme == "memory" and url.lower() in {"memory:", "memory://"}:
        return {"PERSISTENCE_MODULE": "jobledger.adapters.memory"}
    if scheme == "file":
        return {"PERSISTENCE_MODULE": "jobledger.adapters.file", "JOBLEDGER_FILE_DIR": _path(url)}
    if scheme in {"postgresql", "postgres"}:
        return {"PERSISTENCE_MODULE": "jobledger.adapters.postgres", "JOBLEDGER_POSTGRES_URL": url}
    raise ConfigurationError(
        f"unsupported store URL {redact(url)!r}: expected memory://, file:///abs/dir, "
        "file:rel/dir or postgresql://user:password@host:port/dbname"
    )


def describe_store(url: str) -> str:
    """Where the store at `url` lives, for people: a directory, a redacted URL, or memory."""
    environment = store_environment(url)
    if "JOBLEDGER_FILE_DIR" in environment:
        return environment["JOBLEDGER_FILE_DIR"]
    if "JOBLEDGER_POSTGRES_URL" in environment:
        return redact(url)
    return "memory of this process (gone when it exits)"


def _path(url: str) -> str:
    """The absolute directory of a `file:` URL: `file:///abs/dir` or `file:rel/dir`."""
    rest = url[len("file:") :]
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host not in {"", "localhost"} or not slash:
            raise ConfigurationError(
                f"file store URL {url!r} must name a local path: file:///abs/dir or file:rel/dir"
            )
        rest = "/" + path
    if not rest or "\0" in rest:
        raise ConfigurationError(f"file store URL {url!r} names no usable directory")
    return os.path.abspath(unquote(rest))
