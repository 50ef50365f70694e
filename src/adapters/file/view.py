"""The file store's status view: a SQLite database per host, beside the store's events.

The view is a cache of the feed: deleting `<dir>/views/<host>.sqlite3` is always safe, the next
query rebuilds it. One database per host keeps SQLite's locking off networked file systems'
shared files, and the rollback journal (never WAL) keeps it off shared memory.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from uuid import UUID

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from pydantic import ValidationError

from ...application.ports import ComponentRow, JobRow, StatusView
from ...domain.component import ComponentStatus
from ...domain.projection import Tally
from ...domain.status import Status
from ..shared import Lifetime
from .io import StoreLock, store_lock

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 60.0
"""Seconds a connection waits for another one's lock before `OperationalError`."""

_ACTIVE = f"status IN ('{Status.IN_PROGRESS.value}', '{Status.RETRYING.value}')"
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, position INTEGER NOT NULL,"
    " overall TEXT NOT NULL, tally TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX jobs_by_position ON jobs (position)",
    "CREATE INDEX jobs_by_overall ON jobs (overall, position)",
    "CREATE TABLE components (job_id TEXT NOT NULL, name TEXT NOT NULL,"
    " ordinal INTEGER NOT NULL, status TEXT NOT NULL, updated_at INTEGER, row TEXT NOT NULL,"
    " PRIMARY KEY (job_id, name)) WITHOUT ROWID",
    "CREATE INDEX components_by_ordinal ON components (job_id, ordinal)",
    f"CREATE INDEX components_stale ON components (updated_at, job_id, ordinal) WHERE {_ACTIVE}",
    f"INSERT INTO meta VALUES ('schema_version', {SCHEMA_VERSION}), ('position', 0)",
)
_CHUNK = 500
"""Most values bound in one `IN (...)` (SQLite allows 999 parameters in old versions)."""
_TRANSLATED: tuple[tuple[type[sqlite3.Error], type[Exception]], ...] = (
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.NotSupportedError, NotSupportedError),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT64 = (1 << 63) - 1


def view_path(directory: str, host: str | None = None) -> str:
    """The view database of `host` (this one by default) for the store in `directory`."""
    name = quote(socket.gethostname() if host is None else host, safe="")
    return os.path.join(os.path.abspath(directory), "views", f"{name}.sqlite3")


class _Connections(threading.local):
    pid = 0
    connection: sqlite3.Connection | None = None


class FileStatusView(StatusView):
    """A status view in the SQLite database at `path`, shared by this host's processes through
    a connection per thread; an existing database is checked at once, a new one is created on
    first use. Every SQLite error is an eventsourcing `PersistenceError` naming the database.
    Refuses use once `lifetime` (its store's) is closed.
    """

    def __init__(self, path: str, lifetime: Lifetime | None = None) -> None:
        self.path = path
        self._lifetime = lifetime or Lifetime(f"status view {path}")
        self._connections = _Connections()
        if os.path.exists(path):
            with self._errors():
                self._db()  # a damaged or newer database is refused now, not mid-query

    def position(self) -> int:
        with self._errors():
            return _value(self._db(), "position")

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        """Hold `<database>.lock` (fcntl, and a thread lock), if free: one updater per host."""
        with self._errors():
            lock = self._updater_lock()
        with lock.tried() as mine:
            yield mine

    def await_updater(self) -> None:
        with self._errors():
            self._updater_lock().await_free()

    def load(
        self, job_id: UUID, components: Collection[str]
    ) -> tuple[JobRow | None, list[ComponentRow]]:
        key = str(job_id)
        with self._transaction("DEFERRED") as db:
            found = _job_row(db, key)
            rows = []
            for names in _chunks(list(components)):
                sql = f"SELECT ordinal, row FROM components WHERE job_id = ? AND name {_in(names)}"
                rows += db.execute(sql, (key, *names)).fetchall()
        with self._errors():
            by_name = {r.status.name: r for r in (_component(job_id, *row) for row in rows)}
            return (
                None if found is None else _job(*found),
                [by_name[n] for n in components if n in by_name],
            )

    def snapshot(self, job_id: UUID) -> tuple[JobRow | None, list[ComponentRow]]:
        key = str(job_id)
        with self._transaction("DEFERRED") as db:
            job = _job_row(db, key)
            sql = "SELECT ordinal, row FROM components WHERE job_id = ? ORDER BY ordinal"
            rows = db.execute(sql, (key,)).fetchall()
        with self._errors():
            return None if job is None else _job(*job), [_component(job_id, *r) for r in rows]

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        job_rows = [_job_values(job) for job in jobs]
        component_rows = [_component_values(row) for row in components]
        with self._writing() as db:
            position = _value(db, "position")
            if position != since:
                raise IntegrityError(f"status view {self.path} is at {position}, not {since}")
            db.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)", job_rows)
            db.executemany(
                "INSERT OR REPLACE INTO components VALUES (?, ?, ?, ?, ?, ?)", component_rows
            )
            db.execute("UPDATE meta SET value = ? WHERE key = 'position'", (until,))

    def components(self, job_id: UUID, *, after: int, limit: int) -> list[ComponentRow]:
        sql = (
            "SELECT ordinal, row FROM components WHERE job_id = ? AND ordinal > ?"
            " ORDER BY ordinal LIMIT ?"
        )
        with self._errors():
            rows = self._db().execute(sql, (str(job_id), _clamp(after), _clamp(limit)))
            return [_component(job_id, *row) for row in rows]

    def jobs(self, *, status: Status | None, before: int, limit: int) -> list[JobRow]:
        where = "position < ?" + ("" if status is None else " AND overall = ?")
        sql = f"SELECT position, tally FROM jobs WHERE {where} ORDER BY position DESC LIMIT ?"
        wanted = () if status is None else (status.value,)
        with self._errors():
            rows = self._db().execute(sql, (_clamp(before), *wanted, _clamp(limit)))
            return [_job(*row) for row in rows]

    def stale(self, *, before: datetime, limit: int) -> list[ComponentRow]:
        sql = (
            f"SELECT job_id, ordinal, row FROM components WHERE {_ACTIVE} AND updated_at < ?"
            " ORDER BY updated_at, job_id, ordinal LIMIT ?"
        )
        with self._errors():
            rows = self._db().execute(sql, (_micros(before), _clamp(limit)))
            return [_component(UUID(job_id), ordinal, row) for job_id, ordinal, row in rows]

    def delete(self, job_ids: Sequence[UUID]) -> int:
        if not job_ids:
            return 0
        removed = 0
        with self._writing() as db:
            for keys in _chunks(sorted({str(j) for j in job_ids})):
                db.execute(f"DELETE FROM components WHERE job_id {_in(keys)}", keys)
                removed += db.execute(f"DELETE FROM jobs WHERE job_id {_in(keys)}", keys).rowcount
        return removed

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction while this thread holds the updater lock: an updater's run
        holds it already; anyone else waits for the run (whose folded rows would bring back
        the rows of a job deleted meanwhile) and holds it for the block."""
        with self._errors():
            lock = self._updater_lock()
        with lock.held(), self._transaction() as db:
            yield db

    def _updater_lock(self) -> StoreLock:
        self._lifetime.check()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return store_lock(f"{self.path}.lock")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and again in a forked child)."""
        self._lifetime.check()
        local = self._connections
        if local.connection is None or local.pid != os.getpid():
            local.connection, local.pid = self._open(), os.getpid()
        return local.connection

    def _open(self) -> sqlite3.Connection:
        """Connect, creating the database on first use; refuse a newer schema."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            (mode,) = db.execute("PRAGMA journal_mode = DELETE").fetchone()
            if mode != "delete":
                raise sqlite3.OperationalError(f"journal mode is {mode}, not delete")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
                for statement in _SCHEMA:
                    db.execute(statement)
            version = _value(db, "schema_version")
            db.execute("COMMIT")
            if version > SCHEMA_VERSION:
                raise NotSupportedError(
                    f"status view {self.path} has schema version {version}, newer than this "
                    f"jobledger's {SCHEMA_VERSION}: upgrade jobledger, or delete the file"
                )
        except BaseException:
            db.close()  # rolls back an open transaction
            raise
        return db

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection, rolled back if anything raises."""
        with self._errors():
            db = self._db()
            db.execute(f"BEGIN {mode}")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.rollback()
                raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate SQLite, file system and row decoding errors, naming the database."""
        try:
            yield
        except sqlite3.Error as error:
            kind = next((e for s, e in _TRANSLATED if isinstance(error, s)), None)
            if kind is not None:
                raise kind(f"status view {self.path}: {error}") from error
            raise DataError(_damaged(self.path, error)) from error
        except ValidationError as error:
            raise DataError(_damaged(self.path, error)) from error
        except OSError as error:
            raise OperationalError(f"status view {self.path}: {error}") from error


def _value(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise sqlite3.DatabaseError(f"no {key} in the meta table")
    return int(row[0])


def _job_row(db: sqlite3.Connection, key: str) -> tuple[int, str] | None:
    row: tuple[int, str] | None = db.execute(
        "SELECT position, tally FROM jobs WHERE job_id = ?", (key,)
    ).fetchone()
    return row


def _damaged(path: str, error: Exception) -> str:
    return (
        f"status view {path} is damaged ({error}); deleting it is safe: it is rebuilt from the feed"
    )


def _job_values(job: JobRow) -> tuple[object, ...]:
    tally = job.tally
    return str(tally.job_id), job.position, tally.overall.value, tally.model_dump_json()


def _component_values(row: ComponentRow) -> tuple[object, ...]:
    status = row.status
    return (
        str(row.job_id),
        status.name,
        row.ordinal,
        status.status.value,
        _micros(status.updated_at),
        status.model_dump_json(),
    )


def _job(position: int, tally: str) -> JobRow:
    return JobRow(position, Tally.model_validate_json(tally))


def _component(job_id: UUID, ordinal: int, row: str) -> ComponentRow:
    return ComponentRow(job_id, ordinal, ComponentStatus.model_validate_json(row))


def _micros(moment: datetime | None) -> int | None:
    """Microseconds since the epoch (naive times taken as UTC): sortable, unlike ISO text
    in mixed time zones."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _in(values: list[str]) -> str:
    """`IN (?, ...)` for `values`: bound parameters, so names keep every character (NUL too)."""
    return f"IN ({', '.join('?' * len(values))})"


def _clamp(number: int) -> int:
    return max(-_INT64, min(number, _INT64))
