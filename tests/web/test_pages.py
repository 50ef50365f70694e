"""The dashboard's pages over HTTP: escaping, paging, mounting under a prefix, scale."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from fastapi import FastAPI

from jobledger import Tracker
from jobledger.entrypoints.web.listing import component_page
from jobledger.web import create_app

Serve = Callable[..., AbstractContextManager[httpx.Client]]
XSS = "<img src=x onerror=alert(1)>"


def test_every_name_and_message_is_escaped(api: httpx.Client, tracker: Tracker) -> None:
    job = tracker.create_job([XSS, "b"], name=XSS, metadata={XSS: XSS})
    tracker.fail(job, XSS, message=XSS)
    for page in (api.get("/").text, api.get(f"/jobs/{job}").text):
        assert "<img" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_job_page_shows_failures_first_pages_and_filters(
    api: httpx.Client, tracker: Tracker
) -> None:
    job = tracker.create_job([f"c{i:03d}" for i in range(120)], allowed_failures=5)
    tracker.fail(job, "c100", message="disk full")
    tracker.start(job, "c001")
    page = api.get(f"/jobs/{job}").text
    assert page.index("disk full") < page.index("c000")
    assert re.search(r'href="\?cursor=49"', page)
    failed = api.get(f"/jobs/{job}", params={"status": "failed"}).text
    assert "c100" in failed
    assert "c001" not in failed.split('id="components"')[1].split('id="hooks"')[0]
    assert 'id="cancel"' in page  # Writes are enabled in `api`.
    assert f"POST /api/jobs/{job}/cancel" in page  # what to do without JavaScript


def test_a_filtered_page_reads_a_bounded_number_of_components(tracker: Tracker) -> None:
    job = tracker.create_job([f"c{i}" for i in range(30)])
    tracker.complete(job, "c25")
    first = component_page(tracker, job, status=None, limit=5, cursor=None)
    assert first.next_cursor == "4"
    from jobledger import Status

    partial = component_page(tracker, job, status=Status.COMPLETED, limit=5, cursor=None, scan=10)
    assert (partial.items, partial.next_cursor) == ((), "9")
    found = component_page(tracker, job, status=Status.COMPLETED, limit=5, cursor="9")
    assert [c.name for c in found.items] == ["c25"]
    assert found.next_cursor is None


def test_a_job_of_100000_components_is_shown_one_page_at_a_time(
    api: httpx.Client, tracker: Tracker
) -> None:
    """Its page is no larger than a 2,000-component job's (both too large for a whole
    timeline); its time is benchmarked (benchmarks/bench_web_pages.py)."""
    pages = []
    for size in (2_000, 100_000):
        job = tracker.create_job([f"component-{i}" for i in range(size)])
        tracker.fail(job, f"component-{size - 1}", message="the last one failed")
        page = api.get(f"/jobs/{job}")
        assert page.status_code == 200
        assert "choose a component" in page.text
        pages.append(page.text.replace(str(job), ""))
    small, large = pages
    assert ">component-1999<" in small  # failures first
    assert "every failed component (1)" in large  # beyond the components searched: a link
    assert large.count("component-") == small.count("component-") - 1
    assert len(large) < len(small) * 1.05


def test_the_app_works_mounted_under_a_prefix(tracker: Tracker, serve: Serve) -> None:
    parent = FastAPI()
    parent.mount("/jobs", create_app(tracker))
    job = tracker.create_job(["a"], name="mounted")
    with serve(parent) as client:
        listing = client.get("/jobs/").text
        assert f'href="/jobs/jobs/{job}"' in listing
        assert 'href="/jobs/static/app.css"' in listing
        assert client.get("/jobs/static/live.js").status_code == 200
        assert client.get(f"/jobs/api/jobs/{job}").json()["name"] == "mounted"
        assert client.get("/jobs/api/jobs/bad").json()["error"] == "JobNotFound"
        detail = client.get(f"/jobs/jobs/{job}").text
        assert f'data-events="/jobs/api/jobs/{job}/events"' in detail
        assert 'id="cancel"' not in detail  # No token: no writes, no button.
