"""Server-Sent Events: a message per change, a final one, the end; one watcher per job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from jobledger import Tracker
from jobledger.entrypoints.web.server import BackgroundServer
from jobledger.web import create_app

Serve = Callable[..., AbstractContextManager[httpx.Client]]


def messages(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def test_the_stream_sends_each_change_then_the_final_summary_and_ends(
    api: httpx.Client, tracker: Tracker
) -> None:
    job = tracker.create_job(["a", "b"])
    seen: list[str] = []
    with api.stream("GET", f"/api/jobs/{job}/events", timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            seen.append(line)
            if len(messages(seen)) == 1:
                tracker.complete(job, "a")
            elif len(messages(seen)) == 2:
                tracker.fail(job, "b", message="<b>boom</b>")
    summaries = messages(seen)
    assert [s["counts"]["pending"] for s in summaries] == [2, 1, 0]  # type: ignore[index]
    assert summaries[-1]["overall"] == "failed"
    assert summaries[-1]["is_finished"] is True


def test_an_unknown_job_is_404_before_any_stream(api: httpx.Client) -> None:
    answer = api.get("/api/jobs/00000000-0000-0000-0000-000000000000/events")
    assert answer.status_code == 404
    assert answer.json()["error"] == "JobNotFound"


def test_200_streams_of_one_job_share_one_watcher_which_stops_when_they_go(
    tracker: Tracker,
) -> None:
    job = tracker.create_job(["a", "b"])
    app = create_app(tracker)
    app.state.watchers.recheck = 0.2

    async def streams(url: str) -> list[list[dict[str, object]]]:
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            opened = asyncio.Event()
            first: list[int] = []

            async def one() -> list[dict[str, object]]:
                lines: list[str] = []
                async with client.stream("GET", f"/api/jobs/{job}/events") as stream:
                    async for line in stream.aiter_lines():
                        lines.append(line)
                        if line.startswith("data: ") and len(messages(lines)) == 1:
                            first.append(1)
                            if len(first) == 200:
                                opened.set()
                return messages(lines)

            tasks = [asyncio.create_task(one()) for _ in range(200)]
            await asyncio.wait_for(opened.wait(), 20)
            assert app.state.watchers.watching() == 1
            await asyncio.to_thread(tracker.complete, job, "a")
            await asyncio.to_thread(tracker.complete, job, "b")
            return await asyncio.gather(*tasks)

    with BackgroundServer(app) as server:
        results = asyncio.run(streams(server.url))
        assert all(r[-1]["overall"] == "completed" for r in results)
        assert app.state.watchers.watching() == 0

        quiet = tracker.create_job(["x"])
        with httpx.stream("GET", f"{server.url}/api/jobs/{quiet}/events", timeout=5) as stream:
            first_line = next(stream.iter_lines())
            assert app.state.watchers.watching() == 1, first_line
        deadline = time.monotonic() + 5
        while app.state.watchers.watching() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.watchers.watching() == 0, "the watcher outlived its last client"


def test_a_shell_worker_uses_curl(api: httpx.Client, token: str) -> None:
    import subprocess

    def curl(*args: str) -> str:
        command = ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}"]
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, check=True, timeout=20
        ).stdout

    base = str(api.base_url).rstrip("/")
    json_type = ["-H", "Content-Type: application/json"]
    created = curl(*json_type, "-d", '{"components": ["resize-1"]}', f"{base}/api/jobs")
    job = json.loads(created)["job_id"]
    body = '{"component": "resize-1", "status": "completed"}'
    assert json.loads(curl(*json_type, "-d", body, f"{base}/api/jobs/{job}/reports"))["recorded"]
    events = curl("-N", f"{base}/api/jobs/{job}/events")
    assert messages(events.splitlines())[-1]["overall"] == "completed"


def test_streams_beyond_the_caps_are_refused_before_they_start(
    tracker: Tracker, serve: Serve
) -> None:
    first, other = tracker.create_job(["a"]), tracker.create_job(["b"])
    with serve(create_app(tracker, max_watchers=1, max_streams=2)) as client:

        def refused(job: object) -> None:
            answer = client.get(f"/api/jobs/{job}/events", timeout=5)
            assert answer.status_code == 503
            assert answer.json()["error"] == "Busy"

        with client.stream("GET", f"/api/jobs/{first}/events", timeout=5) as one:
            lines_one = one.iter_lines()  # Kept: a dropped iterator closes the stream.
            assert next(lines_one).startswith("data: ")
            refused(other)  # A second thread
            with client.stream("GET", f"/api/jobs/{first}/events", timeout=5) as two:
                lines_two = two.iter_lines()
                assert next(lines_two).startswith("data: ")
                refused(first)  # A third stream
                tracker.complete(first, "a")
                assert messages(list(lines_two))[-1]["overall"] == "completed"
            assert messages(list(lines_one))[-1]["overall"] == "completed"
        tracker.complete(other, "b")  # The refusals took no place: it is served.
        with client.stream("GET", f"/api/jobs/{other}/events", timeout=5) as three:
            assert messages(list(three.iter_lines()))[-1]["overall"] == "completed"


def test_no_watcher_thread_outlives_the_app(tracker: Tracker) -> None:
    job = tracker.create_job(["a"])
    app = create_app(tracker)
    watchers = app.state.watchers

    async def live() -> object:
        async with app.router.lifespan_context(app):
            stream = watchers.join(job)
            follow = watchers.follow(stream)
            assert await anext(follow) is not None  # The thread now sits in Tracker.follow.
        return await anext(follow, "ended")  # Closing the app ends the open stream.

    assert asyncio.run(live()) == "ended"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("jobledger-watch-")]
    assert alive == []


def test_a_stopping_server_cuts_open_streams_and_runs_the_app_shutdown(tracker: Tracker) -> None:
    job = tracker.create_job(["a"])
    server = BackgroundServer(create_app(tracker)).__enter__()
    try:
        with httpx.stream("GET", f"{server.url}/api/jobs/{job}/events", timeout=30) as events:
            lines = events.iter_lines()
            assert next(lines).startswith("data: ")  # A watcher thread runs.
            server.__exit__(None, None, None)
            with contextlib.suppress(httpx.RemoteProtocolError):  # cut mid-response
                list(lines)  # The stream ended.
    finally:
        server.__exit__(None, None, None)  # Again does nothing.
    alive = [t.name for t in threading.enumerate() if t.name.startswith("jobledger-watch-")]
    assert alive == []  # The app's shutdown closed its watchers.
