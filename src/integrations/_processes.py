"""Stopping a child process: politely first, then for good."""

from __future__ import annotations

import subprocess

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate `process` and wait up to `timeout` seconds for it to exit; kill it if it
    has not, and reap it either way."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
