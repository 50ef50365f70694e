"""The ASGI app: the JSON API under /api, the dashboard pages, their static assets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ...application.tracker import Tracker
from ...domain.errors import JobledgerError
from .api import api_router
from .auth import Access
from .errors import CatchAll, HttpProblem, body, problem
from .limits import MAX_BODY_BYTES, BodyLimit, SecurityHeaders
from .live import MAX_STREAMS, MAX_WATCHERS, Watchers
from .pages import pages_router, render_problem

_HERE = Path(__file__).resolve().parent  # Past an editable install's links.


def create_app(
    tracker_or_url: Tracker | str | None = None,
    *,
    token: str | None = None,
    read_token_required: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    stale_after: timedelta = timedelta(minutes=10),
    max_watchers: int = MAX_WATCHERS,
    max_streams: int = MAX_STREAMS,
) -> FastAPI:
    """The jobledger web app on a Tracker, or on the store a URL names (opened here and
    closed with the app; None: `$JOBLEDGER_STORE`, else the default store).

    Writes need `Authorization: Bearer <token>` and are refused when `token` is None; reads
    need it too if `read_token_required`. Live streams beyond `max_streams`, or needing a
    watcher thread beyond `max_watchers`, are refused with 503. Mount it under any prefix:
    `parent.mount("/jobs", create_app(...))`.
    """
    access = Access(token, read_token_required=read_token_required)
    owned = not isinstance(tracker_or_url, Tracker)
    if isinstance(tracker_or_url, Tracker):
        tracker = tracker_or_url
    else:
        tracker = Tracker.open(tracker_or_url, create=False)
    watchers = Watchers(tracker, max_watchers=max_watchers, max_streams=max_streams)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(watchers.close)  # Before the tracker closes.
        if owned:
            tracker.close()

    app = FastAPI(
        title="jobledger",
        summary="Status of jobs made of many components",
        openapi_url="/api/openapi.json",
        docs_url=None,  # The interactive pages load their scripts from a CDN.
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.watchers = watchers
    app.add_middleware(CatchAll, respond=_answer)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.include_router(api_router(tracker, access, watchers))
    app.include_router(pages_router(tracker, access, stale_after))
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Alive, and the store answers."""
        tracker.jobs(limit=1)
        return {"status": "ok"}

    for kind in (HttpProblem, JobledgerError, HTTPException, RequestValidationError):
        app.add_exception_handler(kind, _answer)
    return app


async def _answer(request: Request, error: Exception) -> Response:
    """The answer to an error: JSON under /api, an HTML page elsewhere."""
    failure = _http_problem(error)
    api = f"{request.scope.get('root_path', '')}/api"
    if request.url.path == api or request.url.path.startswith(f"{api}/"):
        return JSONResponse(body(failure), failure.status, failure.headers)
    return render_problem(request, failure)


def _http_problem(error: Exception) -> HttpProblem:
    if isinstance(error, RequestValidationError):
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return HttpProblem(400, "InvalidInput", details)
    if isinstance(error, HTTPException):
        names = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        name = names.get(error.status_code, "HttpError")
        return HttpProblem(error.status_code, name, str(error.detail), error.headers)
    return problem(error)
