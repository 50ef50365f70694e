"""Running the app with uvicorn: in the foreground (`jobledger serve`) or in a background
thread (`jobledger demo --serve`, and tests)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from ...domain.errors import ConfigurationError

GRACE = 2
"""Seconds a stopping server waits for its responses to end before it cuts them (the live
streams never end on their own); then the app's shutdown runs, closing its watchers."""


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve `app` until interrupted."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=GRACE,
    )


class BackgroundServer:
    """`app` served by uvicorn in a daemon thread while the `with` block runs; `url` is
    where (port 0 picks a free port)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="jobledger-web", daemon=True)
        self._host = host
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigurationError(f"the web server could not start on {self._host}")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True  # Not force_exit: it skips the app's shutdown.
        self._thread.join(GRACE + 10)
