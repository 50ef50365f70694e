"""Stopping a child process: politely first, then for good; and after a killed owner.
Reading a throwaway server's log."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["read_log", "stop_process", "watchdog"]

_WATCHDOG = """
import os, shutil, subprocess, sys, time
sys.stdin.buffer.read()  # Returns at end of file: the owner (and its forks) ended.
directory, *command = sys.argv[1:]
deadline = time.monotonic() + 30
while True:  # Again while a server or its set-up, orphaned mid-step, still writes there.
    if command:
        try:
            subprocess.run(command, capture_output=True, cwd="/", timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass  # Missing or hung: remove the directory all the same.
    shutil.rmtree(directory, ignore_errors=True)
    if not os.path.lexists(directory) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
"""


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate `process` and wait up to `timeout` seconds for it to exit; kill it if it
    has not, and reap it either way."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def watchdog(directory: Path, *, stop: Sequence[str] = ()) -> Iterator[None]:
    """While the block runs, a process in a session of its own waits on a pipe only this
    process (and its forks) holds: if they all end without leaving the block (killed), it
    runs the `stop` command and removes `directory`, retrying for up to 30 s, so that a
    throwaway server does not outlive its owner. Leaving the block stops it."""
    command = [sys.executable, "-c", _WATCHDOG, str(directory), *stop]
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,  # A Ctrl-C meant for the owner leaves it to clean up.
    ) as process:
        try:
            yield
        finally:
            process.kill()  # Not its end of file: forked children may still hold the pipe.


def read_log(path: Path) -> str:
    """The text of a server's log file, or "" if it cannot be read (not written yet)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
