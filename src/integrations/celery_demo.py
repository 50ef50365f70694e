"""`jobledger demo --queue celery`: the demo's components run as Celery tasks on a real
prefork worker, with a throwaway Redis as the broker.

`demo_workers(store_url, ...)` starts Redis and `celery worker`, and yields `CeleryWorkers`,
which dispatches components through `tracked()`: the worker reports their statuses through
`install()`'s signal handlers, as a user's worker would. Everything is stopped and removed on
exit, also after errors. Importing this module does nothing: `create_app()` builds an app,
and the worker loads `app`, built on first use.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from uuid import UUID

from celery import Celery, Task, group

from ..application.stores import STORE_VARIABLE
from ..domain.errors import ConfigurationError, JobledgerError
from ._processes import stop_process, watchdog
from ._redis_server import RedisNotFound, throwaway_redis
from .celery import install, progress, tracked

__all__ = ["CeleryWorkers", "WorkerLost", "create_app", "demo_workers"]

BROKER_VARIABLE = "JOBLEDGER_DEMO_BROKER"
"""The worker's broker URL, set by `demo_workers` for the worker it starts."""

STEP = "jobledger_demo.step"
"""The name of the demo's one task."""


def create_app(broker: str) -> Celery:
    """The demo's Celery app on `broker`, with its task `STEP`."""
    app = Celery("jobledger_demo", broker=broker)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    app.task(bind=True, name=STEP, max_retries=1, acks_late=True, shared=False)(_step)
    return app


def __getattr__(name: str) -> Celery:
    """`app`: the worker's (`celery -A jobledger.integrations.celery_demo:app`), built on
    first use on the broker `demo_workers` gave it, its tasks reported through `install()`."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = create_app(os.environ.get(BROKER_VARIABLE, "memory://"))
    install(app)
    globals()["app"] = app  # later look-ups find it without calling this again
    return app


def _step(self: Task, name: str, flaky: bool, pace: float) -> None:
    """Work on the component `name`; a flaky one times out on its first attempt and is
    retried by Celery."""
    progress(0.0)
    time.sleep(0.03 * pace)
    if flaky and not self.request.retries:
        progress(0.4)
        raise self.retry(exc=TimeoutError("timed out; retrying"), countdown=0.2 * pace)
    progress(0.5)
    time.sleep(0.03 * pace)


class WorkerLost(JobledgerError, RuntimeError):
    """The demo's Celery worker exited before the job finished."""


class CeleryWorkers:
    """The running worker: dispatches components as tracked tasks."""

    def __init__(
        self, app: Celery, process: subprocess.Popen[bytes], log: Path, flaky: Collection[str]
    ) -> None:
        self._step = app.tasks[STEP]
        self._process, self._log, self._flaky = process, log, flaky

    def dispatch(self, job: UUID, names: Sequence[str], pace: float) -> None:
        """Send one task per component of `job` in `names`."""
        tasks = [tracked(self._step.s(n, n in self._flaky, pace), job, n) for n in names]
        group(tasks).apply_async()

    def check(self) -> None:
        """Raise `WorkerLost` (with the end of its log) if the worker has exited."""
        if self._process.poll() is not None:
            tail = self._log.read_text(errors="replace")[-2000:]
            msg = f"the Celery worker exited with status {self._process.returncode}: {tail}"
            raise WorkerLost(msg)


@contextmanager
def demo_workers(
    store_url: str, *, concurrency: int, flaky: Collection[str], timeout: float = 60.0
) -> Iterator[CeleryWorkers]:
    """Start a throwaway Redis and a prefork `celery worker` of `concurrency` processes
    reporting to `store_url`; stop both on exit. Raises `ConfigurationError` without
    `redis-server`."""
    with ExitStack() as stack:
        try:
            socket = stack.enter_context(throwaway_redis())
        except RedisNotFound as error:
            raise ConfigurationError(f"demo --queue celery: {error}") from None
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jobledger-")))
        broker = f"redis+socket://{socket}"
        app = create_app(broker)
        stack.callback(app.pool.force_close_all)  # the connections to this Redis
        log = scratch / "worker.log"
        process = stack.enter_context(_worker(store_url, broker, concurrency, log))
        workers = CeleryWorkers(app, process, log, flaky)
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=0.2):
            workers.check()
            if time.monotonic() > deadline:
                raise WorkerLost(f"the Celery worker did not answer within {timeout} s")
        yield workers


_KILL_GROUP = "import os, signal, sys; os.killpg(int(sys.argv[1]), signal.SIGKILL)"
"""The watchdog's stop for a worker whose demo was killed: its whole process group, at once
(a warm shutdown would finish tasks nobody waits for)."""


@contextmanager
def _worker(
    store_url: str, broker: str, concurrency: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The worker, writing to `log` and keeping its files in the log's directory; if this
    process is killed, a watchdog kills the worker and its pool (its process group) and
    removes that directory."""
    command = [sys.executable, "-m", "celery", "-A", f"{__name__}:app", "worker", "--pool=prefork"]
    command += [f"--concurrency={concurrency}", "--loglevel=WARNING"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    environment = {**os.environ, STORE_VARIABLE: store_url, BROKER_VARIABLE: broker}
    environment["TMPDIR"] = str(log.parent)  # Its pool's files go where the watchdog looks.
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # A Ctrl-C meant for the demo leaves its stop to us.
        )
    kill_group = [sys.executable, "-c", _KILL_GROUP, str(process.pid)]
    with watchdog(log.parent, stop=kill_group):
        try:
            yield process
        finally:
            stop_process(process, 30)  # SIGTERM is a warm shutdown: running tasks finish
            with suppress(ProcessLookupError):  # pool processes that outlived it, if killed
                os.killpg(process.pid, signal.SIGKILL)
