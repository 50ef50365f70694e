"""PostgreSQL store: an eventsourcing persistence module on psycopg 3, without write locks.

Select it with `PERSISTENCE_MODULE=jobledger.adapters.postgres` and a libpq URI in
`JOBLEDGER_POSTGRES_URL`. Writers to different streams never wait for each other's commit;
readers of the feed never skip a position that commits later (see feed.py).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TypeVar

if find_spec("psycopg") is None or find_spec("psycopg_pool") is None:
    raise ImportError("the PostgreSQL store needs psycopg: pip install 'jobledger[postgres]'")

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, strtobool

from ...application.ports import StatusView
from ..shared import recorder_class
from .datastore import PostgresDatastore
from .recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresRecorder,
)
from .settings import URL_KEY, PostgresConfigurationError, PostgresSettings
from .settings import environment_for as environment_for
from .tracking import PostgresProcessRecorder, PostgresTrackingRecorder
from .view import PostgresStatusView

__all__ = [
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresFactory",
    "PostgresProcessRecorder",
    "PostgresStatusView",
    "PostgresTrackingRecorder",
]

R = TypeVar("R", bound=PostgresRecorder)


class PostgresFactory(InfrastructureFactory[PostgresTrackingRecorder]):
    """Builds the recorders from the environment; all of them share one connection pool and
    one write connection.

    `JOBLEDGER_POSTGRES_URL` is a libpq URI; the store's own query keys `pool_size`
    (default 5) and `pool_timeout` (seconds, default 30) are removed before libpq sees it.
    `CREATE_TABLE=no` creates no tables: the store's tables must exist.
    """

    POSTGRES_URL = URL_KEY
    CREATE_TABLE = "CREATE_TABLE"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.POSTGRES_URL)
        if not url:
            msg = f"no PostgreSQL store URL in the environment key {self.POSTGRES_URL!r}"
            raise PostgresConfigurationError(msg)
        self.datastore = PostgresDatastore(PostgresSettings.from_url(url))

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """Return a recorder for the `<app>_<purpose>` table (snapshots, usually)."""
        table = f"{self.env.name.lower() or 'stored'}_{purpose}"
        return self._created(PostgresAggregateRecorder(self.datastore, events_table=table))

    def application_recorder(self) -> ApplicationRecorder:
        """Return the recorder of the application's events and feed."""
        chosen = recorder_class(
            self.env, self.APPLICATION_RECORDER_TOPIC, PostgresApplicationRecorder
        )
        return self._created(chosen(self.datastore, events_table=self._events_table()))

    def tracking_recorder(
        self, tracking_recorder_class: type[PostgresTrackingRecorder] | None = None
    ) -> PostgresTrackingRecorder:
        """Return a recorder of the `<app>_tracking` table."""
        chosen = recorder_class(
            self.env,
            self.TRACKING_RECORDER_TOPIC,
            PostgresTrackingRecorder,
            tracking_recorder_class,
        )
        recorder = chosen(self.datastore, tracking_table=self._tracking_table())
        return self._created(recorder)

    def process_recorder(self) -> ProcessRecorder:
        """Return a recorder of events plus tracking, written together."""
        chosen = recorder_class(self.env, self.PROCESS_RECORDER_TOPIC, PostgresProcessRecorder)
        recorder = chosen(
            self.datastore,
            events_table=self._events_table(),
            tracking_table=self._tracking_table(),
        )
        return self._created(recorder)

    def status_view(self) -> StatusView:
        """Return the status view kept in `<app>_view_*` tables, sharing the pool."""
        prefix = self.env.name.lower() or "stored"
        return self._created(PostgresStatusView(self.datastore, prefix=prefix))

    def close(self) -> None:
        """Close the connection pool and the write connection."""
        self.datastore.close()

    def _events_table(self) -> str:
        return f"{self.env.name.lower() or 'stored'}_events"

    def _tracking_table(self) -> str:
        return f"{self.env.name.lower() or 'notification'}_tracking"

    def _created(self, recorder: R) -> R:
        recorder.create_table(create=strtobool(self.env.get(self.CREATE_TABLE) or "yes"))
        return recorder
