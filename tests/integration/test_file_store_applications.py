"""Several eventsourcing applications on one file store directory keep their feeds apart, as
they do in one PostgreSQL database (where tables are named after the application)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from jobledger import Tracker


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


class Notebook(Application[UUID]):
    """Another application, as a projection or a neighbouring service would be."""


def test_applications_sharing_a_directory_keep_their_own_feeds(tmp_path: Path) -> None:
    settings = {
        "PERSISTENCE_MODULE": "jobledger.adapters.file",
        "JOBLEDGER_FILE_DIR": str(tmp_path),
    }
    with Tracker.open(env=settings) as tracker:
        job = tracker.create_job(["a"])
        notebook = Notebook(settings)
        note = Note("hello")
        notebook.save(note)
        tracker.complete(job, "a")
        assert [type(i.event).__name__ for i in tracker.events().items] == [
            "JobCreated",
            "StatusReported",
        ]
        assert [n.originator_id for n in notebook.recorder.select_notifications(1, 10)] == [note.id]
        assert notebook.repository.get(note.id).text == "hello"
        assert tracker.summary(job).is_finished
        notebook.close()
    assert (tmp_path / "events").is_dir()
    assert (tmp_path / "apps" / "Notebook" / "events").is_dir()
    with Tracker.open(f"file://{tmp_path}") as reopened:
        assert reopened.summary(job).is_finished
