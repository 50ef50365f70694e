"""Celery with a real prefork worker on Redis: statuses, retries told from failures,
redelivery, progress, and failures Celery signals from the worker's parent process."""

from __future__ import annotations

from collections.abc import Iterator

import celery_tasks as tasks
import pytest
from conftest import BIN, Worker, eventually, settled, start_worker

from jobledger import FinishedJob, Status
from jobledger.integrations.celery import tracked, tracked_group

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker(
    store_url: str, redis_socket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    tasks.app.conf.broker_url = f"redis+socket://{redis_socket}"
    command = [str(BIN / "celery"), "-A", "celery_tasks", "worker", "--pool=prefork"]
    command += ["--concurrency=2", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    yield from start_worker(
        command,
        store_url=store_url,
        redis_socket=redis_socket,
        scratch=tmp_path_factory.mktemp("celery"),
        ready=lambda _: bool(tasks.app.control.ping(timeout=0.2)),
    )


def idle() -> bool:
    """No task running, reserved or scheduled (retries wait there) on the worker."""
    inspect = tasks.app.control.inspect(timeout=1.0, limit=1)
    states = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    return all(state and not any(state.values()) for state in states)


@pytest.mark.parametrize("allowed_failures", [0, 1])
def test_twenty_tasks_with_retries_and_one_failure(worker: Worker, allowed_failures: int) -> None:
    flaky = [tasks.flaky.s(str(worker.scratch / f"flaky-{allowed_failures}-{i}")) for i in range(3)]
    signatures = [*flaky, tasks.broken.s(), *(tasks.succeed.s() for _ in range(16))]
    job, _ = tracked_group(
        signatures, store=worker.tracker, name="twenty", allowed_failures=allowed_failures
    )
    finished: list[FinishedJob] = []
    worker.tracker.on_finished(finished.append, name=f"finish-{allowed_failures}")

    status = settled(worker.tracker, job)

    for name in ("celery_tasks.flaky#0", "celery_tasks.flaky#1", "celery_tasks.flaky#2"):
        history = [event.status for event in worker.tracker.history(job, name)]
        assert Status.RETRYING in history, (name, history)
        assert status.components[name].status == Status.COMPLETED
    broken = status.components["celery_tasks.broken#3"]
    assert broken.status == Status.FAILED
    assert broken.message == "ValueError: always broken"
    retries = worker.tracker.history(job, "celery_tasks.broken#3")
    assert [e.status for e in retries].count(Status.RETRYING) == 2
    assert status.overall == (Status.FAILED if allowed_failures == 0 else Status.COMPLETED)
    assert status.counts[Status.COMPLETED] == 19
    worker.tracker.run_hooks(once=True)
    worker.tracker.run_hooks(once=True)
    assert [hook.job_id for hook in finished] == [job]
    worker.alive()


def test_a_killed_worker_process_redelivers_the_task_counted_once(worker: Worker) -> None:
    job, _ = tracked_group(
        [tasks.killed_once.s(str(worker.scratch / "killed"))], store=worker.tracker
    )

    status = worker.tracker.wait(job, timeout=60)

    assert status.overall == Status.COMPLETED
    assert status.counts[Status.COMPLETED] == 1
    history = worker.tracker.history(job, "celery_tasks.killed_once#0")
    assert [e.status for e in history].count(Status.IN_PROGRESS) == 2  # both deliveries
    assert [e.status for e in history].count(Status.COMPLETED) == 1


@pytest.mark.parametrize("task", ["touch", "broken"])
def test_a_task_redelivered_after_its_component_is_final_records_nothing(
    worker: Worker, task: str
) -> None:
    job = worker.tracker.create_job(["a", "b"])
    worker.tracker.complete(job, "a")
    marker = worker.scratch / f"redelivered-{task}"
    signature = tasks.touch.s(str(marker)) if task == "touch" else tasks.broken.s()

    tracked(signature, job, "a").apply_async()

    eventually(lambda: idle() and (task == "broken" or marker.exists()))
    assert [e.status for e in worker.tracker.history(job, "a")] == [Status.COMPLETED]
    worker.alive()


def test_progress_from_a_running_task_is_visible(worker: Worker) -> None:
    go = worker.scratch / "go"
    job, _ = tracked_group([tasks.halfway.s(str(go))], store=worker.tracker, components=["h"])

    eventually(lambda: worker.tracker.status(job).components["h"].progress == 0.5)
    assert worker.tracker.status(job).components["h"].message == "half done"
    go.touch()

    assert worker.tracker.wait(job, timeout=30).overall == Status.COMPLETED


def test_a_task_revoked_while_running_fails_from_the_parent_process(worker: Worker) -> None:
    job, result = tracked_group([tasks.sleep.s(60)], store=worker.tracker, components=["s"])
    eventually(lambda: worker.tracker.status(job).components["s"].status == Status.IN_PROGRESS)

    result.results[0].revoke(terminate=True, signal="SIGKILL")

    status = worker.tracker.wait(job, timeout=30)
    assert status.components["s"].status == Status.FAILED
    assert status.components["s"].message == "revoked (terminated)"


def test_a_hard_time_limit_fails_from_the_parent_process(worker: Worker) -> None:
    job, _ = tracked_group([tasks.overrun.s()], store=worker.tracker, components=["o"])

    status = worker.tracker.wait(job, timeout=30)

    assert status.components["o"].status == Status.FAILED
    assert status.components["o"].message.startswith("TimeLimitExceeded")
    worker.alive()


def test_a_hard_time_limit_with_late_acks_requeues_the_task_as_retrying(worker: Worker) -> None:
    job, _ = tracked_group(
        [tasks.overrun_once.s(str(worker.scratch / "overrun"))],
        store=worker.tracker,
        components=["o"],
    )

    status = worker.tracker.wait(job, timeout=30)

    assert status.components["o"].status == Status.COMPLETED
    history = worker.tracker.history(job, "o")
    assert [e.status for e in history] == [
        Status.IN_PROGRESS,
        Status.RETRYING,
        Status.IN_PROGRESS,
        Status.COMPLETED,
    ]
    assert history[1].message.startswith("TimeLimitExceeded")
    worker.alive()
