"""The PostgreSQL store's status view: job and component rows in tables next to the events.

One updater at a time advances the view: it holds a transaction-scoped advisory lock, in a
transaction on a connection kept for it, while it reads, folds and commits batches, each in a
transaction of its own on a pooled connection that moves the position row from `since` to
`until` (a position that moved rolls the batch back) and sends one NOTIFY. Other queries wait
for it rather than fold the same events again; reporters never wait for any of it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import DataError, IntegrityError, OperationalError, ProgrammingError
from psycopg import Connection
from psycopg.rows import TupleRow

from ...application.ports import ComponentRow, JobRow, StatusView
from ...domain.component import ComponentStatus
from ...domain.projection import Tally
from ...domain.status import Status
from .datastore import PostgresDatastore, Slot
from .progress import listener
from .recorders import PostgresRecorder, check_identifier, quoted

_STATEMENTS = (
    "select_view_position",
    "lock_view",
    "try_lock_view",
    "await_view_lock",
    "commit_view_batch",
    "copy_view_components",
    "select_view_named",
    "select_view_snapshot",
    "select_view_components",
    "select_view_jobs",
    "select_view_jobs_by_status",
    "select_view_stale",
    "delete_view_components",
    "delete_view_jobs",
)


class PostgresStatusView(PostgresRecorder, StatusView):
    """The status view in `<prefix>_view_position`, `<prefix>_view_jobs` and
    `<prefix>_view_components`, sharing the store's connection pool."""

    def __init__(self, datastore: PostgresDatastore, *, prefix: str = "stored") -> None:
        super().__init__(datastore)
        tables = {name: f"{prefix}_view_{name}" for name in ("position", "jobs", "components")}
        indexes = {
            name: f"{prefix}_view_{name}"
            for name in (
                "jobs_position_idx",
                "jobs_overall_idx",
                "components_ordinal_idx",
                "components_stale_idx",
            )
        }
        for name in [*tables.values(), *indexes.values()]:
            check_identifier(name)
        self._sql_create = datastore.sql("create_view_tables", **tables, **indexes)
        self._sql = {name: datastore.sql(name, **tables) for name in _STATEMENTS}
        self._position_table = quoted(tables["position"])
        self.channel = tables["position"]
        digest = hashlib.blake2b(self.channel.encode(), digest_size=8).digest()
        self._lock = {"key": int.from_bytes(digest, "big", signed=True)}
        # Shared by every view of the datastore: its `state.holder` is the kept connection
        # while this thread holds the lock (`advancing`).
        self._updater: Slot = datastore.slot(f"advance {self.channel}")

    def ddl(self) -> list[tuple[str, bytes]]:
        """The view's tables and its position row, with the statement creating them."""
        return [*super().ddl(), (self._position_table, self._sql_create)]

    def position(self) -> int:
        """The feed position of the last event applied (0 before any)."""
        row = self.datastore.run(
            lambda conn: conn.execute(self._sql["select_view_position"]).fetchone()
        )
        if row is None:
            raise ProgrammingError("the status view has no position row: were its tables created?")
        return cast("int", row[0])

    def load(
        self, job_id: UUID, components: Collection[str]
    ) -> tuple[JobRow | None, list[ComponentRow]]:
        """The job's row (None if unknown) and the rows of those named components it has."""
        names = [name.encode() for name in components]
        params = {"job_id": job_id, "names": names}
        found = self.datastore.run(
            lambda conn: conn.execute(
                self._sql["select_view_named"], params, binary=True
            ).fetchall()
        )
        job, named = _job_first(found)
        by_name = {
            bytes(name): _component(job_id, ordinal, state) for ordinal, _, name, state in named
        }
        return job, [by_name[name] for name in names if name in by_name]

    def snapshot(self, job_id: UUID) -> tuple[JobRow | None, list[ComponentRow]]:
        """The job's row (None if unknown) and all its component rows in declared order,
        read in one statement (so from one snapshot)."""
        params = {"job_id": job_id}
        found = self.datastore.fetch(self._sql["select_view_snapshot"], params)
        job, components = _job_first(found)
        return job, [_component(job_id, ordinal, state) for ordinal, _, state in components]

    @contextmanager
    def advancing(self) -> Iterator[bool]:
        """Hold the view's advisory lock, if free, in a transaction on a connection kept for
        it outside the pool (which the batches' reads and commits use): one per process, so
        one thread of a process tries at a time. `commit` holds it on the thread that
        entered the block."""
        with self._holding(wait=False) as mine:
            yield mine

    def await_updater(self) -> None:
        """Wait until the updater holding the view's lock ends its run: on the connection
        `advancing` uses, so that waiters never take the pool the updater reads through (one
        thread of a process waits there, the others for that thread)."""
        with self.datastore.held(self._updater, wait=True) as conn:
            assert conn is not None, "held(wait=True) always lends the connection"
            conn.execute(self._sql["await_view_lock"], self._lock)

    def watch(self, callback: Callable[[], None]) -> bool:
        """Call `callback` on every NOTIFY of a committed batch (one listening connection
        and thread per process, started on first use)."""
        listener(self.datastore, self.channel).add(callback)
        return True

    def commit(
        self, since: int, until: int, jobs: Sequence[JobRow], components: Sequence[ComponentRow]
    ) -> None:
        """Upsert the rows (one per job and per component), move the position from `since`
        to `until` and notify, in one transaction. The component rows of a job created in the
        batch (its creation after `since`) cannot exist yet: they are copied in (COPY),
        several times cheaper than an upsert for a job declaring many components.

        Raises `IntegrityError` (and changes nothing) if the position is no longer `since`.
        """
        created = {job.tally.job_id for job in jobs if job.position > since}
        copied = [row for row in components if row.job_id in created] if created else []
        upserted = (
            [row for row in components if row.job_id not in created] if copied else components
        )
        params = {
            "since": since,
            "until": until,
            "channel": self.channel,
            **_job_columns(jobs),
            **_component_columns(upserted),
        }
        with self._committing() as conn:
            row = conn.execute(self._sql["commit_view_batch"], params).fetchone()
            if not row or row[0] != 1:
                found = conn.execute(self._sql["select_view_position"]).fetchone()
                now = "none" if found is None else found[0]
                raise IntegrityError(f"status view is at position {now}, not {since}")
            if copied:
                self._copy(conn, copied)

    def _copy(self, conn: Connection[TupleRow], components: Sequence[ComponentRow]) -> None:
        rows = _component_values(components)
        values: tuple[Any, ...] = ()  # the row being copied
        try:
            with conn.cursor().copy(self._sql["copy_view_components"]) as copy:
                copy.set_types(_COMPONENT_TYPES)
                for values in rows:
                    copy.write_row(values)
        except (OverflowError, ValueError, TypeError, struct.error) as error:  # encoding a row
            job_id, name = values[:2]
            where = f"component {name.decode()!r} of job {job_id}"
            raise DataError(
                f"cannot copy the row of {where} into the status view: {error}"
            ) from None
        except psycopg.errors.UniqueViolation as error:  # rows of a job not yet created: a bug
            detail = error.diag.message_detail or error
            raise DataError(f"status view rows exist before their job: {detail}") from None

    def components(self, job_id: UUID, *, after: int, limit: int) -> list[ComponentRow]:
        """Up to `limit` component rows of a job with ordinal above `after`, in order."""
        params = {"job_id": job_id, "after": after, "limit": limit}
        found = self.datastore.fetch(self._sql["select_view_components"], params)
        return [_component(job_id, ordinal, state) for ordinal, state in found]

    def jobs(self, *, status: Status | None, before: int, limit: int) -> list[JobRow]:
        """Up to `limit` job rows created at feed positions below `before`, newest first,
        only those whose overall status is `status` if given."""
        query = self._sql["select_view_jobs" if status is None else "select_view_jobs_by_status"]
        params = {
            "before": before,
            "limit": limit,
            "status": None if status is None else status.value,
        }
        found = self.datastore.fetch(query, params)
        return [_job(row) for row in found]

    def stale(self, *, before: datetime, limit: int) -> list[ComponentRow]:
        """Up to `limit` in-progress or retrying components last updated before `before`,
        oldest first, ties in order of job id (as text) and declared order."""
        params = {"before": before, "limit": limit}
        found = self.datastore.fetch(self._sql["select_view_stale"], params)
        return [_component(job_id, ordinal, state) for job_id, ordinal, state in found]

    def delete(self, job_ids: Sequence[UUID]) -> int:
        """Remove the rows of these jobs in one transaction, once no updater's run is under
        way (a run's folded rows would bring them back)."""
        if not job_ids:
            return 0
        params = {"job_ids": list(job_ids)}
        with self._committing() as conn:
            conn.execute(self._sql["delete_view_components"], params)
            return conn.execute(self._sql["delete_view_jobs"], params).rowcount

    @contextmanager
    def _holding(self, *, wait: bool) -> Iterator[bool]:
        """Hold the view's lock on the kept connection (waiting for it, or only if free) in a
        transaction that no idle timeout of the server's ends; yield whether it is held."""
        with self.datastore.held(self._updater, wait=wait) as conn:
            if conn is None:
                yield False
                return
            with conn.transaction():
                sql = self._sql["lock_view" if wait else "try_lock_view"]
                row = conn.execute(sql, self._lock).fetchone()
                mine = bool(row and row[0])
                self._updater.state.holder = conn if mine else None
                try:
                    yield mine
                finally:
                    self._updater.state.holder = None

    @contextmanager
    def _committing(self) -> Iterator[Connection[TupleRow]]:
        """A pooled connection in a transaction of its own, while this thread holds the
        view's lock: in `advancing`, whose transaction holds it for the whole run (each batch
        is seen once committed), checked first to be still held (a session ended by the
        server or a pooler lets go of it); else held for the block, waited for on the kept
        connection, never on a pooled one (an updater's run needs the pool to finish)."""
        holder: Connection[TupleRow] | None = getattr(self._updater.state, "holder", None)
        if holder is None:
            with self._holding(wait=True), self._committing() as conn:
                yield conn
            return
        try:
            row = holder.execute(self._sql["try_lock_view"], self._lock).fetchone()
        except psycopg.Error as error:
            raise self.datastore.translate(error) from None
        if not (row and row[0]):  # Re-entrant: only a new session can fail to get it.
            raise OperationalError("the status view's updater lost its lock; nothing committed")
        with self.datastore.connection() as conn, conn.transaction():
            yield conn


def _job_first(found: list[TupleRow]) -> tuple[JobRow | None, list[TupleRow]]:
    """The rows of a statement returning the job's row first (no ordinal; its position
    second, its tally last), then component rows: the job (None if unknown) and those."""
    if not found or found[0][0] is not None:
        return None, []
    job, *components = found
    return _job((job[1], job[-1])), components


def _job(row: TupleRow) -> JobRow:
    return JobRow(cast("int", row[0]), Tally.model_validate_json(cast("str", row[1])))


def _component(job_id: UUID, ordinal: int, state: str) -> ComponentRow:
    return ComponentRow(job_id, ordinal, ComponentStatus.model_validate_json(state))


def _job_columns(jobs: Sequence[JobRow]) -> dict[str, list[object]]:
    dump = Tally.__pydantic_serializer__.to_json
    return {
        "job_ids": [job.tally.job_id for job in jobs],
        "positions": [job.position for job in jobs],
        "overalls": [job.tally.overall.value for job in jobs],
        "tallies": [dump(job.tally).decode() for job in jobs],
    }


_COMPONENT_COLUMNS = ("component_job_ids", "names", "ordinals", "statuses", "updated", "states")
"""The values of `_component_values`, in order, as `commit_view_batch` names its arrays."""
_COMPONENT_TYPES = ["uuid", "bytea", "int8", "text", "timestamptz", "text"]
"""Their types, as `copy_view_components` takes them."""


def _component_values(components: Sequence[ComponentRow]) -> list[tuple[object, ...]]:
    """Each row as the values of `_COMPONENT_COLUMNS` (the updater's hottest loop), its state
    as JSON."""
    dump = ComponentStatus.__pydantic_serializer__.to_json
    return [
        (
            row.job_id,
            row.status.name.encode(),
            row.ordinal,
            row.status.status.value,
            row.status.updated_at,
            dump(row.status).decode(),
        )
        for row in components
    ]


def _component_columns(components: Sequence[ComponentRow]) -> dict[str, list[object]]:
    """The rows as the array parameters of `commit_view_batch`."""
    columns = zip(*_component_values(components), strict=True) if components else [()] * 6
    return {key: list(column) for key, column in zip(_COMPONENT_COLUMNS, columns, strict=True)}
