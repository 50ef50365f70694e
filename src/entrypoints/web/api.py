"""The JSON API: the Tracker's commands and queries over HTTP, in the shapes of the
command line's `--json` output (docs/cli.md), and the live summary as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ...application.results import ComponentPage, Page, Receipt, StaleComponent
from ...application.tracker import Tracker
from ...domain.errors import JobNotFound
from ...domain.projection import JobSummary
from ...domain.status import Status
from ...domain.validation import parse_duration, parse_job_id
from .auth import Access
from .errors import body, problem
from .listing import HistoryPage, component_page, component_status, history_page
from .live import Watchers

MAX_PAGE = 1_000
"""Largest `limit` of one page."""

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Authorization = Annotated[str | None, Header()]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewJob(_Body):
    """`POST /api/jobs`."""

    components: list[str]
    name: str | None = None
    metadata: dict[str, JsonValue] | None = None
    allowed_failures: int = 0
    job_id: str | None = None


class NewReport(_Body):
    """`POST /api/jobs/{id}/reports`."""

    component: str
    status: str
    message: str = ""
    progress: float | None = None


class NewComponents(_Body):
    """`POST /api/jobs/{id}/components`."""

    components: list[str]


class Cancellation(_Body):
    """`POST /api/jobs/{id}/cancel`."""

    reason: str = ""


class Created(BaseModel):
    """The answer to `POST /api/jobs`."""

    job_id: str


class Added(BaseModel):
    """The answer to `POST /api/jobs/{id}/components`."""

    job_id: str
    added: int


class Cancelled(BaseModel):
    """The answer to `POST /api/jobs/{id}/cancel`."""

    job_id: str
    overall: Status = Field(default=Status.CANCELLED)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in [(400, "bad input"), (401, "no token"), (403, "wrong token"),
                       (404, "unknown job or component"),
                       (409, "invalid transition, or the job exists"),
                       (503, "store unreachable, or too many live streams")]
}  # fmt: skip


def api_router(tracker: Tracker, access: Access, watchers: Watchers) -> APIRouter:
    """The `/api` routes on `tracker`, guarded by `access`."""

    def read(authorization: Authorization = None) -> None:
        access.check_read(authorization)

    def write(authorization: Authorization = None) -> None:
        access.check_write(authorization)

    reads = APIRouter(prefix="/api", dependencies=[Depends(read)], responses=_ERRORS)
    writes = APIRouter(prefix="/api", dependencies=[Depends(write)], responses=_ERRORS)

    @reads.get("/jobs")
    def jobs(status: str | None = None, limit: Limit = 50, cursor: str | None = None) -> Page:
        """Jobs newest first, only those whose overall status is `status` if given."""
        return tracker.jobs(status=status or None, limit=limit, cursor=cursor)

    @reads.get("/jobs/{job_id}")
    def summary(job_id: str) -> JobSummary:
        """The job's summary (the `status --json` document without components)."""
        return tracker.summary(job_id)

    @reads.get("/jobs/{job_id}/components")
    def components(
        job_id: str, status: str | None = None, limit: Limit = 50, cursor: str | None = None
    ) -> ComponentPage:
        """One page of the job's components in declared order; with `status`, only those
        (a filtered page may be short, even empty: follow `next_cursor` until null)."""
        wanted = component_status(status)
        return component_page(tracker, job_id, status=wanted, limit=limit, cursor=cursor)

    @reads.get("/jobs/{job_id}/history")
    def history(
        job_id: str, component: str | None = None, limit: Limit = 100, cursor: str | None = None
    ) -> HistoryPage:
        """One page of what was recorded for the job (or one component), in order, hook runs
        included."""
        return history_page(tracker, job_id, component, limit=limit, cursor=cursor)

    @reads.get("/stale")
    def stale(older_than: str = "10m", limit: Limit = 100) -> list[StaleComponent]:
        """In-progress or retrying components quiet for `older_than` (3d, 12h, 90s...)."""
        return tracker.stale(parse_duration(older_than), limit=limit)

    @reads.get("/jobs/{job_id}/events", response_class=StreamingResponse)
    async def events(job_id: str) -> StreamingResponse:
        """Server-Sent Events: a `data:` message with the summary now and each time it
        changes, the last one when the job has finished; then the stream ends."""
        await run_in_threadpool(tracker.summary, job_id)  # A 404 (or 503) before the stream.
        return _Live(watchers, parse_job_id(job_id, JobNotFound))

    @writes.post("/jobs", status_code=201)
    def create(new: NewJob) -> Created:
        """Create a job (again with the same `job_id` and definition: the same id)."""
        job_id = tracker.create_job(
            new.components,
            name=new.name,
            metadata=new.metadata,
            allowed_failures=new.allowed_failures,
            job_id=new.job_id,
        )
        return Created(job_id=str(job_id))

    @writes.post("/jobs/{job_id}/reports")
    def report(job_id: str, new: NewReport) -> Receipt:
        """Report a component's status; a repeated final status records nothing."""
        return tracker.report(
            job_id, new.component, new.status, message=new.message, progress=new.progress
        )

    @writes.post("/jobs/{job_id}/components")
    def add(job_id: str, new: NewComponents) -> Added:
        """Add components to an unfinished job."""
        tracker.add_components(job_id, new.components)
        return Added(job_id=str(parse_job_id(job_id, JobNotFound)), added=len(new.components))

    @writes.post("/jobs/{job_id}/cancel")
    def cancel(job_id: str, new: Cancellation | None = None) -> Cancelled:
        """Cancel an unfinished job (cancelling a cancelled job is a no-op)."""
        tracker.cancel(job_id, new.reason if new else "")
        return Cancelled(job_id=str(parse_job_id(job_id, JobNotFound)))

    router = APIRouter()
    router.include_router(reads)
    router.include_router(writes)
    return router


class _Live(StreamingResponse):
    """The stream of a job's summaries, joined at once (so a `Busy` refusal comes before the
    stream starts) and left however the response ends."""

    def __init__(self, watchers: Watchers, job_id: UUID) -> None:
        self.watchers, self.stream = watchers, watchers.join(job_id)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(self._messages(), media_type="text/event-stream", headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.watchers.leave(self.stream)

    async def _messages(self) -> AsyncIterator[str]:
        try:
            async for summary in self.watchers.follow(self.stream):
                yield (
                    ": keepalive\n\n"
                    if summary is None
                    else f"data: {summary.model_dump_json()}\n\n"
                )
        except Exception as error:  # The stream has started: say so in it, then end.
            yield f"event: error\ndata: {json.dumps(body(problem(error)))}\n\n"
