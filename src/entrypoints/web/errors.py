"""HTTP errors, mapped once: every jobledger error by the first class of its MRO found in
`STATUS`, every refusal of the web layer as an `HttpProblem`; each becomes
`{"error": NAME, "detail": MESSAGE}` (an HTML page for the dashboard's pages). Unexpected
exceptions are logged with their traceback and answered without one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...domain.errors import (
    InvalidInput,
    InvalidTransition,
    JobAlreadyExists,
    JobledgerError,
    JobNotFound,
    StoreError,
    UnknownComponent,
)

log = logging.getLogger("jobledger.web")

STATUS: Mapping[type[JobledgerError], int] = {
    JobNotFound: 404,
    UnknownComponent: 404,
    InvalidTransition: 409,
    JobAlreadyExists: 409,
    InvalidInput: 400,
    StoreError: 503,
    JobledgerError: 500,  # ConfigurationError, or an error of ours that should be named above
}


class HttpProblem(Exception):
    """A refusal by the web layer itself (authentication, size, routing, validation)."""

    def __init__(
        self, status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


def problem(error: BaseException) -> HttpProblem:
    """The HTTP answer to `error`: its status, a stable name and a message without a
    traceback. Errors that are not jobledger's are logged and answered as 500."""
    if isinstance(error, HttpProblem):
        return error
    if isinstance(error, JobledgerError):
        status = next(STATUS[c] for c in type(error).__mro__ if c in STATUS)
        if status >= 500:
            log.error("%s: %s", type(error).__name__, error)
        return HttpProblem(status, type(error).__name__, str(error))
    log.error("unexpected error", exc_info=error)
    return HttpProblem(500, "InternalError", "unexpected error; the server log has the details")


def body(failure: HttpProblem) -> dict[str, str]:
    """The JSON document of an error."""
    return {"error": failure.error, "detail": failure.detail}


Respond = Callable[[Request, Exception], Awaitable[Response]]


class CatchAll:
    """ASGI middleware answering any exception the routes let through with `respond` (the
    app's own error answer, never a traceback), instead of the server's bare 500."""

    def __init__(self, app: ASGIApp, respond: Respond) -> None:
        self.app = app
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started:  # Too late to answer: the status is sent. Log it only.
                log.error("error after the response started", exc_info=error)
                return
            response = await self.respond(Request(scope, receive), error)
            await response(scope, receive, send)
