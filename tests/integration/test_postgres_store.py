"""The PostgreSQL store's own promises: gap-safe feed without locks, schema, faults, input."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)

from jobledger.adapters.postgres import PostgresApplicationRecorder, PostgresFactory
from jobledger.adapters.postgres.datastore import UnsupportedSchemaVersion
from jobledger.adapters.postgres.settings import PostgresConfigurationError


@pytest.fixture
def recorder(postgres_factory: PostgresFactory) -> PostgresApplicationRecorder:
    recorder = postgres_factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    return recorder


def event(stream: UUID | None = None, version: int = 1, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(stream or uuid4(), version, "jobledger.test:Event", state)


class OpenTransaction:
    """Inserts events by the store's write protocol in a transaction left open until told."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)

    def insert(self, *events: StoredEvent) -> list[int]:
        allocate = "SELECT jobledger_allocate_ids('stored_events_id_seq'::regclass, %s)"
        row = self.conn.execute(allocate, (len(events),)).fetchone()
        assert row is not None
        for position, stored in zip(row[0], events, strict=True):
            self.conn.execute(
                "INSERT INTO stored_events (originator_id, originator_version, notification_id,"
                " topic, state) VALUES (%s, %s, %s, %s, %s)",
                (
                    stored.originator_id,
                    stored.originator_version,
                    position,
                    stored.topic,
                    stored.state,
                ),
            )
        return list(row[0])

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.close()


def positions(recorder: PostgresApplicationRecorder, start: int | None = None) -> list[int]:
    return [n.id for n in recorder.select_notifications(start, limit=100)]


def run_in_threads(*calls: Callable[[], object], timeout: float = 10.0) -> list[object]:
    """Run the calls at once; return their results or exceptions; fail if any hangs."""
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a call waited on another"
    return results


def test_feed_waits_for_a_lower_position_still_in_flight(recorder, postgres_database):
    assert recorder.insert_events([event()]) == [1]
    held = OpenTransaction(postgres_database)
    assert held.insert(event()) == [2]
    assert recorder.insert_events([event()]) == [3]
    assert recorder.insert_events([event(), event()]) == [4, 5]

    assert positions(recorder) == [1]
    assert positions(recorder, start=2) == []
    with ThreadPoolExecutor(1) as pool:
        newest = pool.submit(recorder.max_notification_id)  # Waits for position 2's fate.
        time.sleep(0.2)
        assert not newest.done()
        held.commit()
        assert newest.result(timeout=10) == 5
    assert positions(recorder) == [1, 2, 3, 4, 5]


def test_feed_steps_over_rolled_back_positions(recorder, postgres_database):
    held = OpenTransaction(postgres_database)
    assert held.insert(event()) == [1]
    assert recorder.insert_events([event()]) == [2]
    assert positions(recorder) == []
    held.rollback()
    assert positions(recorder) == [2]
    stream = uuid4()
    recorder.insert_events([event(stream)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(), event(stream)])  # Takes 4 and 5, then rolls back.
    assert recorder.insert_events([event()]) == [6]
    assert positions(recorder) == [2, 3, 6]


def test_feed_advances_while_an_unrelated_transaction_stays_open(recorder, postgres_url):
    with psycopg.connect(postgres_url) as other:
        other.execute("CREATE TEMPORARY TABLE busy (x int)")
        other.execute("INSERT INTO busy VALUES (1)")  # Holds a transaction id until rollback.
        recorder.insert_events([event()])
        recorder.insert_events([event(), event()])
        assert positions(recorder) == [1, 2, 3]
        other.rollback()


def test_writers_to_other_streams_do_not_wait_for_an_open_insert(recorder, postgres_database):
    held = OpenTransaction(postgres_database)
    held.insert(event(), event())  # A batch: its allocation lock must already be released.
    try:
        results = run_in_threads(
            lambda: recorder.insert_events([event()]),
            lambda: recorder.insert_events([event(), event()]),
            timeout=5.0,
        )
        assert results in ([[3], [4, 5]], [[5], [3, 4]])
    finally:
        held.rollback()


def test_a_writer_finding_the_write_connection_busy_takes_another(recorder, postgres_database):
    stream = uuid4()
    held = OpenTransaction(postgres_database)
    held.insert(event(stream))
    waiting = threading.Thread(
        target=lambda: _capture(lambda: recorder.insert_events([event(stream)]))
    )
    waiting.start()  # Blocks, on one connection, until `held` ends.
    try:
        deadline = time.monotonic() + 10
        while not _backend_pids(postgres_database, "wait_event_type = 'Lock'"):
            assert time.monotonic() < deadline, "the insert never started waiting"
            time.sleep(0.02)
        [position] = run_in_threads(lambda: recorder.insert_events([event()]), timeout=5.0)
        assert position == [3]
    finally:
        held.rollback()
        waiting.join(10)
    assert [e.originator_version for e in recorder.select_events(stream)] == [1]


def test_same_stream_version_conflict_raises_integrity_error(recorder):
    stream = uuid4()
    recorder.insert_events([event(stream)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(stream)])


def test_concurrent_starts_create_the_schema_once(postgres_database):
    factories = [
        PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database}) for _ in range(6)
    ]
    try:
        results = run_in_threads(*(f.process_recorder for f in factories), timeout=30.0)
        assert not [r for r in results if isinstance(r, Exception)]
    finally:
        for f in factories:
            f.close()
    with psycopg.connect(postgres_database) as conn:
        assert conn.execute("SELECT name, version FROM jobledger_schema").fetchall() == [
            ("jobledger", 1)
        ]


def test_opening_the_store_while_others_write_leaves_their_writes_alone(
    recorder, postgres_database
):
    done = threading.Event()

    def write() -> int:
        count = 0
        while not done.is_set():
            recorder.insert_events([event()])
            count += 1
        return count

    def open_stores() -> None:
        try:
            for _ in range(20):  # New worker processes starting while others report.
                factory = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
                factory.process_recorder()
                factory.close()
        finally:
            done.set()

    *writes, opened = run_in_threads(write, write, open_stores, timeout=60.0)
    assert opened is None
    assert all(isinstance(count, int) and count > 0 for count in writes), writes


def test_a_database_written_by_a_newer_version_is_refused(postgres_factory, postgres_database):
    postgres_factory.application_recorder()
    with psycopg.connect(postgres_database) as conn:
        conn.execute("UPDATE jobledger_schema SET version = 99")
    newer = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
    try:
        with pytest.raises(UnsupportedSchemaVersion, match="version 99") as caught:
            newer.application_recorder()
        assert isinstance(caught.value, PersistenceError)
        assert "upgrade jobledger" in str(caught.value)
    finally:
        newer.close()


def test_server_down_at_start_names_host_and_database_not_password(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://jobs:Secr3t-pw@/jobsdb?host={tmp_path}&port=5999&connect_timeout=2"
    postgres_factory = PostgresFactory({PostgresFactory.POSTGRES_URL: url})
    try:
        with pytest.raises(OperationalError) as caught:
            postgres_factory.application_recorder()
    finally:
        postgres_factory.close()
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "jobsdb" in message
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert "Secr3t-pw" not in everything


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://jobs:Secr3t-pw@localhost/jobs?pool_size=many", "pool_size"),
        ("postgresql://jobs:Secr3t-pw@localhost/jobs?pool_timeout=soon", "'soon'"),
        ("postgresql://jobs:Secr3t-pw@localhost/jobs?colour=blue", 'parameter: "colour"'),
        ("postgresql://jobs:Secr3t-pw%ZZ@localhost/jobs", "invalid percent-encoding"),
        ("postgresql://jobs:Secr3t-pw@[::1/jobs", "IPv6"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_fault_not_the_password(url, named):
    with pytest.raises(PostgresConfigurationError, match=re.escape(named)) as caught:
        PostgresFactory({PostgresFactory.POSTGRES_URL: url})
    assert "Secr3t-pw" not in "".join(traceback.format_exception(caught.value))


def test_url_settings_are_taken_and_hidden_from_libpq(postgres_database):
    url = f"{postgres_database}&pool_size=2&pool_timeout=3&connect_timeout=5"
    postgres_factory = PostgresFactory({PostgresFactory.POSTGRES_URL: url})
    try:
        assert postgres_factory.datastore.pool.max_size == 2
        assert postgres_factory.datastore.pool.timeout == 3
        assert "pool_size" not in postgres_factory.datastore.settings.conninfo
        postgres_factory.application_recorder().insert_events([event()])
    finally:
        postgres_factory.close()


def _backend_pids(url: str, where: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        query = f"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND {where}"
        return [row[0] for row in conn.execute(query)]


@pytest.mark.slow
def test_connection_killed_mid_insert_fails_cleanly_and_the_pool_recovers(
    recorder, postgres_database
):
    stream = uuid4()
    blocker = OpenTransaction(postgres_database)
    blocker.insert(event(stream))  # The recorder's insert of the same key must wait for it.
    outcome: list[object] = []
    writer = threading.Thread(
        target=lambda: outcome.append(_capture(lambda: recorder.insert_events([event(stream)])))
    )
    writer.start()
    deadline = time.monotonic() + 10
    while not (waiting := _backend_pids(postgres_database, "wait_event_type = 'Lock'")):
        assert time.monotonic() < deadline, "the insert never started waiting"
        time.sleep(0.02)
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
    writer.join(10)
    blocker.rollback()
    assert isinstance(outcome[0], OperationalError)
    assert recorder.select_events(stream) == []  # Not recorded at all.
    assert recorder.insert_events([event(stream)]) == [3]  # 2 went to the killed insert.
    assert positions(recorder) == [3]


def test_reads_recover_after_idle_connections_are_killed(recorder, postgres_database):
    recorder.insert_events([event()])
    for pid in _backend_pids(postgres_database, "pid <> pg_backend_pid()"):
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert positions(recorder) == [1]
    assert recorder.insert_events([event()]) == [2]


def test_writes_recover_after_the_idle_write_connection_is_killed(recorder, postgres_database):
    recorder.insert_events([event()])
    for pid in _backend_pids(postgres_database, "pid <> pg_backend_pid()"):
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))  # Waits for it.
    assert recorder.insert_events([event()]) == [2]  # No read in between to notice it.


def test_a_prepared_insert_deallocated_on_the_server_is_prepared_again(recorder):
    recorder.insert_events([event()])
    recorder.datastore.write(b"DEALLOCATE ALL", {})  # As a pooler's DISCARD ALL would.
    assert recorder.insert_events([event()]) == [2]


def _in_forked_child(call: Callable[[], object]) -> str:
    """Run `call` in a forked child; return what it returned or raised, as text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # The child: report, then leave without closing anything of the parent's.
        outcome = _capture(call)
        os.write(write, f"{type(outcome).__name__}: {outcome}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        return pipe.read()


def test_a_store_connected_before_a_fork_refuses_the_child(recorder):
    recorder.insert_events([event()])
    outcome = _in_forked_child(lambda: recorder.insert_events([event()]))
    assert outcome.startswith("PostgresConfigurationError: this PostgreSQL store was opened")
    assert positions(recorder) == [1]  # The parent's connections still work.
    assert recorder.insert_events([event()]) == [2]


def test_a_store_not_yet_connected_works_in_a_forked_child(postgres_database):
    factory = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
    try:
        recorder = factory.application_recorder()  # Creates tables on its own connections.
        assert isinstance(recorder, PostgresApplicationRecorder)
        fresh = PostgresFactory({PostgresFactory.POSTGRES_URL: postgres_database})
        unopened = fresh.application_recorder  # Nothing connected yet in this process.
        outcome = _in_forked_child(lambda: unopened().insert_events([event()]))
        assert outcome == "list: [1]"
    finally:
        factory.close()


def _capture(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as error:
        return error


def test_delete_streams_removes_whole_streams_and_never_reuses_positions(recorder):
    doomed, kept = uuid4(), uuid4()
    recorder.insert_events([event(doomed, 1), event(doomed, 2)])
    recorder.insert_events([event(kept)])
    recorder.insert_events([event(doomed, 3)])
    recorder.delete_streams([doomed, uuid4()])
    recorder.delete_streams([])
    assert recorder.select_events(doomed) == []
    assert [n.id for n in recorder.select_notifications(None, 10)] == [3]
    assert recorder.insert_events([event(doomed, 1)]) == [5]
    assert positions(recorder) == [3, 5]
    assert recorder.max_notification_id() == 5


HOSTILE = "x'); DROP TABLE stored_events; -- \"; SELECT pg_sleep(10); $$ \\ %s %(x)s"


def test_hostile_text_and_bytes_round_trip_verbatim(recorder):
    stream = uuid4()
    state = HOSTILE.encode() + b"\x00\xff\x00"
    stored = StoredEvent(stream, 1, HOSTILE, state)
    recorder.insert_events([stored])
    assert recorder.select_events(stream) == [stored]
    [notification] = recorder.select_notifications(None, 10, topics=[HOSTILE])
    assert (notification.topic, notification.state) == (HOSTILE, state)


def test_nul_in_a_topic_is_refused_and_records_nothing(recorder):
    stream = uuid4()
    with pytest.raises(DataError):
        recorder.insert_events([StoredEvent(stream, 1, "bad\x00topic", b"")])
    assert recorder.select_events(stream) == []


def test_a_follower_misses_nothing_while_writers_race_and_fail(recorder, postgres_factory):
    follower = postgres_factory.application_recorder()  # Its own horizon, as in another process.
    written: list[int] = []
    done = threading.Event()

    def write(worker: int) -> None:
        for i in range(60):
            stream = uuid4()
            written.extend(recorder.insert_events([event(stream)]))
            if i % 10 == worker:
                with pytest.raises(IntegrityError):  # Leaves a rolled-back hole.
                    recorder.insert_events([event(), event(stream)])
            if i % 7 == 0:
                written.extend(recorder.insert_events([event(), event()]))

    seen: list[int] = []

    def follow() -> None:
        while True:
            finished = done.is_set()
            batch = follower.select_notifications(
                seen[-1] if seen else 0, 50, inclusive_of_start=False
            )
            seen.extend(n.id for n in batch)
            if finished and not batch:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    assert run_in_threads(*(lambda w=w: write(w) for w in range(4)), timeout=60) == [None] * 4
    done.set()
    reader.join(30)
    assert seen == sorted(written)
