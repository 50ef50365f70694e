"""Wake-ups across processes: one thread per process LISTENs on a status view's channel, to
which every committed view batch sends one NOTIFY, and calls the callbacks waiting on it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from weakref import WeakKeyDictionary

from eventsourcing.persistence import InterfaceError, PersistenceError
from psycopg import sql

from .datastore import PostgresDatastore
from .settings import PostgresConfigurationError

logger = logging.getLogger("jobledger.postgres")

POLL = 0.2
"""Seconds the listening thread waits for a notification before it lets go of its
connection for a moment (so that closing the store never waits longer)."""


class ProgressListener:
    """Calls its callbacks from a daemon thread each time a batch is committed to the view
    on `channel`, in any process; and once more after each (re)connection, in case one was
    missed meanwhile. The thread starts with the first callback and ends with the store."""

    def __init__(self, datastore: PostgresDatastore, channel: str) -> None:
        self._datastore = datastore
        self._slot = datastore.slot(f"listen {channel}")
        self._listen = sql.SQL("LISTEN {}").format(sql.Identifier(channel)).as_bytes()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, callback: Callable[[], None]) -> None:
        """Call `callback` on every batch committed from now on."""
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="jobledger")
                self._thread.start()

    def _run(self) -> None:
        listening: object = None
        while True:
            try:
                with self._datastore.held(self._slot, wait=True) as conn:
                    assert conn is not None, "held(wait=True) always lends the connection"
                    if conn is not listening:
                        conn.execute(self._listen)
                        listening, woken = conn, True
                    else:
                        woken = any(True for _ in conn.notifies(timeout=POLL, stop_after=1))
            except (InterfaceError, PostgresConfigurationError):
                return  # The store was closed (or this is a forked child).
            except PersistenceError as error:
                logger.warning("listening for status view progress: %s; again in 1 s", error)
                time.sleep(1)
                continue
            if woken:
                with self._lock:
                    callbacks = list(self._callbacks)
                for callback in callbacks:
                    callback()


_listeners: WeakKeyDictionary[PostgresDatastore, dict[str, ProgressListener]]
_listeners = WeakKeyDictionary()
_guard = threading.Lock()


def listener(datastore: PostgresDatastore, channel: str) -> ProgressListener:
    """The one listener of this process for `channel` of `datastore`."""
    with _guard:
        per_channel = _listeners.setdefault(datastore, {})
        return per_channel.setdefault(channel, ProgressListener(datastore, channel))
