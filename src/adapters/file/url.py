"""The file store's URLs: `file:///abs/dir`, `file://localhost/abs/dir` or `file:rel/dir`."""

from __future__ import annotations

import os
from urllib.parse import unquote

from ...application.stores import redact
from ...domain.errors import ConfigurationError

DIRECTORY = "JOBLEDGER_FILE_DIR"


def environment_for(url: str) -> dict[str, str]:
    """The settings selecting the store directory that `url` names (made absolute)."""
    rest = url[len("file:") :]
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host not in {"", "localhost"} or not slash:
            raise ConfigurationError(
                f"file store URL {redact(url)!r} must name a local path: "
                "file:///abs/dir or file:rel/dir"
            )
        rest = "/" + path
    path = unquote(rest)  # decoded first: %00 is a NUL too
    if not path:
        raise ConfigurationError(f"file store URL {redact(url)!r} names no usable directory")
    if "\0" in path:
        raise ConfigurationError(
            f"file store URL {redact(url)!r} names no usable directory: its path {path!r} "
            "holds a NUL character"
        )
    return {DIRECTORY: os.path.abspath(path)}
