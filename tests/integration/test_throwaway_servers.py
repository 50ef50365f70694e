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
    # name: (the module's context manager, the directory of what it yields, installed)
    "postgres": (
        "jobledger.testing.postgres_server:throwaway_postgres",
        _cluster,
        find_server_binaries() is not None,
    ),
    "redis": (
        "jobledger.testing.redis_server:throwaway_redis",
        lambda path: Path(path).parent,
        shutil.which("redis-server") is not None,
    ),
}
HOLDER = """
import importlib, sys, time
module, name = sys.argv[1].split(":")
with getattr(importlib.import_module(module), name)() as where:
    print(where, flush=True)
    time.sleep(600)
"""


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> tuple[str, Callable[[str], Path]]:
    target, directory, installed = SERVERS[request.param]
    if not installed and os.environ.get("CI", "").lower() != "true":
        pytest.skip(f"{request.param} is not installed")
    return target, directory


def _servers_in(directory: Path) -> list[int]:
    """The processes whose command line names `directory` (a server's data or socket)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:  # not a process, or one that ended meanwhile
            continue
        if entry.name.isdigit() and str(directory).encode() in command:
            found.append(int(entry.name))
    return found


def test_a_server_is_removed_on_exit(server: tuple[str, Callable[[str], Path]]) -> None:
    target, directory_of = server
    module, name = target.split(":")
    with getattr(importlib.import_module(module), name)() as where:
        directory = directory_of(str(where))
        assert directory.is_dir()
        assert _servers_in(directory), "the server should be running"
    assert not directory.exists()
    assert _servers_in(directory) == []


def test_a_server_is_removed_when_its_owner_is_killed(
    server: tuple[str, Callable[[str], Path]],
) -> None:
    target, directory_of = server
    command = [sys.executable, "-c", HOLDER, target]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        directory = directory_of(holder.stdout.readline().strip())
        assert directory.is_dir()
        assert _servers_in(directory), "the server should be running"
        holder.kill()
    deadline = time.monotonic() + 60
    while (directory.exists() or _servers_in(directory)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not directory.exists()
    assert _servers_in(directory) == []
