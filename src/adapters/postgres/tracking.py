"""Recorders of the PostgreSQL store for tracking positions, alone and with events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from eventsourcing.persistence import (
    IntegrityError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from psycopg import Connection
from psycopg.rows import TupleRow

from .datastore import PostgresDatastore
from .recorders import (
    PostgresApplicationRecorder,
    PostgresRecorder,
    check_identifier,
    positions,
    quoted,
)


class PostgresTrackingRecorder(PostgresRecorder, TrackingRecorder):
    """Records, per upstream application, the highest feed position processed."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table: str = "notification_tracking",
        **tables: str,
    ) -> None:
        super().__init__(datastore, **tables)
        check_identifier(tracking_table)
        self._tracking_table = tracking_table
        self._sql_create_tracking = datastore.sql("create_tracking_table", tracking=tracking_table)
        self._sql_insert_tracking = datastore.sql("insert_tracking", tracking=tracking_table)
        self._sql_max_tracking = datastore.sql("max_tracking_id", tracking=tracking_table)

    def ddl(self) -> list[tuple[str, bytes]]:
        """This recorder's tables, with the statements creating them."""
        return [*super().ddl(), (quoted(self._tracking_table), self._sql_create_tracking)]

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position; one not above the recorded one raises `IntegrityError`."""
        with self.datastore.connection() as conn:
            self._insert_tracking(conn, tracking)

    def _insert_tracking(self, conn: Connection[TupleRow], tracking: Tracking) -> None:
        params = {
            "application_name": tracking.application_name,
            "notification_id": tracking.notification_id,
        }
        if conn.execute(self._sql_insert_tracking, params).fetchone() is None:
            msg = (
                f"tracking position {tracking.notification_id} of "
                f"{tracking.application_name!r} is not above the one already recorded"
            )
            raise IntegrityError(msg)

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the highest position recorded for `application_name`, or None."""
        params = {"application_name": application_name}
        row = self.datastore.run(
            lambda conn: conn.execute(self._sql_max_tracking, params).fetchone()
        )
        return cast("int", row[0]) if row else None


class PostgresProcessRecorder(
    PostgresTrackingRecorder, PostgresApplicationRecorder, ProcessRecorder
):
    """Records events and the upstream position they were made from in one transaction."""

    def _insert(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return super()._insert(stored_events)
        with self.datastore.connection() as conn, conn.transaction():
            self._insert_tracking(conn, tracking)
            if not stored_events:
                return []
            query, params = self._insert_many(stored_events)
            return positions(conn.execute(query, params).fetchone())
