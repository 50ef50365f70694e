"""A third-party store written from docs/writing-a-store.md alone: installed as a package
(a module and a dist-info with its entry point on sys.path), opened by URL, by
`JOBLEDGER_STORE` and by the command line, passing the shipped contracts; and the same store
reusing a pruned tail's positions, failing them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.tests import persistence as eventsourcing_cases

from jobledger import ConfigurationError, Tracker
from jobledger.ports import Clock
from jobledger.testing import FrozenClock, RecorderContract, TrackerContract

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-store.md"
REUSING = """
import eventsourcing.sqlite
import sqlite_store
from sqlite_store import environment_for

class ReusingRecorder(sqlite_store.SQLiteStoreRecorder):
    construct_create_table_statements = (
        eventsourcing.sqlite.SQLiteApplicationRecorder.construct_create_table_statements
    )

class ReusingFactory(sqlite_store.SQLiteStoreFactory):
    application_recorder_class = ReusingRecorder
"""
ENTRY_POINTS = "[jobledger.stores]\nsqlite = sqlite_store\nreusing = reusing_store\n"


def _install(site: Path) -> None:
    """Install the doc's store module, and a broken twin, as one distribution in `site`."""
    [module] = re.findall(
        r"<!-- module: sqlite_store -->\n```python\n(.*?)^```",
        DOC.read_text(),
        re.MULTILINE | re.DOTALL,
    )
    (site / "sqlite_store.py").write_text(module)
    (site / "reusing_store.py").write_text(REUSING)
    info = site / "sqlite_store-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sqlite-store\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


@pytest.fixture(scope="module", autouse=True)
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    site = tmp_path_factory.mktemp("site")
    _install(site)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        for name in ("sqlite_store", "reusing_store"):
            patch.delitem(sys.modules, name, raising=False)
        yield site


class TestDocumentedStoreByURL(TrackerContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.count = 0

    def create_tracker(self, clock: Clock) -> Tracker:
        self.count += 1
        return Tracker.open(f"sqlite://{self.directory}/{self.count}.db", clock=clock)


def fresh_recorder(module: str, scratch: Path) -> ApplicationRecorder:
    """An empty application recorder of the store `module`, built as eventsourcing does, in
    a new directory under `scratch`."""
    database = os.path.join(tempfile.mkdtemp(dir=scratch), "events.db")
    settings = {"PERSISTENCE_MODULE": module, "SQLITE_DBNAME": database}
    return InfrastructureFactory.construct(settings).application_recorder()


class TestDocumentedStoreRecorder(
    RecorderContract, eventsourcing_cases.ApplicationRecorderTestCase
):
    def create_recorder(self) -> ApplicationRecorder:
        scratch = tempfile.TemporaryDirectory(prefix="jobledger-sqlite-")
        self.addCleanup(scratch.cleanup)
        return fresh_recorder("sqlite_store", Path(scratch.name))


def test_the_contracts_fail_a_store_that_reuses_a_pruned_tails_positions(tmp_path: Path) -> None:
    class ReusingTracker(TrackerContract):
        def create_tracker(self, clock: Clock) -> Tracker:
            return Tracker.open(f"reusing://{tmp_path}/jobs.db", clock=clock)

    class ReusingRecorder(RecorderContract, eventsourcing_cases.ApplicationRecorderTestCase):
        def create_recorder(self) -> ApplicationRecorder:
            return fresh_recorder("reusing_store", tmp_path)

    name = "test_positions_are_never_reused_after_the_newest_events_are_deleted"
    clock = FrozenClock()
    with (
        ReusingTracker().create_tracker(clock) as tracker,
        pytest.raises(AssertionError, match=r"deleted position again\nassert 1 > 3"),
    ):
        getattr(ReusingTracker(), name)(tracker, clock)
    with pytest.raises(AssertionError, match="was handed out again"):
        getattr(ReusingRecorder(name), name)()


def test_the_store_is_reached_by_env_url_variable_and_command_line(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite://{tmp_path}/jobs.db"
    settings = {"PERSISTENCE_MODULE": "sqlite_store", "SQLITE_DBNAME": f"{tmp_path}/jobs.db"}
    with Tracker.open(env=settings) as tracker:
        job = tracker.create_job(["a"])
    monkeypatch.setenv("JOBLEDGER_STORE", url)
    with Tracker.open() as tracker:
        assert tracker.summary(job).total == 1
    script = Path(sys.executable).parent / "jobledger"
    environment = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run(
        [str(script), "--store", url, "list", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert str(job) in listed.stdout
    with pytest.raises(ConfigurationError, match="not both"):
        Tracker.open(url, env=settings)


def test_an_unknown_scheme_names_the_entry_point_group() -> None:
    with pytest.raises(ConfigurationError, match=r"'jobledger\.stores'"):
        Tracker.open("nosuch:///x")
