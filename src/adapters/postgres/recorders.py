"""Recorders of the PostgreSQL store for events: per stream, and with the gap-safe feed.

Writes are one statement each (one round trip, one transaction) and take no lock held to
commit; reads of the feed return only positions known final (see feed.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)
from psycopg import Connection, sql
from psycopg.rows import TupleRow

from ...application.ports import FeedRow, FeedRowsRecorder, MultiStreamRecorder, PrunableRecorder
from ..shared import LocalSubscription, Wakeups, first_position
from .datastore import PostgresDatastore, PreparedStatement
from .feed import FeedHorizon

POLL_INTERVAL = 0.1
"""Seconds between looks for events other processes recorded (there is no NOTIFY)."""

SETTLE_TIMEOUT = 30.0
"""Seconds `max_notification_id` waits for positions in flight to be decided."""

_MAX_IDENTIFIER = 63


class PostgresRecorder:
    """Base of the recorders: a shared datastore and the tables a recorder needs."""

    def __init__(self, datastore: PostgresDatastore, **tables: str) -> None:
        self.datastore = datastore

    def ddl(self) -> list[tuple[str, bytes]]:
        """This recorder's tables: a (quoted) relation each, with the statement creating it
        and its companions in one transaction."""
        return []

    def create_table(self, *, create: bool = True) -> None:
        """Create the tables if they do not exist (safe when processes start at once); with
        `create=False` only check that they do."""
        self.datastore.create(self.ddl(), create=create)


class PostgresAggregateRecorder(PostgresRecorder, AggregateRecorder):
    """Stores events per stream (used for snapshots); no feed positions."""

    _create_statement = "create_snapshots_table"

    def __init__(
        self, datastore: PostgresDatastore, *, events_table: str = "stored_events", **tables: str
    ) -> None:
        super().__init__(datastore, **tables)
        sequence = f"{events_table}_id_seq"
        check_identifier(sequence)
        self.events_table = events_table
        self._sequence = quoted(sequence)  # For a regclass parameter.
        self._sql_create = datastore.sql(
            self._create_statement,
            events=events_table,
            sequence=sequence,
            index=f"{events_table}_id_idx",
        )
        self._sql_insert = datastore.sql("insert_snapshots", events=events_table)
        self._sql_select = datastore.sql("select_events", events=events_table)

    def ddl(self) -> list[tuple[str, bytes]]:
        """This recorder's tables, with the statements creating them."""
        return [*super().ddl(), (quoted(self.events_table), self._sql_create)]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events atomically; a taken (stream, version) raises `IntegrityError`."""
        if stored_events:
            self.datastore.write(self._sql_insert, _columns(stored_events))
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """Return a stream's events in version order (newest first if `desc`)."""
        query = self._sql_select
        params = {"id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        if gt is not None:
            query += b" AND originator_version > %(gt)s"
        if lte is not None:
            query += b" AND originator_version <= %(lte)s"
        query += b" ORDER BY originator_version"
        if desc:
            query += b" DESC"
        if limit is not None:
            query += b" LIMIT %(limit)s"
        rows = self.datastore.fetch(query, params)
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in rows]


class PostgresApplicationRecorder(
    PostgresAggregateRecorder,
    ApplicationRecorder,
    PrunableRecorder,
    MultiStreamRecorder,
    FeedRowsRecorder,
):
    """Stores events with feed positions, serves the gap-safe feed, deletes whole streams."""

    _create_statement = "create_events_table"

    def __init__(self, datastore: PostgresDatastore, **tables: str) -> None:
        super().__init__(datastore, **tables)
        events = self.events_table
        self._sql_insert = datastore.sql("insert_events", events=events)
        self._sql_insert_one = PreparedStatement(
            datastore.sql("insert_event", events=events, sequence=sql.Literal(self._sequence))
        )
        self._sql_horizon = datastore.sql("feed_horizon")
        self._sql_dense = datastore.sql("dense_upto", events=events)
        self._sql_notifications = datastore.sql("select_notifications", events=events)
        self._sql_max = datastore.sql("max_notification_id", events=events)
        self._sql_delete = datastore.sql("delete_streams", events=events)
        self._sql_streams = datastore.sql("select_streams", events=events)
        self._horizon = FeedHorizon()
        self._wakeups = Wakeups()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert atomically in one statement; return the events' feed positions in order.

        A multi-event call's positions are contiguous among multi-event calls; a failed
        insert leaves a hole for good. If the connection drops, `OperationalError` is raised
        and the insert happened wholly or not at all.
        """
        notification_ids = self._insert(stored_events, **kwargs)
        self._wakeups.wake_all()
        return notification_ids

    def _insert(self, stored_events: Sequence[StoredEvent], **_: Any) -> list[int]:
        if not stored_events:
            return []
        if len(stored_events) == 1:
            return [self._insert_one(stored_events[0])]
        return positions(self.datastore.write(*self._insert_many(stored_events)))

    def _insert_one(self, stored: StoredEvent) -> int:
        """Insert one event, what every report does, in the leanest round trip there is."""
        stream = stored.originator_id
        values = [
            (stream if isinstance(stream, UUID) else UUID(stream)).bytes,
            stored.originator_version.to_bytes(8, "big", signed=True),
            stored.topic.encode(),
            stored.state,
        ]
        position = self.datastore.write_prepared(self._sql_insert_one, values)
        return int.from_bytes(position, "big", signed=True)

    def _insert_many(self, stored_events: Sequence[StoredEvent]) -> tuple[bytes, dict[str, object]]:
        """The statement inserting events in one go, their positions contiguous."""
        params = {"sequence": self._sequence, "count": len(stored_events)}
        return self._sql_insert, params | _columns(stored_events)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Return up to `limit` events from the feed, only from positions known final.

        Stops short of any position whose transaction may still commit, so a follower that
        resumes after the last position returned never misses an event.
        """
        after = first_position(start, inclusive_of_start) - 1
        rows = self.select_feed_rows(after=after, limit=limit, topics=topics, until=stop)
        return [_notification(row) for row in rows]

    def select_feed_rows(
        self, *, after: int, limit: int, topics: Sequence[str], until: int | None
    ) -> list[FeedRow]:
        """The rows `select_notifications` returns as notifications, as fetched."""

        def read(conn: Connection[TupleRow]) -> list[TupleRow]:
            upto = self._readable_upto(conn, after, until)
            if upto <= after:
                return []
            params = {"after": after, "upto": upto, "limit": limit, "topics": list(topics) or None}
            # Binary results: no hex decoding of the states.
            return conn.execute(self._sql_notifications, params, binary=True).fetchall()

        return cast("list[FeedRow]", self.datastore.run(read))

    def max_notification_id(self) -> int | None:
        """Return the highest feed position holding an event among those taken before the
        call, once every position up to it is final: waits (briefly, for the transactions in
        flight when it was called) so that whatever was acknowledged before it can be read.
        Raises `OperationalError` if positions stay undecided for `SETTLE_TIMEOUT` seconds."""

        def read(conn: Connection[TupleRow]) -> int | None:
            upto = self._settled(conn)
            row = conn.execute(self._sql_max, {"upto": upto}).fetchone()
            return cast("int | None", row[0]) if row else None

        return self.datastore.run(read)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        """Follow the feed after position `gt`, polling every `POLL_INTERVAL` seconds."""
        return LocalSubscription(self, self._wakeups, gt=gt, topics=topics, poll=POLL_INTERVAL)

    def select_streams(self, originator_ids: Sequence[UUID]) -> Sequence[Notification]:
        """Every event of these streams in feed order, read through the primary key.

        Unlike the feed, this does not wait for positions still undecided: an event that
        commits later with a lower position may be missing now and show up in its place later.
        """
        params = {"ids": list(originator_ids)}
        rows = self.datastore.fetch(self._sql_streams, params)
        return [_notification(row) for row in rows]

    def delete_streams(self, originator_ids: Sequence[UUID]) -> None:
        """Delete every event of the given streams in one statement: all of them or none."""
        if originator_ids:
            self.datastore.write(self._sql_delete, {"ids": list(originator_ids)})

    def _readable_upto(self, conn: Connection[TupleRow], after: int, stop: int | None) -> int:
        """Highest position a read after `after` may return: all of (after, it] is final."""
        decided = self._horizon.decided
        if stop is not None and stop <= decided:
            return stop
        upto, _ = self._look(conn, after)
        return upto if stop is None else min(upto, stop)

    def _settled(self, conn: Connection[TupleRow]) -> int:
        """The sequence's last value as of now, once every position up to it is final."""
        upto, target = self._look(conn, 0)
        delay, deadline = 0.001, time.monotonic() + SETTLE_TIMEOUT
        while upto < target:
            if time.monotonic() > deadline:
                raise OperationalError(
                    f"feed positions up to {target} of PostgreSQL {self.datastore.settings.where} "
                    f"are still undecided after {SETTLE_TIMEOUT:g} s: a transaction that "
                    "wrote is open somewhere on the server (see pg_stat_activity)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
            upto, _ = self._look(conn, 0)
        return target

    def _look(self, conn: Connection[TupleRow], after: int) -> tuple[int, int]:
        """Read the horizon once: the highest position such that all of (after, it] is known
        final, and the sequence's last value."""
        row = conn.execute(self._sql_horizon, {"sequence": self._sequence}).fetchone()
        last_id, reader_xid, snapshot_xmin, is_clear = cast("tuple[int, int, int, bool]", row)
        decided = self._horizon.observe(last_id, reader_xid, snapshot_xmin, is_clear)
        upto = base = max(decided, after)
        if base < last_id:
            # Positions just above `base` whose rows all exist are final too.
            dense = conn.execute(self._sql_dense, {"base": base, "last": last_id}).fetchone()
            upto = cast("int", dense[0]) if dense else base
            if after <= decided:
                self._horizon.raise_to(upto)
        return upto, last_id


def quoted(name: str) -> str:
    """`name` as an SQL identifier, quoted: what a regclass value must be."""
    return sql.Identifier(name).as_string()


def check_identifier(name: str) -> None:
    """Raise `ProgrammingError` for a name PostgreSQL would silently truncate."""
    if len(name.encode()) > _MAX_IDENTIFIER:
        msg = f"table name too long for PostgreSQL (max {_MAX_IDENTIFIER} bytes): {name!r}"
        raise ProgrammingError(msg)


def positions(row: TupleRow | None) -> list[int]:
    """The feed positions an insert statement returned: one, or an array of them."""
    if row is None:
        return []
    returned = cast("int | list[int]", row[0])
    return list(returned) if isinstance(returned, list) else [returned]


def _columns(stored_events: Sequence[StoredEvent]) -> dict[str, list[Any]]:
    return {
        "ids": [event.originator_id for event in stored_events],
        "versions": [event.originator_version for event in stored_events],
        "topics": [event.topic for event in stored_events],
        "states": [event.state for event in stored_events],
    }


def _notification(row: FeedRow) -> Notification:
    position, stream, version, topic, state = row
    return Notification(
        id=position, originator_id=stream, originator_version=version, topic=topic, state=state
    )
