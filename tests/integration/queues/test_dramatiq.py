"""Dramatiq with a real worker on Redis: the middleware reports after Retries decided,
killed workers' messages are redelivered and counted once, progress, final components."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import dramatiq_tasks as tasks
import pytest
from conftest import BIN, Worker, eventually, settled, start_worker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

from jobledger import FinishedJob, Status
from jobledger.integrations.dramatiq import Jobledger, MisplacedMiddleware, tracked, tracked_group

pytestmark = pytest.mark.slow


def ready(log: Path) -> bool:
    return b"ready for action" in log.read_bytes()


def dramatiq_worker(
    store_url: str, redis_socket: str, scratch: Path, *args: str, flush: bool = True
) -> Iterator[Worker]:
    command = [str(BIN / "dramatiq"), "dramatiq_tasks", "--processes=1", "--threads=2", *args]
    return start_worker(
        command,
        store_url=store_url,
        redis_socket=redis_socket,
        scratch=scratch,
        ready=ready,
        flush=flush,
    )


@pytest.fixture(scope="module")
def worker(
    store_url: str, redis_socket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    dramatiq.set_broker(RedisBroker(url=f"unix://{redis_socket}"))
    yield from dramatiq_worker(
        store_url, redis_socket, tmp_path_factory.mktemp("dramatiq"), "--queues=default"
    )


@pytest.mark.parametrize("allowed_failures", [0, 1])
def test_twenty_messages_with_retries_and_one_failure(
    worker: Worker, allowed_failures: int
) -> None:
    flaky = [
        tasks.flaky.message(str(worker.scratch / f"flaky-{allowed_failures}-{i}")) for i in range(3)
    ]
    messages = [*flaky, tasks.broken.message(), *(tasks.succeed.message() for _ in range(16))]
    job, _ = tracked_group(messages, store=worker.tracker, allowed_failures=allowed_failures)
    finished: list[FinishedJob] = []
    worker.tracker.on_finished(finished.append, name=f"finish-{allowed_failures}")

    status = settled(worker.tracker, job)

    for i in range(3):
        history = [e.status for e in worker.tracker.history(job, f"flaky#{i}")]
        assert history == [
            Status.IN_PROGRESS,
            Status.RETRYING,
            Status.IN_PROGRESS,
            Status.COMPLETED,
        ]
    broken = worker.tracker.history(job, "broken#3")
    assert [e.status for e in broken].count(Status.RETRYING) == 2
    assert (broken[-1].status, broken[-1].message) == (Status.FAILED, "ValueError: always broken")
    assert status.overall == (Status.FAILED if allowed_failures == 0 else Status.COMPLETED)
    assert status.counts[Status.COMPLETED] == 19
    worker.tracker.run_hooks(once=True)
    worker.tracker.run_hooks(once=True)
    assert [hook.job_id for hook in finished] == [job]


def test_progress_from_a_running_actor_is_visible(worker: Worker) -> None:
    go = worker.scratch / "go"
    job, _ = tracked_group([tasks.halfway.message(str(go))], store=worker.tracker, components=["h"])

    eventually(lambda: worker.tracker.status(job).components["h"].progress == 0.5)
    assert worker.tracker.status(job).components["h"].message == "half done"
    go.touch()

    assert worker.tracker.wait(job, timeout=30).overall == Status.COMPLETED


def test_a_message_for_a_component_already_final_runs_and_records_nothing(worker: Worker) -> None:
    job = worker.tracker.create_job(["a"])
    worker.tracker.complete(job, "a")
    marker = worker.scratch / "again"

    dramatiq.get_broker().enqueue(tracked(tasks.touch.message(str(marker)), job, "a"))

    eventually(marker.exists)
    eventually(lambda: dramatiq.get_broker().client.hlen("dramatiq:default.msgs") == 0)
    assert [e.status for e in worker.tracker.history(job, "a")] == [Status.COMPLETED]


def test_a_message_past_its_age_limit_is_skipped_and_failed(worker: Worker) -> None:
    job, _ = tracked_group(
        [tasks.succeed.message_with_options(max_age=1), tasks.succeed.message()],
        store=worker.tracker,
        components=["old", "fresh"],
    )

    status = settled(worker.tracker, job)

    old = worker.tracker.history(job, "old")  # AgeLimit skips it before anything started
    assert [(e.status, e.message) for e in old] == [(Status.FAILED, "skipped")]
    assert status.components["fresh"].status == Status.COMPLETED
    assert status.overall == Status.FAILED


def test_a_killed_worker_s_message_is_redelivered_and_counted_once(
    worker: Worker, tmp_path: Path
) -> None:
    job, _ = tracked_group(
        [tasks.killed_once.message(str(tmp_path / "killed"))],
        store=worker.tracker,
        components=["k"],
    )
    crash_worker = contextmanager(dramatiq_worker)
    (tmp_path / "again").mkdir()
    for scratch in (tmp_path, tmp_path / "again"):
        with crash_worker(
            worker.store_url, worker.redis_socket, scratch, "--queues=crash", flush=False
        ) as crash:
            if scratch == tmp_path:  # killed by its message, it shuts down
                eventually(lambda: crash.process.poll() is not None)
            else:
                status = worker.tracker.wait(job, timeout=60)

    assert status.overall == Status.COMPLETED
    history = [e.status for e in worker.tracker.history(job, "k")]
    assert history == [Status.IN_PROGRESS, Status.IN_PROGRESS, Status.COMPLETED]


def test_the_middleware_refuses_to_run_after_retries() -> None:
    broker = StubBroker()
    broker.add_middleware(Jobledger("memory://"))
    assert isinstance(broker.middleware[-1], Jobledger)
    assert any(isinstance(m, Retries) for m in broker.middleware)
    with pytest.raises(MisplacedMiddleware):
        dramatiq.Worker(broker, worker_timeout=100).start()
