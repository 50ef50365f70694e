"""The throwaway PostgreSQL and Redis servers of the tests, benchmarks and `jobledger demo
--queue` leave nothing behind, even when the process that started them is killed."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from jobledger.testing.postgres_server import find_server_binaries


def _cluster(url: str) -> Path:
    return Path(parse_qs(urlsplit(url).query)["host"][0])


SERVERS: dict[str, tuple[str, Callable[[str], Path], bool]] = {
    # server binary: (the context manager, the directory of what it yields, installed)
    "postgres": (
        "jobledger.testing.postgres_server:throwaway_postgres",
        _cluster,
        find_server_binaries() is not None,
    ),
    "redis-server": (
        "jobledger.testing.redis_server:throwaway_redis",
        lambda path: Path(path).parent,
        shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None,
    ),
}
HOLDER = """
import importlib, sys, time
module, name = sys.argv[1].split(":")
with getattr(importlib.import_module(module), name)() as where:
    print(where, flush=True)
    time.sleep(600)
"""


Server = tuple[str, str, Callable[[str], Path]]


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> Server:
    binary = request.param
    target, directory, installed = SERVERS[binary]
    if not installed and os.environ.get("CI", "").lower() != "true":
        pytest.skip(f"{binary} is not installed")
    return binary, target, directory


def _servers_in(directory: Path, binary: str) -> list[int]:
    """The processes running `binary` whose command line names `directory` (their data or
    socket): not the watchdog, whose command line names it too."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # not a process, or one that ended meanwhile
            continue
        program = Path(command.split("\0")[0].split(" ")[0]).name
        if entry.name.isdigit() and program == binary and str(directory) in command:
            found.append(int(entry.name))
    return found


def test_a_server_is_removed_on_exit(server: Server) -> None:
    binary, target, directory_of = server
    module, name = target.split(":")
    with getattr(importlib.import_module(module), name)() as where:
        directory = directory_of(str(where))
        assert directory.is_dir()
        assert _servers_in(directory, binary), "the server should be running"
    assert not directory.exists()
    assert _servers_in(directory, binary) == []


def test_a_server_is_removed_when_its_owner_is_killed(server: Server) -> None:
    binary, target, directory_of = server
    command = [sys.executable, "-c", HOLDER, target]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            directory = directory_of(holder.stdout.readline().strip())
            assert directory.is_dir()
            assert _servers_in(directory, binary), "the server should be running"
        finally:
            holder.kill()  # also when an assertion fails: it sleeps 600 s
    deadline = time.monotonic() + 60
    while (directory.exists() or _servers_in(directory, binary)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not directory.exists()
    assert _servers_in(directory, binary) == []
