"""The file store under damage, full disks, leftovers of crashes, odd ids, and deletions."""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import (
    DataError,
    InfrastructureFactoryError,
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.utils import Environment

from jobledger import ConfigurationError, Tracker
from jobledger.adapters.file import FileFactory, FileProcessRecorder
from jobledger.adapters.file import io as file_io
from jobledger.adapters.file import prune as file_prune
from jobledger.adapters.file.format import Batch, encode_batch
from jobledger.adapters.file.io import HOST


def open_recorder(directory: Path) -> FileProcessRecorder:
    """A process recorder on `directory`, as a newly started process would open it."""
    recorder = FileFactory({"JOBLEDGER_FILE_DIR": str(directory)}).process_recorder()
    assert isinstance(recorder, FileProcessRecorder)
    return recorder


def event(stream: uuid.UUID | str, version: int = 1, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="t", state=state)


def feed_files(directory: Path) -> list[Path]:
    return sorted((directory / "events" / "feed").glob("*/*"), key=lambda p: int(p.name))


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "parent" / "store"


def test_missing_setting_is_a_clear_error() -> None:
    with pytest.raises(InfrastructureFactoryError, match="JOBLEDGER_FILE_DIR"):
        FileFactory({}).application_recorder()


def test_creates_directory_with_parents_and_a_format_file(store: Path) -> None:
    open_recorder(store)
    assert (store / "events" / "FORMAT").read_text().splitlines() == [
        "jobledger file store",
        "format 1",
    ]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:-3]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:10]), id="truncated-header"),
        pytest.param(lambda p: p.write_bytes(os.urandom(64)), id="garbage"),
        pytest.param(lambda p: p.write_bytes(flip(p.read_bytes(), -5)), id="flipped-bit"),
    ],
)
def test_a_damaged_record_raises_data_error_naming_the_file(store: Path, damage) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    recorder.insert_events([event(stream, state=b"some state")])
    (path,) = feed_files(store)
    damage(path)
    with pytest.raises(DataError, match=str(path)):
        recorder.select_notifications(None, 10)
    with pytest.raises(DataError, match=str(path)):
        recorder.select_events(stream)


def test_an_unreadable_record_raises_naming_the_file(store: Path) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    recorder.insert_events([event(stream)])
    (path,) = feed_files(store)
    path.unlink()
    path.mkdir()  # tests run as root, so a directory stands in for an unreadable file
    with pytest.raises(PersistenceError, match=str(path)):
        recorder.select_notifications(None, 10)
    with pytest.raises(PersistenceError, match=str(path)):
        recorder.select_events(stream)
    with pytest.raises(PersistenceError, match=str(path)):
        open_recorder(store).insert_events([event(uuid.uuid4())])  # finds the end of the feed


def test_a_lost_feed_entry_is_reported_not_skipped(store: Path) -> None:
    recorder = open_recorder(store)
    for _ in range(3):
        recorder.insert_events([event(uuid.uuid4())])
    lost = feed_files(store)[1]
    lost.unlink()
    with pytest.raises(DataError, match=f"{lost} is missing"):
        open_recorder(store).select_notifications(None, 10)


def test_a_lost_batch_of_a_stream_is_reported_when_the_stream_is_read(store: Path) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    recorder.insert_events([event(stream)])
    recorder.insert_events([event(uuid.uuid4())])
    lost = feed_files(store)[0]
    lost.unlink()
    with pytest.raises(DataError, match=f"{lost} is missing"):
        open_recorder(store).select_events(stream)


def test_a_store_of_a_newer_format_is_refused(store: Path) -> None:
    open_recorder(store)
    (store / "events" / "FORMAT").write_text("jobledger file store\nformat 2\n")
    with pytest.raises(DataError, match=r"FORMAT: store format 2 is newer"):
        open_recorder(store)


def test_a_directory_that_is_not_a_store_is_refused(store: Path) -> None:
    (store / "events").mkdir(parents=True)
    (store / "events" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a jobledger file store"):
        open_recorder(store)


@pytest.mark.parametrize("foreign", ["junk", ".hidden", "events.bak", "lock"])
def test_a_store_is_not_created_in_a_directory_holding_other_things(
    store: Path, foreign: str
) -> None:
    store.mkdir(parents=True)
    (store / foreign).write_text("mine")
    (store / "views").mkdir()  # jobledger's own entries do not make it foreign
    with pytest.raises(InfrastructureFactoryError, match=f"{store} .*'{re.escape(foreign)}'"):
        open_recorder(store)
    with pytest.raises(ConfigurationError, match=f"not a jobledger store.*'{re.escape(foreign)}'"):
        Tracker.open(f"file://{store}")
    assert sorted(path.name for path in store.iterdir()) == sorted([foreign, "views"])


def test_another_application_is_not_created_in_a_foreign_directory(store: Path) -> None:
    store.mkdir(parents=True)
    (store / "junk").mkdir()
    factory = FileFactory(Environment("Projection", {"JOBLEDGER_FILE_DIR": str(store)}))
    with pytest.raises(InfrastructureFactoryError, match="'junk'"):
        factory.application_recorder()
    assert sorted(path.name for path in store.iterdir()) == ["junk"]


def test_a_store_is_created_in_an_empty_directory_and_then_tolerates_other_things(
    store: Path,
) -> None:
    store.mkdir(parents=True)
    open_recorder(store).insert_events([event(uuid.uuid4())])
    (store / "README").write_text("the jobs of the nightly build")
    open_recorder(store)
    snapshots = FileFactory({"JOBLEDGER_FILE_DIR": str(store)}).aggregate_recorder("snapshots")
    snapshots.insert_events([event(uuid.uuid4())])
    application = FileFactory(Environment("Projection", {"JOBLEDGER_FILE_DIR": str(store)}))
    application.application_recorder().insert_events([event(uuid.uuid4())])
    names = sorted(path.name for path in store.iterdir())
    assert names == ["README", "apps", "events", "snapshots"]


def test_a_directory_holding_only_another_applications_store_is_a_store(store: Path) -> None:
    store.mkdir(parents=True)
    application = FileFactory(Environment("Projection", {"JOBLEDGER_FILE_DIR": str(store)}))
    application.application_recorder().insert_events([event(uuid.uuid4())])
    (store / "README").write_text("mine")
    open_recorder(store).insert_events([event(uuid.uuid4())])
    assert (store / "events" / "FORMAT").exists()


def test_a_store_directory_removed_after_opening_gives_an_error(store: Path) -> None:
    recorder = open_recorder(store)
    recorder.insert_events([event(uuid.uuid4())])
    shutil.rmtree(store)
    with pytest.raises(OperationalError, match="is missing"):
        recorder.insert_events([event(uuid.uuid4())])
    with pytest.raises(OperationalError, match="is missing"):
        recorder.select_notifications(None, 10)
    with pytest.raises(OperationalError, match="is missing"):
        recorder.select_events(uuid.uuid4())
    assert not store.exists()


def test_a_full_disk_leaves_the_store_readable_and_the_event_unrecorded(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = open_recorder(store)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert recorder.insert_events([event(first)]) == [1]

    def no_space(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(OperationalError, match="no space left"):
        recorder.insert_events([event(second)], tracking=Tracking("upstream", 7))
    monkeypatch.undo()

    assert recorder.select_events(second) == []
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1]
    assert recorder.max_tracking_id("upstream") is None
    assert os.listdir(store / "events" / "tmp") == []
    assert recorder.insert_events([event(second)]) == [2]


def test_a_full_disk_at_the_commit_point_undoes_the_claim(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    real_link = os.link

    def link(source: str, target: str) -> None:
        if "/feed/" in str(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(OperationalError, match="no space left"):
        recorder.insert_events([event(stream)])
    monkeypatch.undo()
    assert recorder.select_events(stream) == []
    assert recorder.insert_events([event(stream)]) == [1]
    assert [e.originator_version for e in recorder.select_events(stream)] == [1]


def test_leftover_temporary_files_of_dead_processes_are_ignored_and_cleaned(
    store: Path,
) -> None:
    recorder = open_recorder(store)
    recorder.insert_events([event(uuid.uuid4())])
    tmp = store / "events" / "tmp"
    dead_pid = 2**22 + 12345  # above the kernel's pid_max: never a live process
    dead = tmp / f"{HOST}-{dead_pid}-0-abcd"
    dead.write_bytes(b"half a rec")
    other_host = tmp / f"0123456789ab-{os.getpid()}-0-abcd"
    other_host.write_bytes(b"\x00" * 7)
    reopened = open_recorder(store)
    assert not dead.exists()
    assert other_host.exists()  # another host's file is left to that host
    assert len(reopened.select_notifications(None, 10)) == 1


def test_markers_of_a_writer_killed_before_its_commit_point_are_ignored_then_removed(
    store: Path,
) -> None:
    recorder = open_recorder(store)
    stream, other = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([event(stream, 1)])
    # A writer killed after claiming version 2 at position 2, before linking its batch.
    killed = store / "events" / "tmp" / "killed"
    killed.write_bytes(encode_batch(Batch(1, ((0, event(stream, 2)),))))
    dead = store / "events" / "streams" / stream.hex[:2] / stream.hex / "2_2_2"
    os.link(killed, dead)
    assert [e.originator_version for e in recorder.select_events(stream)] == [1]
    assert recorder.insert_events([event(other)]) == [2]  # position 2 goes to another batch
    assert [e.originator_version for e in open_recorder(store).select_events(stream)] == [1]

    assert recorder.insert_events([event(stream, 2)]) == [3]
    assert not dead.exists()
    assert [e.originator_version for e in recorder.select_events(stream)] == [1, 2]


def test_a_tracked_commit_killed_before_its_commit_point_leaves_tracking_alone(
    store: Path,
) -> None:
    recorder = open_recorder(store)
    recorder.insert_events([event(uuid.uuid4())], tracking=Tracking("upstream", 5))
    pending = store / "events" / "tmp" / "killed"
    pending.write_bytes(
        encode_batch(Batch(1, ((0, event(uuid.uuid4())),), Tracking("upstream", 6)))
    )
    os.link(pending, store / "events" / "pending")

    reopened = open_recorder(store)
    assert not (store / "events" / "pending").exists()
    assert reopened.max_tracking_id("upstream") == 5
    assert reopened.insert_events([event(uuid.uuid4())], tracking=Tracking("upstream", 6)) == [2]


def test_a_commit_killed_after_its_commit_point_is_finished_on_open(store: Path) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    recorder.insert_events([event(stream)], tracking=Tracking("upstream", 5))
    # As if killed after linking the batch into the feed, before the tracking file and cleanup.
    (store / "events" / "tracking").joinpath(os.listdir(store / "events" / "tracking")[0]).unlink()
    os.link(feed_files(store)[0], store / "events" / "pending")

    reopened = open_recorder(store)
    assert reopened.max_tracking_id("upstream") == 5
    assert not (store / "events" / "pending").exists()
    assert len(reopened.select_events(stream)) == 1


ODD_IDS = ["../../etc/passwd", "nul\0inside", "line\nbreak", "ü" * 500, "", "/"]


def test_odd_ids_and_topics_round_trip_and_nothing_is_written_outside(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touched: list[str] = []
    path_arguments = {"open": 1, "mkdir": 1, "unlink": 1, "rmdir": 1, "link": 2, "rename": 2}
    for name, count in [*path_arguments.items(), ("symlink", 2)]:
        real = getattr(os, name)

        def record(
            *args, _real=real, _paths=slice(1, 2) if name == "symlink" else slice(count), **kw
        ):
            if kw.get("dir_fd") is None:  # shutil.rmtree works relative to a directory it opened
                touched.extend(os.path.abspath(a) for a in args[_paths])
            return _real(*args, **kw)

        monkeypatch.setattr(os, name, record)

    recorder = open_recorder(store)
    for odd in ODD_IDS:
        odd_event = StoredEvent(odd, 1, topic=odd, state=odd.encode("utf-8", "surrogatepass"))
        recorder.insert_events([odd_event], tracking=Tracking(odd, 1))
        assert recorder.select_events(odd) == [odd_event]
        assert recorder.max_tracking_id(odd) == 1
    recorder.delete_streams(ODD_IDS)  # type: ignore[arg-type]
    assert all(recorder.select_events(odd) == [] for odd in ODD_IDS)
    monkeypatch.undo()

    ancestors = {str(p) for p in [store, *store.parents]}  # created on first use
    outside = [p for p in touched if not p.startswith(f"{store}/") and p not in ancestors]
    assert outside == []
    assert len(touched) > 100
    assert os.listdir(store / "events" / "trash") == []
    assert os.listdir(store.parent) == ["store"]


def test_delete_streams_removes_events_keeps_positions_and_reclaims_space(store: Path) -> None:
    recorder = open_recorder(store)
    doomed, kept, mixed_doomed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    big = b"x" * 100_000
    assert recorder.insert_events([event(doomed, 1, big), event(doomed, 2, big)]) == [1, 2]
    assert recorder.insert_events([event(kept, 1), event(mixed_doomed, 1, big)]) == [3, 4]
    assert recorder.insert_events([event(kept, 2)]) == [5]
    size_before = sum(p.lstat().st_size for p in (store / "events").rglob("*"))

    recorder.delete_streams([doomed, mixed_doomed, uuid.uuid4()])

    assert recorder.select_events(doomed) == []
    assert recorder.select_events(mixed_doomed) == []
    assert [e.originator_version for e in recorder.select_events(kept)] == [1, 2]
    notifications = recorder.select_notifications(None, 10)
    assert [(n.id, n.originator_id) for n in notifications] == [(3, kept), (5, kept)]
    size_after = sum(p.lstat().st_size for p in (store / "events").rglob("*"))
    assert size_before - size_after > 290_000
    assert feed_files(store)[0].is_symlink()  # a tombstone keeps position 1..2 from reuse
    assert recorder.max_notification_id() == 5
    assert recorder.insert_events([event(doomed, 1)]) == [6]  # a deleted stream starts anew


def test_delete_streams_is_finished_on_open_after_a_crash_part_way(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = open_recorder(store)
    streams = [uuid.uuid4() for _ in range(3)]
    for stream in streams:
        recorder.insert_events([event(stream, 1), event(stream, 2)])
    calls = []
    real_rewrite = file_prune._rewrite

    def crash_on_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real_rewrite(*args)

    monkeypatch.setattr(file_prune, "_rewrite", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        recorder.delete_streams(streams[:2])
    monkeypatch.undo()

    reopened = open_recorder(store)
    assert reopened.select_events(streams[0]) == []
    assert reopened.select_events(streams[1]) == []
    assert len(reopened.select_events(streams[2])) == 2
    assert [n.id for n in reopened.select_notifications(None, 10)] == [5, 6]
    assert os.listdir(store / "events" / "trash") == []


def test_deleting_a_stream_with_a_marker_left_by_a_killed_writer(store: Path) -> None:
    recorder = open_recorder(store)
    stream = uuid.uuid4()
    recorder.insert_events([event(stream, 1)])
    killed = store / "events" / "tmp" / "killed"
    killed.write_bytes(encode_batch(Batch(1, ((0, event(stream, 2)),))))
    os.link(killed, store / "events" / "streams" / stream.hex[:2] / stream.hex / "2_2_2")

    recorder.delete_streams([stream])
    assert recorder.select_events(stream) == []
    assert recorder.select_notifications(None, 10) == []
    assert recorder.insert_events([event(stream, 1)]) == [2]


def test_readers_see_a_stream_being_deleted_whole_or_not_at_all(store: Path) -> None:
    recorder = open_recorder(store)
    streams = [uuid.uuid4() for _ in range(30)]
    for stream in streams:
        for version in range(1, 5):
            recorder.insert_events([event(stream, version)])
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        reader = open_recorder(store)
        while True:
            last = done.is_set()  # one more full pass after the deletions, however slow
            seen.extend(len(reader.select_events(stream)) for stream in streams)
            if last:
                return

    thread = threading.Thread(target=read)
    thread.start()
    for stream in streams:
        recorder.delete_streams([stream])
    done.set()
    thread.join()
    assert set(seen) <= {0, 4}
    assert 0 in seen


def test_delete_streams_is_safe_while_others_write(store: Path) -> None:
    recorder = open_recorder(store)
    doomed = [uuid.uuid4() for _ in range(40)]
    for stream in doomed:
        recorder.insert_events([event(stream, 1), event(stream, 2)])
    writer_streams = [uuid.uuid4() for _ in range(4)]
    errors: list[BaseException] = []

    def write(stream: uuid.UUID) -> None:
        other = open_recorder(store)  # its own store object, as another process would have
        try:
            for version in range(1, 51):
                other.insert_events([event(stream, version)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in writer_streams]
    for thread in threads:
        thread.start()
    for chunk in range(0, 40, 5):
        recorder.delete_streams(doomed[chunk : chunk + 5])
    for thread in threads:
        thread.join()

    assert errors == []
    for stream in writer_streams:
        assert [e.originator_version for e in recorder.select_events(stream)] == list(range(1, 51))
    ids = [n.id for n in recorder.select_notifications(None, 1000)]
    assert len(ids) == 200
    assert ids == sorted(ids)
    assert recorder.max_notification_id() == 280


def test_same_stream_conflicts_raise_integrity_error_across_store_objects(store: Path) -> None:
    first, second = open_recorder(store), open_recorder(store)
    stream = uuid.uuid4()
    first.insert_events([event(stream, 1), event(stream, 2)])
    with pytest.raises(IntegrityError):
        second.insert_events([event(stream, 2), event(stream, 3)])
    with pytest.raises(IntegrityError):
        second.insert_events([event(stream, 1)])
    assert second.insert_events([event(stream, 3)]) == [3]


def test_process_lock_is_reopened_when_the_store_is_recreated(store: Path) -> None:
    open_recorder(store).insert_events([event(uuid.uuid4())])
    shutil.rmtree(store)
    recorder = open_recorder(store)
    assert recorder.insert_events([event(uuid.uuid4())]) == [1]
    lock = file_io.store_lock(str(store / "events" / "lock"))
    assert lock.is_for(str(store / "events" / "lock"))
