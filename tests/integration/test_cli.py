"""The real `jobledger` console script, driven in subprocesses on a file store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobledger import Tracker

SCRIPT = Path(sys.executable).with_name("jobledger")


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A new, empty store: only `create` and `init` make one where there is none."""
    url = f"file://{tmp_path / 'store'}"
    Tracker.open(url).close()
    return url


def run(
    *args: str, store: str | None = None, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT), *(["--store", store] if store else []), *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def ok(*args: str, store: str, stdin: str = "") -> str:
    result = run(*args, store=store, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create(store: str, *components: str) -> str:
    return json.loads(ok("create", "--json", *components, store=store))["job_id"]


def test_a_job_from_creation_to_history(store: str, tmp_path: Path) -> None:
    listed = tmp_path / "components.txt"
    listed.write_text("fetch\nresize\n\n")
    job = json.loads(ok("create", "--json", "--name", "n", "--file", str(listed), store=store))
    job_id = job["job_id"]
    ok("add", job_id, "notify", store=store)
    start = json.loads(ok("start", job_id, "fetch", "-p", "0.5", "--json", store=store))
    assert (start["status"], start["version"], start["recorded"]) == ("in_progress", 1, True)
    ok("complete", job_id, "fetch", store=store)
    ok("report", job_id, "resize", "retrying", "-m", "again", store=store)
    status = json.loads(ok("status", job_id, "--json", store=store))
    assert status["overall"] == "in_progress"
    assert list(status["components"]) == ["fetch", "resize", "notify"]
    assert status["counts"]["completed"] == 1
    table = ok("status", job_id, store=store)
    assert "fetch" in table
    assert "retrying" in table
    history = json.loads(ok("history", job_id, "--json", store=store))
    assert [(e["component"], e["status"]) for e in history] == [
        ("fetch", "in_progress"),
        ("fetch", "completed"),
        ("resize", "retrying"),
    ]
    listing = json.loads(ok("list", "--json", store=store))
    assert [item["job_id"] for item in listing["items"]] == [job_id]
    assert listing["next_cursor"] is None


def test_components_come_from_stdin(store: str) -> None:
    job_id = json.loads(ok("create", "--json", store=store, stdin="a\nb\n"))["job_id"]
    assert json.loads(ok("status", job_id, "--json", store=store))["total"] == 2


def test_cancel_prune_and_stale(store: str) -> None:
    done = create(store, "a")
    ok("complete", done, "a", store=store)
    dropped = create(store, "a")
    ok("cancel", dropped, "--reason", "no longer needed", store=store)
    running = create(store, "a")
    ok("start", running, "a", store=store)
    stale = json.loads(ok("stale", "--older-than", "0s", "--json", store=store))
    assert [(s["job_id"], s["component"]["name"]) for s in stale] == [(running, "a")]
    dry = json.loads(ok("prune", "--older-than", "0s", "--dry-run", "--json", store=store))
    assert dry == {"pruned": 2, "dry_run": True}
    assert ok("prune", "--older-than", "0s", store=store).strip() == "pruned 2 job(s)"
    assert [i["job_id"] for i in json.loads(ok("list", "--json", store=store))["items"]] == [
        running
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("status", "5a3c1f36-3d0c-4e58-9d6d-2a8b1f0c7e11"), "no job with id"),
        (("status", "not-a-uuid"), "malformed job id 'not-a-uuid'"),
        (("create", "--file", "/nonexistent/components.txt"), "cannot read components file"),
        (("prune", "--older-than", "soon"), "'--older-than': 'soon' is not a duration"),
        (("stale", "--older-than", "1x"), "'--older-than': '1x' is not a duration"),
        (("stale", "--older-than", "9999999999w"), "'9999999999w' reaches back before the year 1"),
        (("prune", "--older-than", "3000000d"), "'3000000d' reaches back before the year 1"),
        (
            ("prune", "--older-than", "400000d", "--keep-failed-for", "400000d"),
            "'--keep-failed-for': reaches back before the year 1 with --older-than",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr(store: str, args: tuple[str, ...], needle: str) -> None:
    result = run(*args, store=store)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_status_is_named(store: str) -> None:
    job = create(store, "a")
    result = run("report", job, "a", "finished", store=store)
    assert result.returncode == 4
    expected = "unknown status 'finished'; expected one of in_progress, retrying, completed, failed"
    assert result.stderr.strip().splitlines() == [f"jobledger: {expected}"]


def test_unreachable_store_is_named_without_its_password() -> None:
    result = run("list", store="postgresql://app:s3cret@127.0.0.1:9/jobs?connect_timeout=2")
    assert result.returncode == 4
    assert "s3cret" not in result.stderr + result.stdout
    assert "127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(store: str) -> None:
    result = run("--debug", "status", "not-a-uuid", store=store)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(("finish", "code"), [("complete", 0), ("fail", 1), ("cancel", 2)])
def test_watch_follows_another_process_until_the_end(store: str, finish: str, code: int) -> None:
    job = create(store, "a", "b")
    watcher = subprocess.Popen(
        [str(SCRIPT), "--store", store, "watch", job, "--json", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    ok("complete", job, "a", store=store)
    ok(*((finish, job) if finish == "cancel" else (finish, job, "b")), store=store)
    stdout, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == code, stderr
    assert json.loads(stdout)["is_finished"] is True


def test_watch_times_out_with_exit_code_3(store: str) -> None:
    job = create(store, "a")
    result = run("watch", job, "--timeout", "0.3", store=store)
    assert result.returncode == 3
    assert job in result.stderr


def test_hooks_runs_registered_hooks_once(store: str, tmp_path: Path) -> None:
    (tmp_path / "myhooks.py").write_text(
        "from pathlib import Path\n"
        "def register(tracker):\n"
        "    log = Path(__file__).with_name('hooks.log')\n"
        "    tracker.on_completed(lambda f: log.open('a').write(f.key + '\\n'), name='log')\n"
    )
    job = create(store, "a")
    ok("complete", job, "a", store=store)
    env = {"PYTHONPATH": str(tmp_path)}
    for _ in range(2):
        result = run("hooks", "--once", "myhooks:register", store=store, env=env)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "hooks.log").read_text() == f"{job}/log\n"
    history = json.loads(ok("history", job, "--json", store=store))
    assert [(e["hook"], e["status"]) for e in history if e["hook"]] == [("log", "completed")]


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ["create", "add", "report", "start", "complete", "fail", "status", "watch",
                    "list", "history", "cancel", "prune", "stale", "hooks", "demo"]:  # fmt: skip
        assert command in result.stdout


@pytest.mark.slow
def test_demo_finishes_the_example_job(tmp_path: Path) -> None:
    started = time.monotonic()
    environment = {k: v for k, v in os.environ.items() if k != "JOBLEDGER_STORE"}
    result = subprocess.run(
        [str(SCRIPT), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    assert "completed 111" in result.stdout
    assert "hook 'announce' ran" in result.stdout
    assert str(tmp_path / ".jobledger") in result.stdout.replace("\n", "")


MALFORMED = [
    "postgresql://jl:se/cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:p@ss_zz9@127.0.0.1:1/jl",
    "postgresql://jl:se?cr_zz9@127.0.0.1:1/jl",
]


@pytest.mark.parametrize("debug", [(), ("--debug",)])
@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_shows_no_piece_of_its_password(url: str, debug: tuple[str, ...]) -> None:
    result = run(*debug, "list", store=url)
    assert result.returncode != 0
    assert "percent-encode" in result.stderr
    password = url.split("//")[1].rpartition("@")[0].partition(":")[2]
    for piece in (password, password[:4], password[3:], "zz9"):
        assert piece not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args", [("list",), ("status", "5a3c1f36-3d0c-4e58-9d6d-2a8b1f0c7e11"), ("stale",)]
)
def test_read_commands_do_not_create_a_store(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "typo"
    result = run(*args, store=f"file://{missing}")
    assert result.returncode == 4
    assert f"no jobledger file store in {missing}" in result.stderr
    assert not missing.exists()
    existing = tmp_path / "etc"
    existing.mkdir()
    assert run(*args, store=f"file://{existing}").returncode == 4
    assert list(existing.iterdir()) == []


def test_create_and_init_make_the_store(tmp_path: Path) -> None:
    ok("init", store=f"file://{tmp_path / 'a'}")
    assert json.loads(ok("list", "--json", store=f"file://{tmp_path / 'a'}"))["items"] == []
    create(f"file://{tmp_path / 'b'}", "x")
    assert (tmp_path / "b" / "events" / "FORMAT").exists()
