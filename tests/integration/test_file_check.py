"""One damaged record no longer makes the whole file store unreadable: `check_store` lists it
with its job, and its repair quarantines it and keeps every healthy job readable."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from jobledger import JobNotFound, Status, StoreError, Tracker
from jobledger.adapters.file.feed import BUCKET
from jobledger.application.store_check import check_store
from jobledger.entrypoints.cli import EXIT_DAMAGED, EXIT_ERROR, main
from jobledger.testing.clock import FrozenClock


def record(store: Path, position: int) -> Path:
    return store / "events" / "feed" / str(position // BUCKET) / str(position)


def tear(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])  # the "body is 84 bytes"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def test_check_lists_damage_with_its_job_and_repair_keeps_healthy_jobs_readable(
    store: Path,
) -> None:
    clock = FrozenClock()
    with Tracker.open(f"file://{store}", clock=clock) as writer:
        jobs = [writer.create_job(["x", "y"]) for _ in range(4)]
        lost_job = writer.create_job(["x"])
        torn_report = writer.start(jobs[1], "x").position
        for job in jobs:
            writer.complete(job, "x")
        writer.start(lost_job, "x")
        writer.jobs()  # this host's view has seen every record before the disk tears two
    assert torn_report is not None
    creation = 5  # the lost job's JobCreated: the fifth event of the feed
    tear(record(store, torn_report))
    tear(record(store, creation))

    with Tracker.open(f"file://{store}", clock=clock) as tracker:
        with pytest.raises(StoreError, match="damaged record"):
            tracker.history(jobs[1])

        found = check_store(tracker.ledger, tracker.view, clock, repair=False)
        assert [(d.position, d.job_ids) for d in found.damaged] == [
            (creation, (lost_job,)),
            (torn_report, (jobs[1],)),
        ]
        assert not found.repaired
        with pytest.raises(StoreError, match="damaged record"):
            tracker.history(jobs[1])  # a check alone changes nothing

        repaired = check_store(tracker.ledger, tracker.view, clock, repair=True)
        assert repaired.repaired
        assert repaired.lost_jobs == (lost_job,)
        for job in jobs:
            status = tracker.status(job)
            assert status.components["x"].status is Status.COMPLETED
            assert status.components["y"].status is Status.PENDING
        assert [e.status for e in tracker.history(jobs[1], "x")] == [Status.COMPLETED]
        with pytest.raises(JobNotFound):
            tracker.status(lost_job)
        assert check_store(tracker.ledger, tracker.view, clock, repair=False).damaged == ()

    (store / "views").rename(store / "old-views")  # a new host reads the whole feed
    with Tracker.open(f"file://{store}", clock=clock) as elsewhere:
        assert {s.job_id for s in elsewhere.jobs().items} == set(jobs)
    quarantined = store / "events" / "quarantine"
    assert (quarantined / str(torn_report)).read_bytes() != b""  # kept, never deleted
    assert (quarantined / str(creation)).exists()
    assert record(store, torn_report).is_symlink()  # a tombstone keeps the position taken


def test_a_store_without_damage_checks_clean(store: Path) -> None:
    with Tracker.open(f"file://{store}") as tracker:
        job = tracker.create_job(["a"])
        result = check_store(tracker.ledger, tracker.view, FrozenClock(), repair=True)
        assert (result.damaged, result.repaired, result.lost_jobs) == ((), False, ())
        assert isinstance(tracker.status(job).job_id, UUID)


def test_the_check_command_exits_5_on_damage_and_0_once_repaired(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*args: str) -> tuple[int, str]:
        code = main(["--store", f"file://{store}", *args])
        return code, capsys.readouterr().out

    with Tracker.open(f"file://{store}") as tracker:
        job = tracker.create_job(["a"])
        tracker.create_job(["b"])
        position = tracker.start(job, "a").position
        tracker.jobs()
    assert position is not None
    assert run("check") == (0, "no damaged records\n")
    tear(record(store, position))
    code, out = run("check", "--json")
    assert code == EXIT_DAMAGED
    [damage] = json.loads(out)["damaged"]
    assert (damage["position"], damage["job_ids"]) == (position, [str(job)])
    assert run("history", str(job))[0] == EXIT_ERROR
    code, out = run("check", "--repair")
    assert (code, "1 damaged record(s) quarantined" in out) == (0, True)
    assert run("history", str(job), "--json") == (0, "[]\n")
    assert run("check") == (0, "no damaged records\n")


def test_repair_names_a_lost_job_that_this_hosts_view_never_saw(store: Path) -> None:
    clock = FrozenClock()
    with Tracker.open(f"file://{store}", clock=clock) as writer:
        kept = writer.create_job(["x"])
        lost = writer.create_job(["x", "y"])  # the second event of the feed
        writer.start(lost, "x")
        writer.complete(kept, "x")
    tear(record(store, 2))
    for views in store.glob("views"):
        for path in views.iterdir():
            path.unlink()

    with Tracker.open(f"file://{store}", clock=clock) as tracker:
        found = tracker.check()
        assert [(d.position, d.job_ids) for d in found.damaged] == [(2, ())]
        repaired = tracker.check(repair=True)
        assert repaired.lost_jobs == (lost,)
        assert [s.job_id for s in tracker.jobs().items] == [kept]
