"""The queue integrations' shared reporting, on the memory store: links, job creation,
and reports that never raise into a task."""

from __future__ import annotations

import pytest

from jobledger import InvalidJobDefinition, InvalidReport, Status, Tracker
from jobledger.integrations.reporting import (
    Link,
    Reporter,
    describe,
    enter,
    link_group,
    new_job,
    progress,
)


def test_a_link_survives_its_encoding_and_nothing_else_decodes() -> None:
    link = Link("job", "resize #3")
    assert Link.decode(link.encode()) == link
    assert Link.decode(None) is None
    assert Link.decode({"job": "j"}) is None


def test_new_jobs_name_components_after_their_tasks_unless_told() -> None:
    with Tracker.open("memory://") as tracker:
        job, links = new_job(tracker, ["t", "t"], None, name="n", allowed_failures=1)
        assert [link.component for link in links] == ["t#0", "t#1"]
        assert tracker.summary(job).allowed_failures == 1
        with pytest.raises(InvalidJobDefinition, match="1 component names for 2 tasks"):
            new_job(tracker, ["t", "t"], ["only"], name=None, allowed_failures=0)


def test_a_linked_group_is_its_tasks_in_order_each_linked_to_its_component() -> None:
    def tracked(task: str, job_id: str, component: str) -> str:
        return f"{task} -> {job_id}/{component}"

    with Tracker.open("memory://") as tracker:
        job, linked = link_group(
            tracked, ["a", "b"], ["t", "t"], tracker, None, name=None, allowed_failures=0
        )
        assert linked == [f"a -> {job}/t#0", f"b -> {job}/t#1"]
        assert list(tracker.status(job).components) == ["t#0", "t#1"]


def test_reports_on_a_final_component_or_an_unknown_job_do_not_raise() -> None:
    reporter = Reporter("memory://")
    tracker = reporter.tracker()
    job, (link,) = new_job(tracker, ["t"], None, name=None, allowed_failures=0)
    reporter.report(link, Status.COMPLETED)
    reporter.report(link, Status.FAILED, "late")  # InvalidTransition: logged
    reporter.report(Link("not-a-job", "t"), Status.COMPLETED)  # JobNotFound: logged
    assert [e.status for e in tracker.history(job)] == [Status.COMPLETED]
    reporter.close()


def test_progress_reports_only_inside_a_tracked_task_and_refuses_bad_fractions() -> None:
    reporter = Reporter("memory://")
    job, (link,) = new_job(reporter.tracker(), ["t"], None, name=None, allowed_failures=0)
    progress(0.5)  # outside a task: nothing
    enter(reporter, link)
    progress(0.25, "quarter")
    with pytest.raises(InvalidReport):
        progress(2.0)
    enter(reporter, None)
    assert reporter.tracker().status(job).components["t#0"].progress == 0.25
    reporter.close()


def test_an_exception_is_described_by_its_type_and_clipped_text() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert describe(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert len(describe(RuntimeError("x" * 10_000))) == 4_000
