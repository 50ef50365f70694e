"""The dashboard: server-rendered pages (Jinja2, every value escaped) that show everything
without JavaScript; static/live.js refreshes them live. Links are relative to the mount
prefix (the request's root_path), so the app works mounted anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from ...application.results import StatusEvent
from ...application.tracker import Tracker
from ...domain.component import ComponentStatus
from ...domain.projection import COMPONENT_STATUSES, JobSummary
from ...domain.status import JOB_STATUSES, Status
from ..cli_output import when
from .auth import Access
from .errors import HttpProblem
from .listing import component_page, component_status

PAGE = 50
FAILURES = 20
FULL_HISTORY = 1_000
"""Jobs with at most this many components show their timeline and hook runs; larger ones
those of one chosen component (with the job's own: hook runs)."""
TIMELINE = 100
_BAR_ORDER = (Status.COMPLETED, Status.FAILED, Status.IN_PROGRESS, Status.RETRYING, Status.PENDING)

_templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
)
_templates.env.filters["when"] = when


def _context(request: Request, **values: Any) -> dict[str, Any]:
    base = str(request.scope.get("root_path", "")).rstrip("/")
    return {"base": base, **values}


def render_problem(request: Request, failure: HttpProblem) -> Response:
    """The HTML page of an error (a 401 asks the browser for the token as a password)."""
    headers = dict(failure.headers)
    if failure.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="jobledger", charset="UTF-8"'
    return _templates.TemplateResponse(
        request, "error.html", _context(request, failure=failure), failure.status, headers
    )


def pages_router(tracker: Tracker, access: Access, stale_after: timedelta) -> APIRouter:
    """The dashboard's pages on `tracker`, readable as `access` allows."""

    def read(authorization: Annotated[str | None, Header()] = None) -> None:
        access.check_read(authorization, challenge="Basic")

    router = APIRouter(dependencies=[Depends(read)], include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, name="jobs_page")
    def jobs(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
        page = tracker.jobs(status=status or None, limit=PAGE, cursor=cursor)
        context = _context(
            request,
            page=page,
            wanted=status or "",
            job_statuses=JOB_STATUSES,
            now=datetime.now(UTC),
            live=any(not s.is_finished for s in page.items),
        )
        return _templates.TemplateResponse(request, "jobs.html", context)

    @router.api_route(
        "/jobs/{job_id}", methods=["GET", "HEAD"], response_class=HTMLResponse, name="job_page"
    )
    def job(
        request: Request,
        job_id: str,
        status: str | None = None,
        cursor: str | None = None,
        component: str | None = None,
    ) -> Response:
        summary = tracker.summary(job_id)
        wanted = component_status(status)
        page = component_page(tracker, job_id, status=wanted, limit=PAGE, cursor=cursor)
        failures: tuple[ComponentStatus, ...] = ()
        if summary.counts[Status.FAILED]:
            failures = component_page(
                tracker, job_id, status=Status.FAILED, limit=FAILURES, cursor=None
            ).items
        timeline: list[StatusEvent] = []
        if component is not None or summary.total <= FULL_HISTORY:
            # history() loads the job's definition: about 0.7 s at 100,000 components.
            timeline = tracker.history(job_id, component)
        now = datetime.now(UTC)
        context = _context(
            request,
            summary=summary,
            page=page,
            wanted=status or "",
            failures=failures,
            component=component,
            timeline=timeline[-TIMELINE:],
            hook_runs=[e for e in timeline if e.hook is not None],
            stale_before=now - stale_after,
            writable=access.writable,
            now=now,
        )
        return _templates.TemplateResponse(request, "job.html", context)

    return router


def duration(summary: JobSummary, now: datetime) -> str:
    """How long the job has run (until it finished), as `2h 03m 04s`."""
    seconds = int(((summary.finished_at or now) - summary.created_at).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


def segments(summary: JobSummary) -> list[tuple[str, int, float, float]]:
    """The progress bar's parts: each component status present, with its count, its width
    and its offset in percent."""
    parts, offset = [], 0.0
    for status in _BAR_ORDER:
        if count := summary.counts[status]:
            width = 100 * count / summary.total
            parts.append((status.value, count, width, offset))
            offset += width
    return parts


_templates.env.globals.update(statuses=COMPONENT_STATUSES, duration=duration, segments=segments)
