"""`jobledger serve`: loopback by default, tokens from a file, refusals that are errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jobledger import Tracker
from jobledger.entrypoints.cli import main

TOKEN = "serve-token-0123456789abcdef"


def test_off_loopback_reads_need_a_token_and_tokens_must_be_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBLEDGER_WEB_TOKEN", raising=False)
    store = f"file:{tmp_path / 'store'}"
    assert main(["--store", store, "serve", "--host", "0.0.0.0"]) == 4
    assert "needs a token for reads" in capsys.readouterr().err
    short = tmp_path / "short"
    short.write_text("abc\n")
    assert main(["--store", store, "serve", "--token-file", str(short)]) == 4
    assert "at least 16" in capsys.readouterr().err


def test_serve_runs_the_app_with_the_token_from_a_file(tmp_path: Path) -> None:
    store = f"file:{tmp_path / 'store'}"
    Tracker.open(store).close()
    (tmp_path / "token").write_text(TOKEN + "\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "jobledger.entrypoints.cli", "--store", store, "serve",
               "--port", str(port), "--token-file", str(tmp_path / "token")]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "JOBLEDGER_WEB_TOKEN"}
    server = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "jobledger serve did not start"
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        created = httpx.post(f"{base}/api/jobs", json={"components": ["a"]}, headers=auth)
        assert created.status_code == 201
        assert (
            httpx.get(f"{base}/api/jobs").json()["items"][0]["job_id"] == created.json()["job_id"]
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
