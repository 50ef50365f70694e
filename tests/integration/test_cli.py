"""The real `jobledger` console script, driven in subprocesses on a file store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobledger import Tracker

SCRIPT = Path(sys.executable).with_name("jobledger")

# Names and messages an attacker controls: screen clear, title set, rich markup and a link.
HOSTILE = "x\x1b[2Jy\x1b]0;owned\x07z[red]r[/red][link=https://e.example]l[/link]\u202en"
SHOWN = "x\\x1b[2Jy\\x1b]0;owned\\x07z[red]r[/red][link=https://e.example]l[/link]\\u202en"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


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
        (("prune", "--older-than", "3000000d"), "--older-than 3000000 days, 0:00:00 reaches back"),
        (("stale", "--older-than", "3000000d"), "--older-than 3000000 days, 0:00:00 reaches back"),
        (
            ("prune", "--older-than", "400000d", "--keep-failed-for", "400000d"),
            "keep_failed_for 400000 days, 0:00:00 reaches back before the year 1",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr(store: str, args: tuple[str, ...], needle: str) -> None:
    result = run(*args, store=store)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("span", ["1000000w", "99999999w", "9999999999w"])
def test_a_duration_reaching_back_too_far_is_a_usage_error(store: str, span: str) -> None:
    assert run("prune", "--older-than", span, store=store).returncode == 64


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


@pytest.mark.parametrize("poll", ["0", "-1", "inf", "1e308", "nan"])
def test_hooks_poll_must_be_positive_and_bounded(store: str, poll: str) -> None:
    result = run("hooks", "--poll", poll, "os:getcwd", store=store)
    assert (result.returncode, result.stdout) == (64, "")
    assert "positive number of seconds up to" in result.stderr


def test_hooks_stops_at_once_on_sigterm(store: str, tmp_path: Path) -> None:
    (tmp_path / "nohooks.py").write_text("def register(tracker):\n    pass\n")
    command = [str(SCRIPT), "--store", store, "hooks", "--poll", "3600", "nohooks:register"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as runner:
        time.sleep(1.5)  # imported, registered, and waiting for the next look
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=10) == 0
        assert runner.stderr is not None
        assert "0 hook call(s)" in runner.stderr.read()


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in [
        "create",
        "add",
        "report",
        "start",
        "complete",
        "fail",
        "status",
        "watch",
        "list",
        "history",
        "cancel",
        "prune",
        "stale",
        "hooks",
        "demo",
    ]:
        assert command in result.stdout


@pytest.mark.slow
def test_demo_finishes_the_example_job(tmp_path: Path) -> None:
    where = tmp_path / "[bold]s"  # The store's path is shown literally, markup and all.
    where.mkdir()
    environment = {k: v for k, v in os.environ.items() if k != "JOBLEDGER_STORE"}
    result = subprocess.run(
        [str(SCRIPT), "demo"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    assert "completed 111" in result.stdout
    assert "hook 'announce' ran" in result.stdout
    assert str(where / ".jobledger") in result.stdout.replace("\n", "")


MALFORMED = [
    "postgresql://jl:se/cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:p@ss_zz9@127.0.0.1:1/jl",
    "postgresql://jl:se?cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:12?a=cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:sekrit_zz9/jl",
    "postgresql:jl:sekrit_zz9@127.0.0.1:1/jl",
]


def password_of(url: str) -> str:
    """The password a user meant in `url`: after the user's `:`, up to the last `@` (the
    last `/` when there is none)."""
    rest = url.partition(":")[2].lstrip("/")
    return rest.partition(":")[2].rpartition("@" if "@" in rest else "/")[0]


def assert_no_piece(password: str, shown: str) -> None:
    assert "zz9" in password
    for piece in (password, password[:4], password[3:], "zz9"):
        assert piece not in shown, (piece, shown)


@pytest.mark.parametrize("debug", [(), ("--debug",)])
@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_shows_no_piece_of_its_password(url: str, debug: tuple[str, ...]) -> None:
    result = run(*debug, "list", store=url)
    assert result.returncode == 4
    assert "malformed" in result.stderr
    assert "percent-encode" in result.stderr
    assert_no_piece(password_of(url), result.stderr + result.stdout)


@pytest.mark.parametrize("debug", [(), ("--debug",)])
@pytest.mark.parametrize("store", ["host=h password=sekrit_zz9", "mysql://jl:sekrit_zz9@h/jl"])
def test_an_unsupported_store_shows_no_more_than_its_scheme(
    store: str, debug: tuple[str, ...]
) -> None:
    result = run(*debug, "create", "a", store=store)
    assert result.returncode == 4
    assert "unsupported store URL" in result.stderr
    assert_no_piece("sekrit_zz9", result.stderr + result.stdout)


def test_a_nul_in_a_file_url_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("create", "a", store=f"file://{tmp_path}/a%00b")
    assert result.returncode == 4
    assert result.stderr.startswith("jobledger: file store URL")
    assert "a\\x00b" in result.stderr
    assert "unexpected" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_hides_a_password_given_in_the_query(postgres_database: str) -> None:
    joiner = "&" if "?" in postgres_database else "?"
    url = f"{postgres_database}{joiner}password=sekrit_zz9&application_name=a@b"
    shown = ok("init", store=url)
    assert "password=***" in shown
    assert "application_name=a@b" in shown
    assert_no_piece("sekrit_zz9", shown)


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


def test_create_does_not_take_over_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("mine")
    for args in (("create", "a"), ("init",)):
        result = run(*args, store=f"file://{tmp_path}")
        assert result.returncode == 4
        assert f"{tmp_path} is not a jobledger store" in result.stderr
        assert "'junk'" in result.stderr
        assert [path.name for path in tmp_path.iterdir()] == ["junk"]
    (tmp_path / "junk").unlink()
    create(f"file://{tmp_path}", "a")  # an empty directory may become a store


# Issue 12: hostile names, bad input, narrow terminals.
def literal(output: str) -> str:
    """`output` with the table borders and wrapping undone, to look for a whole string."""
    return re.sub(r"[\s│┃|]+", "", output)


def assert_shown_literally(output: str, *expected: str) -> None:
    for control in ("\x1b", "\x07", "\u202e"):
        assert control not in output
    for text in expected:
        assert literal(text) in literal(output)


@pytest.fixture
def hostile_job(store: str) -> str:
    job = json.loads(
        ok("create", "--json", "--name", HOSTILE, store=store, stdin=f"{HOSTILE}\nplain\n")
    )["job_id"]
    started = ok("start", job, HOSTILE, "-m", HOSTILE, "-p", "0.5", store=store)
    assert started == f"{SHOWN}: in_progress, version 1\n"
    return job


def test_status_shows_names_and_messages_literally(store: str, hostile_job: str) -> None:
    assert_shown_literally(ok("status", hostile_job, store=store), f"name{SHOWN}", SHOWN)


def test_history_shows_component_and_hook_names_literally(
    store: str, tmp_path: Path, hostile_job: str
) -> None:
    (tmp_path / "hostile_hooks.py").write_text(
        f"def register(tracker):\n    tracker.on_finished(print, name={HOSTILE!r})\n"
    )
    ok("cancel", hostile_job, "--reason", HOSTILE, store=store)
    result = run(
        "hooks", "--once", "hostile_hooks:register", store=store, env={"PYTHONPATH": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    output = ok("history", hostile_job, store=store)
    assert_shown_literally(output, SHOWN)
    assert "hook" in output
    assert_shown_literally(ok("status", hostile_job, store=store), f"cancelled{SHOWN}")


def test_list_stale_and_watch_show_names_literally(store: str, hostile_job: str) -> None:
    assert_shown_literally(ok("list", store=store), SHOWN)
    assert_shown_literally(ok("stale", "--older-than", "0s", store=store), SHOWN)
    ok("cancel", hostile_job, "--reason", HOSTILE, store=store)
    result = run("watch", hostile_job, store=store)
    assert result.returncode == 2, result.stderr
    assert_shown_literally(result.stdout, f"name{SHOWN}", f"cancelled{SHOWN}")


def test_json_keeps_names_verbatim(store: str, hostile_job: str) -> None:
    status = json.loads(ok("status", hostile_job, "--json", store=store))
    assert status["name"] == HOSTILE
    assert status["components"][HOSTILE]["message"] == HOSTILE


def test_negative_zero_progress_shows_as_zero(store: str) -> None:
    job = create(store, "a")
    ok("start", job, "a", "-p", "-0.0", store=store)
    assert "-0%" not in ok("history", job, store=store)
    assert json.loads(ok("history", job, "--json", store=store))[0]["progress"] == 0.0


@pytest.mark.parametrize("command", ["create", "add", "stdin"])
def test_components_that_are_not_utf8_are_one_line(
    store: str, tmp_path: Path, command: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe broken\n")
    args = {
        "create": ["create", "--file", str(bad)],
        "add": ["add", create(store, "a"), "--file", str(bad)],
        "stdin": ["create"],
    }[command]
    result = subprocess.run(
        [str(SCRIPT), "--store", store, *args],
        input=bad.read_bytes(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    where = "stdin" if command == "stdin" else repr(str(bad))
    assert (result.returncode, result.stdout) == (4, b"")
    assert result.stderr.decode().splitlines() == [
        f"jobledger: components from {where} are not UTF-8 text: byte 0xff at offset 3"
    ]


def test_a_byte_order_mark_is_not_part_of_the_first_name(store: str, tmp_path: Path) -> None:
    listed = tmp_path / "names.txt"
    listed.write_bytes("\ufefffirst\nsecond\n".encode())
    job = json.loads(ok("create", "--json", "--file", str(listed), store=store))["job_id"]
    status = json.loads(ok("status", job, "--json", store=store))
    assert list(status["components"]) == ["first", "second"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("demo", "--workers", "0"), "'--workers': 0 is not in the range x>=1"),
        (("demo", "--workers", "-1"), "'--workers': -1 is not in the range x>=1"),
        (("watch", "x", "--timeout", "-1"), "'--timeout': -1 is not a number of seconds >= 0"),
        (("watch", "x", "--timeout", "nan"), "'--timeout': nan is not a number of seconds >= 0"),
    ],
)
def test_bad_numbers_are_usage_errors_and_create_nothing(
    store: str, args: tuple[str, ...], needle: str
) -> None:
    result = run(*args, store=store)
    assert (result.returncode, result.stdout) == (64, "")
    assert needle in result.stderr
    assert json.loads(ok("list", "--json", store=store))["items"] == []


@pytest.mark.parametrize(
    ("registrar", "needle"),
    [
        ("os:getcwd", "hook registrar 'os:getcwd' failed: TypeError: "),
        ("../../etc:x", "cannot load hook registrar '../../etc:x': "),
        (
            "failing_hooks:register",
            "hook registrar 'failing_hooks:register' failed: RuntimeError: no hooks today",
        ),
        ("failing_hooks:broken", "cannot load hook registrar 'failing_hooks:broken': "),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_hook_registrars_that_fail_are_named(
    store: str, tmp_path: Path, registrar: str, needle: str, debug: bool
) -> None:
    (tmp_path / "failing_hooks.py").write_text(
        "def register(tracker):\n    raise RuntimeError('no hooks today')\n"
    )
    if registrar.endswith("broken"):
        (tmp_path / "failing_hooks.py").write_text("raise ValueError('broken at import')\n")
    args = ("--debug",) if debug else ()
    result = run(
        *args, "hooks", "--once", registrar, store=store, env={"PYTHONPATH": str(tmp_path)}
    )
    assert result.returncode == 4
    assert needle in result.stderr
    assert ("Traceback" in result.stderr) is debug
    if not debug:
        assert len(result.stderr.splitlines()) == 1


def test_ctrl_c_in_watch_exits_130_with_a_word(store: str) -> None:
    job = create(store, "a")
    watcher = subprocess.Popen(
        [str(SCRIPT), "--store", store, "watch", job],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    watcher.send_signal(signal.SIGINT)
    _, stderr = watcher.communicate(timeout=30)
    assert watcher.returncode == 130
    assert stderr.strip().splitlines()[-1] == "jobledger: interrupted"


def test_list_offers_only_statuses_a_job_can_have(store: str) -> None:
    result = run("list", "--status", "retrying", store=store)
    assert result.returncode == 64
    assert "'pending', 'in_progress', 'completed', 'failed', 'cancelled'" in result.stderr


def test_status_json_is_paged_like_the_table(store: str) -> None:
    job = create(store, *(f"c{n}" for n in range(5)))
    first = json.loads(ok("status", job, "--json", "--limit", "2", store=store))
    assert (list(first["components"]), first["total"]) == (["c0", "c1"], 5)
    cursor = first["next_cursor"]
    second = json.loads(
        ok("status", job, "--json", "--limit", "2", "--cursor", cursor, store=store)
    )
    assert list(second["components"]) == ["c2", "c3"]
    last = json.loads(ok("status", job, "--json", "--cursor", second["next_cursor"], store=store))
    assert (list(last["components"]), last["next_cursor"]) == (["c4"], None)
    table = ok("status", job, "--limit", "2", store=store)
    assert f"3 more: --cursor {cursor}" in table
    assert "c2" in ok("status", job, "--limit", "2", "--cursor", cursor, store=store)


def test_ids_and_times_are_never_cut_in_narrow_terminals(store: str) -> None:
    job = create(store, "a-component-with-a-long-name")
    ok("start", job, "a-component-with-a-long-name", "-m", "a long message " * 5, store=store)
    for args in (("list",), ("stale", "--older-than", "0s"), ("history", job), ("status", job)):
        output = run(*args, store=store, env={"COLUMNS": "40"}).stdout
        assert "…" not in output
        assert job in output or args[0] == "history"
        assert TIME.search(output), output
        assert "+00:00" not in output


@pytest.mark.parametrize("as_json", [False, True])
def test_cancel_and_add_confirm(store: str, as_json: bool) -> None:
    job = create(store, "a")
    flag = ("--json",) if as_json else ()
    added = ok("add", job, "b", "c", *flag, store=store)
    cancelled = ok("cancel", job, "--reason", "enough", *flag, store=store)
    if as_json:
        assert json.loads(added) == {"job_id": job, "added": 2}
        assert json.loads(cancelled) == {"job_id": job, "overall": "cancelled"}
    else:
        assert added == f"added 2 component(s) to job {job}\n"
        assert cancelled == f"cancelled job {job}\n"


@pytest.mark.parametrize("command", [("create", "a"), ("list",), ("hooks", "--once", "os:sep")])
def test_the_memory_store_is_refused(command: tuple[str, ...]) -> None:
    result = run(*command, store="memory://")
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr.startswith("jobledger: memory:// keeps jobs only while one command runs")
    assert len(result.stderr.splitlines()) == 1


def test_debug_keeps_the_exit_code(store: str) -> None:
    for args in (("status", "not-a-uuid"), ("create", "--file", "/nonexistent")):
        assert run(*args, store=store).returncode == 4
        assert run("--debug", *args, store=store).returncode == 4
