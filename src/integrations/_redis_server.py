"""A throwaway Redis server for tests and `jobledger demo --queue`.

`throwaway_redis()` runs the installed `redis-server` in a temporary directory, listening only
on a unix socket there, with persistence off (`--save ''`, no append-only file). It yields the
socket's path and stops the server and removes the directory on exit, also after errors,
and a watchdog process does if the caller is killed first.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._processes import read_log, stop_process, watchdog

__all__ = ["RedisNotFound", "throwaway_redis"]


class RedisNotFound(RuntimeError):
    """No `redis-server` or `redis-cli` on PATH (Debian's `redis-server` package installs
    both: `redis-cli` comes with its dependency `redis-tools`)."""


@contextmanager
def throwaway_redis(*, timeout: float = 20.0) -> Iterator[Path]:
    """Start a private Redis server and yield the path of its unix socket.

    Clients connect with `unix://<path>` (redis-py, RQ, Dramatiq) or `redis+socket://<path>`
    (Celery). Raises `RedisNotFound` without the server or client binary and `RuntimeError`
    (with the server's log) when it does not answer within `timeout` seconds.
    """
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        missing = "redis-server" if binary is None else "redis-cli"
        msg = f"no {missing} on PATH (apt-get install redis-server)"
        raise RedisNotFound(msg)
    tmp = Path(tempfile.mkdtemp(prefix="jobledger-redis-"))
    path, log = tmp / "redis.sock", tmp / "server.log"
    command = [binary, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(tmp), "--logfile", str(log)]
    shutdown = [cli, "-s", str(path), "shutdown", "nosave"]  # Returns once it has exited.
    try:
        with (
            watchdog(tmp, stop=shutdown),
            subprocess.Popen(command, cwd=tmp, stdin=subprocess.DEVNULL) as server,
        ):
            try:
                _wait_for_pong(path, server, timeout, log)
                yield path
            finally:
                stop_process(server, 10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_pong(path: Path, server: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"redis-server exited with status {server.returncode}: {read_log(log)}"
            raise RuntimeError(msg)
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(1.0)
                client.connect(str(path))
                client.sendall(b"PING\r\n")
                if client.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    msg = f"redis-server did not answer on {path} within {timeout} s: {read_log(log)}"
    raise RuntimeError(msg)
