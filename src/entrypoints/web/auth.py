"""Who may read and write: one bearer token, compared in constant time, never a cookie.

Writes need `Authorization: Bearer TOKEN` and are refused outright when no token is
configured. Reads are open unless `read_token_required`; then they take the same bearer
token, or HTTP Basic with the token as password (so a browser can open the pages: it asks
once, then sends it with the page's own requests). Basic is never accepted for writes: a
browser sends it by itself, which would let another site's form write (CSRF).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from pathlib import Path

from ...domain.errors import ConfigurationError
from .errors import HttpProblem

TOKEN_VARIABLE = "JOBLEDGER_WEB_TOKEN"
MIN_TOKEN_LENGTH = 16


def check_token(token: str) -> str:
    """Return `token` if it is usable: at least 16 printable characters without spaces."""
    if len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigurationError(
            f"the web token must be at least {MIN_TOKEN_LENGTH} printable characters without "
            f"spaces (got {len(token)} characters)"
        )
    return token


def load_token(token_file: str | None) -> str | None:
    """The token in `token_file` (surrounding whitespace dropped), else in
    `$JOBLEDGER_WEB_TOKEN`, else None."""
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read token file {token_file!r}: {error}") from None
        return check_token(text.strip())
    from_environment = os.environ.get(TOKEN_VARIABLE)
    return None if from_environment is None else check_token(from_environment.strip())


class Access:
    """The app's access rules: `writable` when a token is configured."""

    def __init__(self, token: str | None, *, read_token_required: bool = False) -> None:
        if read_token_required and token is None:
            raise ConfigurationError("read_token_required needs a token")
        self._token = None if token is None else check_token(token).encode()
        self.read_token_required = read_token_required

    @property
    def writable(self) -> bool:
        """Whether writes are enabled (a token is configured)."""
        return self._token is not None

    def check_write(self, authorization: str | None) -> None:
        """Raise 403 if writes are disabled, 401 without a bearer token, 403 if it is wrong."""
        if self._token is None:
            raise HttpProblem(403, "Forbidden", "writes are disabled: no token is configured")
        self._check(self._token, _bearer(authorization), "Bearer")

    def check_read(self, authorization: str | None, *, challenge: str = "Bearer") -> None:
        """Raise 401/403 unless reads are open or the bearer or Basic password is the token."""
        if self._token is not None and self.read_token_required:
            given = _bearer(authorization) or _basic_password(authorization)
            self._check(self._token, given, challenge)

    @staticmethod
    def _check(token: bytes, given: bytes | None, challenge: str) -> None:
        if given is None:
            header = {"WWW-Authenticate": f'{challenge} realm="jobledger"'}
            raise HttpProblem(401, "Unauthorized", "this needs the token", header)
        if not hmac.compare_digest(given, token):
            raise HttpProblem(403, "Forbidden", "the token is not valid")


def _bearer(authorization: str | None) -> bytes | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip().encode() if scheme.lower() == "bearer" and value.strip() else None


def _basic_password(authorization: str | None) -> bytes | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(b":")[2] or None
