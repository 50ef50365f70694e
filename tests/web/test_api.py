"""The JSON API: the --json shapes, the error mapping, tokens, size limits, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from jobledger import StoreError, Tracker
from jobledger.web import create_app

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Serve = Callable[..., AbstractContextManager[httpx.Client]]


def test_a_worker_creates_reports_and_reads_in_the_cli_json_shapes(
    api: httpx.Client, tracker: Tracker
) -> None:
    created = api.post(
        "/api/jobs",
        json={"components": ["a", "b"], "name": "n", "metadata": {"k": 1}, "allowed_failures": 1},
        headers=AUTH,
    )
    assert created.status_code == 201
    job = created.json()["job_id"]
    receipt = api.post(f"/api/jobs/{job}/reports", json={"component": "a", "status": "completed"},
                       headers=AUTH).json()  # fmt: skip
    assert receipt == {"job_id": job, "component": "a", "status": "completed", "version": 1,
                       "position": receipt["position"], "recorded": True}  # fmt: skip
    assert api.post(f"/api/jobs/{job}/components", json={"components": ["c"]},
                    headers=AUTH).json() == {"job_id": job, "added": 1}  # fmt: skip
    summary = api.get(f"/api/jobs/{job}").json()
    assert summary == tracker.summary(job).model_dump(mode="json")
    assert summary["created_at"].endswith("Z")
    listing = api.get("/api/jobs", params={"status": "in_progress"}).json()
    assert listing == {"items": [summary], "next_cursor": None}
    page = api.get(f"/api/jobs/{job}/components", params={"limit": 2}).json()
    assert [c["name"] for c in page["items"]] == ["a", "b"]
    rest = api.get(f"/api/jobs/{job}/components", params={"cursor": page["next_cursor"]}).json()
    assert [c["name"] for c in rest["items"]] == ["c"]
    assert rest["next_cursor"] is None
    done = api.get(f"/api/jobs/{job}/components", params={"status": "completed"}).json()
    assert [c["name"] for c in done["items"]] == ["a"]
    history = api.get(f"/api/jobs/{job}/history", params={"component": "a"}).json()
    assert [(e["component"], e["status"]) for e in history["items"]] == [("a", "completed")]
    assert history["next_cursor"] is None
    assert api.get("/api/stale", params={"older_than": "0s"}).json() == []
    cancelled = api.post(f"/api/jobs/{job}/cancel", json={"reason": "enough"}, headers=AUTH)
    assert cancelled.json() == {"job_id": job, "overall": "cancelled"}
    assert api.get("/healthz").json() == {"status": "ok"}


def test_history_is_paged_by_an_opaque_cursor(api: httpx.Client, tracker: Tracker) -> None:
    job = tracker.create_job(["a", "b", "c"])
    for name in ("a", "b", "c"):
        tracker.start(job, name)
    every = [e.model_dump(mode="json") for e in tracker.history(job)]
    seen: list[object] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/api/jobs/{job}/history", params=params).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == every
    assert len(api.get(f"/api/jobs/{job}/history").json()["items"]) == 3  # default 100
    assert api.get(f"/api/jobs/{job}/history", params={"limit": 1001}).status_code == 400
    assert api.get(f"/api/jobs/{job}/history", params={"cursor": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("request_", "status", "error"),
    [
        (("GET", "/api/jobs/not-a-uuid", None), 404, "JobNotFound"),
        (("GET", "/api/jobs/00000000-0000-0000-0000-000000000000", None), 404, "JobNotFound"),
        (("GET", "/api/jobs/{job}/history?component=zz", None), 404, "UnknownComponent"),
        (
            ("POST", "/api/jobs/{job}/reports", {"component": "a", "status": "in_progress"}),
            409,
            "InvalidTransition",
        ),
        (("POST", "/api/jobs", {"components": ["x"], "job_id": "{job}"}), 409, "JobAlreadyExists"),
        (
            ("POST", "/api/jobs/{job}/reports", {"component": "a", "status": "cancelled"}),
            400,
            "InvalidReport",
        ),
        (("POST", "/api/jobs", {"components": []}), 400, "InvalidJobDefinition"),
        (("POST", "/api/jobs", {"components": "ab"}), 400, "InvalidInput"),
        (("POST", "/api/jobs", {"components": ["a"], "colour": 1}), 400, "InvalidInput"),
        (("GET", "/api/jobs?limit=0", None), 400, "InvalidInput"),
        (("GET", "/api/jobs?cursor=x", None), 400, "InvalidInput"),
        (("GET", "/api/jobs/{job}/components?status=cancelled", None), 400, "InvalidInput"),
        (("GET", "/api/stale?older_than=soon", None), 400, "InvalidInput"),
        (("GET", "/api/nothing", None), 404, "NotFound"),
        (("DELETE", "/api/jobs", None), 405, "MethodNotAllowed"),
    ],
)
def test_errors_are_mapped_once_to_a_status_and_a_json_body(
    api: httpx.Client, tracker: Tracker, request_: tuple[str, str, object], status: int,
    error: str,
) -> None:  # fmt: skip
    job = str(tracker.create_job(["a"]))
    tracker.complete(job, "a")
    method, path, payload = request_
    payload = None if payload is None else eval(repr(payload).replace("{job}", job))
    answer = api.request(method, path.replace("{job}", job), json=payload, headers=AUTH)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert set(answer.json()) == {"error", "detail"}


def test_an_unreachable_store_is_503_and_no_error_shows_a_traceback(
    api: httpx.Client, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise StoreError("cannot reach the store")

    monkeypatch.setattr(tracker, "summary", unreachable)
    monkeypatch.setattr(tracker, "jobs", lambda **kwargs: 1 / 0)
    job = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/jobs/{job}").json() == {"error": "StoreError",
                                                  "detail": "cannot reach the store"}  # fmt: skip
    assert api.get(f"/api/jobs/{job}").status_code == 503
    broken = api.get("/api/jobs")
    assert broken.status_code == 500
    assert broken.json()["error"] == "InternalError"
    page = api.get("/")
    assert page.status_code == 500
    for text in (broken.text, page.text):
        assert "Traceback" not in text
        assert "ZeroDivisionError" not in text


def test_writes_are_refused_without_a_configured_token(tracker: Tracker, serve: Serve) -> None:
    with serve(create_app(tracker)) as client:
        refused = client.post("/api/jobs", json={"components": ["a"]}, headers=AUTH)
        assert refused.status_code == 403
        assert refused.json()["error"] == "Forbidden"
        assert client.get("/api/jobs").status_code == 200
    assert tracker.jobs().items == ()


def test_writes_need_the_bearer_token_and_reads_can_too(tracker: Tracker, serve: Serve) -> None:
    with serve(create_app(tracker, token=TOKEN, read_token_required=True)) as client:
        missing = client.post("/api/jobs", json={"components": ["a"]})
        assert missing.status_code == 401
        assert "Bearer" in missing.headers["WWW-Authenticate"]
        wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
        assert (
            client.post("/api/jobs", json={"components": ["a"]}, headers=wrong).status_code == 403
        )
        basic = httpx.BasicAuth("anyone", TOKEN)
        assert client.post("/api/jobs", json={"components": ["a"]}, auth=basic).status_code == 401
        assert client.get("/api/jobs").status_code == 401
        assert client.get("/").headers["WWW-Authenticate"].startswith("Basic")
        assert client.get("/api/jobs", headers=wrong).status_code == 403
        assert client.get("/api/jobs", headers=AUTH).status_code == 200
        assert client.get("/", auth=basic).status_code == 200
        assert "set-cookie" not in client.get("/", auth=basic).headers


def test_request_bodies_are_size_limited(tracker: Tracker, serve: Serve) -> None:
    with serve(create_app(tracker, token=TOKEN, max_body_bytes=1000)) as client:
        big = {"components": [f"c{i}" for i in range(500)]}
        declared = client.post("/api/jobs", json=big, headers=AUTH)
        assert declared.status_code == 413
        assert declared.json()["error"] == "PayloadTooLarge"
        chunks = (b'{"components": [' + b'"c", ' * 100 for _ in range(10))
        streamed = client.post("/api/jobs", content=chunks, headers=AUTH)
        assert streamed.status_code == 413
    assert tracker.jobs().items == ()


def test_head_works_for_health_checks_and_pages_and_only_api_paths_answer_json(
    api: httpx.Client,
) -> None:
    for path in ("/healthz", "/"):
        assert api.head(path).status_code == 200
    assert api.get("/apix").headers["content-type"].startswith("text/html")
    assert api.get("/api/nothing").json()["error"] == "NotFound"


def test_the_openapi_schema_is_served_and_pages_send_security_headers(api: httpx.Client) -> None:
    schema = api.get("/api/openapi.json").json()
    assert {"/api/jobs", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/reports"} <= set(
        schema["paths"]
    )
    assert "default-src 'self'" in api.get("/").headers["Content-Security-Policy"]
