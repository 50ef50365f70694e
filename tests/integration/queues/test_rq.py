"""RQ with a real forking worker on Redis: statuses, retries told from failures by the
remaining retries, killed work-horses, stopped jobs, progress, already-final components."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import rq_tasks as tasks
from conftest import BIN, Worker, eventually, settled, start_worker
from rq import Queue, Retry
from rq import Worker as RQWorker
from rq.command import send_stop_job_command

from jobledger import FinishedJob, Status
from jobledger.integrations.rq import enqueue_group, tracked

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def connection(redis_socket: str) -> redis.Redis:
    return redis.Redis(unix_socket_path=redis_socket)


@pytest.fixture(scope="module")
def worker(
    store_url: str,
    redis_socket: str,
    connection: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    command = [str(BIN / "rq"), "worker", "--url", f"unix://{redis_socket}"]
    command += ["-w", "jobledger.integrations.rq.TrackedWorker", "--quiet"]
    yield from start_worker(
        command,
        store_url=store_url,
        redis_socket=redis_socket,
        scratch=tmp_path_factory.mktemp("rq"),
        ready=lambda _: bool(RQWorker.all(connection=connection)),
    )


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)


@pytest.mark.parametrize("allowed_failures", [0, 1])
def test_twenty_jobs_with_retries_and_one_failure(
    worker: Worker, queue: Queue, allowed_failures: int
) -> None:
    scratch = worker.scratch
    flaky = [
        Queue.prepare_data(tasks.flaky, (str(scratch / f"flaky-{allowed_failures}-{i}"),))
        for i in range(3)
    ]
    calls = [*flaky, tasks.broken, *(tasks.succeed for _ in range(16))]
    job, _ = enqueue_group(
        queue, calls, store=worker.tracker, allowed_failures=allowed_failures, retry=Retry(max=2)
    )
    finished: list[FinishedJob] = []
    worker.tracker.on_finished(finished.append, name=f"finish-{allowed_failures}")

    status = settled(worker.tracker, job)

    for i in range(3):
        name = f"rq_tasks.flaky#{i}"
        history = [event.status for event in worker.tracker.history(job, name)]
        assert history == [
            Status.IN_PROGRESS,
            Status.RETRYING,
            Status.IN_PROGRESS,
            Status.COMPLETED,
        ]
    broken = worker.tracker.history(job, "rq_tasks.broken#3")
    assert [e.status for e in broken].count(Status.RETRYING) == 2
    assert broken[-1].status == Status.FAILED
    assert broken[-1].message == "ValueError: always broken"
    assert status.overall == (Status.FAILED if allowed_failures == 0 else Status.COMPLETED)
    assert status.counts[Status.COMPLETED] == 19
    worker.tracker.run_hooks(once=True)
    worker.tracker.run_hooks(once=True)
    assert [hook.job_id for hook in finished] == [job]


def test_a_killed_work_horse_retries_then_fails_without_retries(
    worker: Worker, queue: Queue
) -> None:
    once = Queue.prepare_data(tasks.killed, (str(worker.scratch / "killed"),), retry=Retry(max=1))
    always = Queue.prepare_data(tasks.killed, ("",))
    job, _ = enqueue_group(queue, [once, always], store=worker.tracker, components=["o", "a"])

    status = settled(worker.tracker, job)

    once_history = [e.status for e in worker.tracker.history(job, "o")]
    assert once_history == [
        Status.IN_PROGRESS,
        Status.RETRYING,
        Status.IN_PROGRESS,
        Status.COMPLETED,
    ]
    assert status.components["a"].status == Status.FAILED
    assert status.components["a"].message == "work-horse killed (signal 9)"
    worker.alive()


def test_a_stopped_job_fails(worker: Worker, queue: Queue, connection: redis.Redis) -> None:
    job, (rq_job,) = enqueue_group(
        queue,
        [Queue.prepare_data(tasks.halfway, (str(worker.scratch / "never"),))],
        store=worker.tracker,
        components=["s"],
    )
    eventually(lambda: worker.tracker.status(job).components["s"].progress == 0.5)

    send_stop_job_command(connection, rq_job.id)

    status = worker.tracker.wait(job, timeout=30)
    assert (status.components["s"].status, status.components["s"].message) == (
        Status.FAILED,
        "stopped",
    )


def test_progress_from_a_running_job_is_visible(worker: Worker, queue: Queue) -> None:
    go = worker.scratch / "go"
    job, _ = enqueue_group(
        queue,
        [Queue.prepare_data(tasks.halfway, (str(go),))],
        store=worker.tracker,
        components=["h"],
    )

    eventually(lambda: worker.tracker.status(job).components["h"].progress == 0.5)
    assert worker.tracker.status(job).components["h"].message == "half done"
    go.touch()

    assert worker.tracker.wait(job, timeout=30).overall == Status.COMPLETED


def test_a_job_for_a_component_already_final_runs_and_records_nothing(
    worker: Worker, queue: Queue
) -> None:
    job = worker.tracker.create_job(["a"])
    worker.tracker.complete(job, "a")
    marker = worker.scratch / "again"

    (rq_job,) = queue.enqueue_many(
        [tracked(Queue.prepare_data(tasks.touch, (str(marker),)), job, "a")]
    )

    eventually(lambda: rq_job.get_status(refresh=True) == "finished")
    assert marker.exists()
    assert [e.status for e in worker.tracker.history(job, "a")] == [Status.COMPLETED]


def test_a_job_returning_retry_is_retrying_then_failed_once_its_max_is_reached(
    worker: Worker, queue: Queue
) -> None:
    once = Queue.prepare_data(tasks.asks_for_retry, (str(worker.scratch / "asks"),))
    always = Queue.prepare_data(tasks.asks_for_retry, ("",))
    job, _ = enqueue_group(queue, [once, always], store=worker.tracker, components=["o", "a"])

    status = settled(worker.tracker, job)

    assert [e.status for e in worker.tracker.history(job, "o")] == [
        Status.IN_PROGRESS,
        Status.RETRYING,
        Status.IN_PROGRESS,
        Status.COMPLETED,
    ]
    always_history = worker.tracker.history(job, "a")
    assert [e.status for e in always_history] == [
        Status.IN_PROGRESS,
        Status.RETRYING,
        Status.IN_PROGRESS,
        Status.FAILED,
    ]
    assert always_history[1].message == "returned Retry (max 1)"
    assert (status.components["a"].status, status.components["a"].message) == (
        Status.FAILED,
        "returned Retry (max 1)",
    )
    worker.alive()
