"""Connections for the PostgreSQL store: the pool, the write connection, error translation.

Reads borrow a pooled connection (`connection()`, `fetch()`, `run()`); writes use one
long-lived write connection per process (`write()`, `write_prepared()`). Either way psycopg
errors become eventsourcing's `PersistenceError` tree in one method, `translate()`. Messages
name the host and database; the password never appears in any message, log line or exception
chain.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from typing import TypeVar

import psycopg
import psycopg_pool
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from psycopg import pq, sql
from psycopg.errors import error_from_result
from psycopg.rows import TupleRow

from ..shared import NoSuchStore, pass_logs_on
from .settings import PostgresConfigurationError, PostgresSettings

T = TypeVar("T")

SCHEMA_VERSION = 1
"""Version of the tables this release writes; a database marked newer is refused."""
_SCHEMA_TABLE = "jobledger_schema"

_PERSISTENCE_ERRORS: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.DataError, DataError),
    (psycopg.InternalError, InternalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.DatabaseError, DatabaseError),
)


_UNDEFINED_STATEMENT = b"26000"  # SQLSTATE: no prepared statement of that name.
_SUCCEEDED = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class UnsupportedSchemaVersion(NotSupportedError):
    """The database was written by a newer jobledger; this release must not touch it."""


def load_statements() -> dict[str, str]:
    """Return the named statements of postgres.sql (the text after each `-- name:` line)."""
    text = files(__package__ or "jobledger.adapters.postgres").joinpath("postgres.sql").read_text()
    statements: dict[str, str] = {}
    for chunk in text.split("\n-- name: ")[1:]:
        name, _, body = chunk.partition("\n")
        statements[name.strip()] = body.strip().rstrip(";")
    return statements


@dataclass(frozen=True)
class PreparedStatement:
    """A statement with `$n` parameters, run through libpq's prepared-statement protocol with
    parameters and result in binary: the leanest round trip psycopg offers."""

    text: bytes
    name: bytes = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(self.text, digest_size=8).hexdigest()
        object.__setattr__(self, "name", f"jobledger_{digest}".encode())


@dataclass
class Slot:
    """A connection kept outside the pool for one purpose (writes, advancing a status view),
    used by one thread at a time."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    conn: psycopg.Connection[TupleRow] | None = None
    state: threading.local = field(default_factory=threading.local)
    """What a thread using the connection keeps with it, seen by every user of the slot."""


class PostgresDatastore:
    """A connection pool opened on first use, one more connection kept for writes, and the
    error-translation choke point."""

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.statements = load_statements()
        pass_logs_on("psycopg.pool", "jobledger.postgres")
        self._open_lock = threading.Lock()
        self._opened = False
        self._closed = False
        self._schema_checked = False
        self._slots: dict[str, Slot] = {}
        self._writer = self.slot("write")
        self._connected_in: int | None = None  # The process that opened connections.
        self.pool: psycopg_pool.ConnectionPool[psycopg.Connection[TupleRow]]
        self.pool = psycopg_pool.ConnectionPool(
            settings.conninfo,
            min_size=1,
            max_size=settings.pool_size,
            timeout=settings.pool_timeout,
            open=False,
            configure=_configure,
            name="jobledger",
        )

    def sql(self, name: str, **names: str | sql.Composable) -> bytes:
        """Return the named statement with `{name}` placeholders filled: strings as
        identifiers, composables (such as `sql.Literal`) as they are."""
        parts = {k: sql.Identifier(v) if isinstance(v, str) else v for k, v in names.items()}
        return sql.SQL(self.statements[name]).format(**parts).as_bytes()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """Lend an autocommit connection; psycopg errors leave as `PersistenceError`s."""
        self._check_process()
        if not self._opened:
            self._open()
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout:
            reason = f"no connection within {self.settings.pool_timeout:g} s"
            raise OperationalError(self._cannot_connect(reason)) from None
        except psycopg.Error as error:
            raise self.translate(error) from None

    def write(self, query: bytes, params: Mapping[str, object]) -> TupleRow | None:
        """Run one statement (its own transaction) and return its first row, if any.

        No retry: a dropped connection leaves it unknown whether the statement committed;
        that ambiguity is the caller's to resolve.
        """
        with self._write_connection() as conn:
            cursor = conn.execute(query, params, prepare=True)
            return cursor.fetchone() if cursor.description else None

    def write_prepared(self, statement: PreparedStatement, values: Sequence[bytes]) -> bytes:
        """Like `write`, for the one write every report makes: run `statement` with binary
        `values` and return the first column of its only row, in binary.

        The statement is prepared on a connection the first time it runs there. libpq waits
        for the server without holding the GIL (and without seeing Ctrl-C until it returns).
        """
        formats = [pq.Format.BINARY] * len(values)
        with self._write_connection() as conn:
            pgconn = conn.pgconn
            result = pgconn.exec_prepared(statement.name, values, formats, pq.Format.BINARY)
            if result.error_field(pq.DiagnosticField.SQLSTATE) == _UNDEFINED_STATEMENT:
                _check(conn, pgconn.prepare(statement.name, statement.text))
                result = pgconn.exec_prepared(statement.name, values, formats, pq.Format.BINARY)
            _check(conn, result)
            value = result.get_value(0, 0)
            assert value is not None, "the statement returns one non-null value"
            return value

    def run(self, work: Callable[[psycopg.Connection[TupleRow]], T]) -> T:
        """Run an idempotent read, retrying on another connection if its own was dropped."""
        attempt = 0
        while True:
            lent: psycopg.Connection[TupleRow] | None = None
            try:
                with self.connection() as conn:
                    lent = conn
                    return work(conn)
            except (OperationalError, InterfaceError):
                attempt += 1
                if lent is None or not lent.closed or attempt == 3:
                    raise

    def fetch(self, query: bytes, params: Mapping[str, object]) -> list[TupleRow]:
        """The rows of one idempotent read statement, retried as `run` retries."""
        return self.run(lambda conn: conn.execute(query, params).fetchall())

    def translate(self, error: psycopg.Error) -> PersistenceError:
        """Map a psycopg error to the eventsourcing error of the same meaning."""
        message = str(error)  # The password is never in the conninfo that libpq parses.
        for psycopg_class, persistence_class in _PERSISTENCE_ERRORS:
            if isinstance(error, psycopg_class):
                if persistence_class in (OperationalError, InterfaceError):
                    message = f"PostgreSQL {self.settings.where}: {message}"
                return persistence_class(message)
        return PersistenceError(message)

    def create(self, ddl: list[tuple[str, bytes]], *, create: bool = True) -> None:
        """Make sure the schema version row, the functions and the tables of `ddl` exist:
        each item is a relation and the statement that creates it (and others).

        Looks first, so a role without CREATE on the schema can use tables made ahead; with
        `create=False` a missing table raises `NoSuchStore`. Creates under a transaction-scoped
        advisory lock, so processes starting at once do not race, and runs a statement only if
        its relation is missing: DDL on a table in use would queue behind, and can deadlock
        with, writes in flight. Raises `UnsupportedSchemaVersion` if a newer release wrote
        the database.
        """
        with self.connection() as conn:
            relations = [_SCHEMA_TABLE, *(relation for relation, _ in ddl)]
            missing = [r for r in relations if not self._exists(conn, r)]
            if not missing:
                if not self._schema_checked:
                    self._check_version(conn)
                self._schema_checked = True
                return
        if not create:
            raise NoSuchStore(
                f"no jobledger tables ({', '.join(missing)}) in PostgreSQL {self.settings.where}:"
                " create them with `jobledger init` (see docs/adapters.md)"
            )
        with self.connection() as conn, conn.transaction():
            try:
                self._create(conn, ddl)
            except psycopg.errors.InsufficientPrivilege as error:
                raise ProgrammingError(
                    f"PostgreSQL {self.settings.where}: {str(error).strip()}: creating jobledger's"
                    " tables needs the CREATE privilege on the schema; run `jobledger init` as a"
                    " role that has it, or GRANT CREATE ON SCHEMA to this role"
                ) from None
        self._schema_checked = True

    def _create(self, conn: psycopg.Connection[TupleRow], ddl: list[tuple[str, bytes]]) -> None:
        conn.execute(self.statements["lock_schema"])
        if not self._exists(conn, _SCHEMA_TABLE):
            conn.execute(self.statements["create_schema_table"])
        if not self._schema_checked and self._check_version(conn) is None:
            conn.execute(self.statements["create_functions"])
            conn.execute(self.statements["insert_schema_version"], {"version": SCHEMA_VERSION})
        for relation, statement in ddl:
            if not self._exists(conn, relation):
                conn.execute(statement)

    def _exists(self, conn: psycopg.Connection[TupleRow], relation: str) -> bool:
        row = conn.execute(self.statements["relation_exists"], {"name": relation}).fetchone()
        return bool(row and row[0])

    def _check_version(self, conn: psycopg.Connection[TupleRow]) -> int | None:
        """The schema version the database holds, if any; refuses one newer than this."""
        row = conn.execute(self.statements["select_schema_version"]).fetchone()
        if row is not None and int(str(row[0])) > SCHEMA_VERSION:
            msg = (
                f"PostgreSQL {self.settings.where} holds jobledger schema version {row[0]}, "
                f"newer than version {SCHEMA_VERSION} supported by this release: upgrade "
                "jobledger to use it"
            )
            raise UnsupportedSchemaVersion(msg)
        return None if row is None else int(str(row[0]))

    def close(self) -> None:
        """Close the pool, every connection in it and the write connection; every later use
        raises `InterfaceError`. Closing again does nothing."""
        self._closed = True
        for slot in self._slots.values():
            with slot.lock:
                if slot.conn is not None:
                    slot.conn.close()
                    slot.conn = None
        self.pool.close()

    def slot(self, purpose: str) -> Slot:
        """The connection slot outside the pool for `purpose` (see `held`), one per
        datastore, closed with it."""
        with self._open_lock:
            return self._slots.setdefault(purpose, Slot())

    @contextmanager
    def held(
        self, slot: Slot, *, wait: bool = False
    ) -> Iterator[psycopg.Connection[TupleRow] | None]:
        """The connection of `slot` for the block (opened, or opened again if the server
        ended its session), or None if another thread is using it (unless `wait`: then once
        it is free); psycopg errors leave as `PersistenceError`s."""
        self._check_process()
        if not slot.lock.acquire(blocking=wait):
            yield None
            return
        try:
            if slot.conn is None or _ended_by_server(slot.conn):
                slot.conn = self._connect()
            yield slot.conn
        except psycopg.Error as error:
            raise self.translate(error) from None
        finally:
            slot.lock.release()

    @contextmanager
    def _write_connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """The write connection if no other thread is using it, else one from the pool: a
        worker writing from one thread never goes through the pool's checkout, and no
        thread waits for another."""
        with self.held(self._writer) as writer:
            if writer is not None:
                yield writer
                return
        with self.connection() as conn:
            yield conn

    def _connect(self) -> psycopg.Connection[TupleRow]:
        """A new connection, configured as the pool's are (autocommit)."""
        self._connected_in = os.getpid()
        try:
            conn = psycopg.connect(self.settings.conninfo)
            _configure(conn)
        except psycopg.Error as error:
            reason = str(error) or type(error).__name__
            raise OperationalError(self._cannot_connect(reason)) from None
        return conn

    def _open(self) -> None:
        if self._opened:
            return
        with self._open_lock:
            if self._opened:
                return
            # Fail fast, with libpq's reason, rather than wait for the pool's timeout; the
            # connection this takes then serves as the write connection.
            self._keep_as_writer(self._connect())
            self.pool.open()
            self._opened = True

    def _keep_as_writer(self, conn: psycopg.Connection[TupleRow]) -> None:
        """Make `conn` the write connection if there is none and no thread is writing;
        close it otherwise."""
        if self._writer.lock.acquire(blocking=False):
            try:
                if self._writer.conn is None:
                    self._writer.conn = conn
                    return
            finally:
                self._writer.lock.release()
        conn.close()

    def _check_process(self) -> None:
        """Refuse use once closed, and from a forked child: it would share the parent's
        connections, and a session carrying two processes' statements corrupts both."""
        if self._closed:
            raise InterfaceError(f"the PostgreSQL store ({self.settings.where}) is closed")
        if self._connected_in not in (None, os.getpid()):
            msg = (
                f"this PostgreSQL store was opened in process {self._connected_in} and cannot "
                f"be used in process {os.getpid()}, which would share its connections: open "
                "the store (the Tracker) in each process, after forking"
            )
            raise PostgresConfigurationError(msg)

    def _cannot_connect(self, reason: str) -> str:
        return f"cannot connect to PostgreSQL {self.settings.where}: {reason}"


def _ended_by_server(conn: psycopg.Connection[TupleRow]) -> bool:
    """Whether this idle session is over (a restart or an idle timeout ended it, or a write
    on it failed): reads what the server sent, then the end of the stream, without waiting,
    so that no write fails on a session already gone."""
    try:
        conn.pgconn.consume_input()  # Its goodbye message, if any...
        conn.pgconn.consume_input()  # ...then the closed socket.
    except psycopg.OperationalError:
        pass
    ended = conn.closed
    if ended:
        conn.close()  # Frees what is left of it.
    return ended


def _check(conn: psycopg.Connection[TupleRow], result: pq.abc.PGresult) -> None:
    """Raise the psycopg error a libpq result reports, if any."""
    if result.status in _SUCCEEDED:
        return
    if conn.pgconn.status != pq.ConnStatus.OK:
        message = conn.pgconn.error_message.decode(errors="replace")  # The connection was lost.
        raise psycopg.OperationalError(message or "the connection to the server was lost")
    raise error_from_result(result, encoding=conn.info.encoding)


def _configure(conn: psycopg.Connection[TupleRow]) -> None:
    conn.autocommit = True
    # The feed horizon needs a fresh snapshot per statement.
    conn.execute("SET default_transaction_isolation TO 'read committed'")
