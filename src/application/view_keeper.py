"""A background thread that keeps the status view caught up with the feed, so that a query
waits only for what it needs (its own writes) and still sees other processes' reports soon
after they are made."""

from __future__ import annotations

import logging
import threading

from ..domain.errors import StoreError
from .view_updater import ViewUpdater
from .writes import WriteLog

logger = logging.getLogger("jobledger")

_MAX_BACK_OFF = 1.0
"""Seconds, at most, between attempts while the store fails."""


class ViewKeeper:
    """One daemon thread, "jobledger-view-keeper", that applies the feed to the view while no
    other updater (thread or process) is, wakes `follow`/`wait` whenever the view moves, and
    looks again every `interval` seconds when there was nothing to do.

    `start()` starts it (again in a forked child, which has no thread yet) and `stop()` stops
    it for good: the ledger does, before its store closes (`Ledger.runs_in_background`).
    Failures are logged, once per message, and retried with back-off up to 1 s; until
    an attempt succeeds again, queries raise them (`failure`)."""

    def __init__(self, updater: ViewUpdater, writes: WriteLog, *, interval: float = 0.05) -> None:
        self._updater = updater
        self._writes = writes
        self._interval = interval
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failure: Exception | None = None

    @property
    def failure(self) -> Exception | None:
        """Why the last attempt to catch up failed (None if it did not, or while the next
        one runs): queries raise it, so that a view that stopped moving is never served as
        if it were current."""
        return self._failure

    def start(self) -> None:
        """Start the thread unless it runs, or the keeper was stopped."""
        with self._lock:
            if self._stopped.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._run, name="jobledger-view-keeper", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it to end (the catch-up under way finishes first)."""
        with self._lock:
            self._stopped.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        seen, pause, failure = -1, self._interval, ""
        while not self._stopped.is_set():
            try:
                self._failure = None  # A new attempt: queries meanwhile read what it commits.
                position = self._updater.catch_up(wait=False, stop=self._stopped.is_set)
            except Exception as error:  # Logged, and raised by the queries (`failure`).
                self._failure = error
                if str(error) != failure:
                    failure = str(error)
                    logger.warning(
                        "the status view keeper could not catch up (retrying): %s",
                        failure,
                        exc_info=not isinstance(error, StoreError),
                    )
                pause = min(pause * 2, _MAX_BACK_OFF)
                self._stopped.wait(pause)
                continue
            pause, failure = self._interval, ""
            if position != seen:
                seen = position
                self._writes.progressed()
                continue
            self._stopped.wait(self._interval)
