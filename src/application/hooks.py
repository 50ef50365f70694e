"""Hooks: code that runs once a job has finished, delivered at least once from its finish
record, with a stable deduplication key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from pydantic import BaseModel, ConfigDict

from ..domain.errors import InvalidInput
from ..domain.events import HookRan, JobFinished
from ..domain.job import Job
from ..domain.status import Status
from .ledger import Ledger, StreamConflict, store_errors
from .ports import Clock

logger = logging.getLogger("jobledger")

TRACKING_NAME = "jobledger-hooks"


class FinishedJob(BaseModel):
    """What a hook is given: the job, its outcome, and `key`, stable across redeliveries of
    this hook for this job (use it to make the hook's effect idempotent)."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    outcome: Status
    finished_at: datetime
    hook: str
    attempt: int

    @property
    def key(self) -> str:
        """The deduplication key: job id and hook name."""
        return f"{self.job_id}/{self.hook}"


Hook = Callable[[FinishedJob], object]


@dataclass(frozen=True)
class _Registration:
    name: str
    outcomes: frozenset[Status]
    function: Hook


class HookRunner:
    """Follows the finish records with its own tracked position and runs the hooks that
    match each outcome. A hook that raises is recorded (visible in `history`) and retried
    with exponential back-off; after `max_attempts` the failure is recorded as final and the
    runner moves on. The position only passes a finish record once all its hooks are done,
    so a crash before a hook's success is recorded means it runs again."""

    def __init__(
        self,
        ledger: Ledger,
        tracking: Callable[[], TrackingRecorder],
        clock: Clock,
        *,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=1),
    ) -> None:
        self._ledger = ledger
        # Made on the first run: opening a Tracker that never runs hooks makes no table.
        self._make_tracking = tracking
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._hooks: dict[str, _Registration] = {}

    def register(self, name: str, outcomes: Iterable[Status], function: Hook) -> None:
        """Run `function` for jobs finishing with one of `outcomes`; names must be unique."""
        if name in self._hooks:
            raise InvalidInput(f"a hook named {name!r} is already registered")
        self._hooks[name] = _Registration(name, frozenset(outcomes), function)

    def prepare(self) -> None:
        """Make the tracking table now rather than on the first run, and read it once."""
        with store_errors():
            self._tracking.max_tracking_id(TRACKING_NAME)

    def run_once(self) -> int:
        """Deliver what is due now; return how many hook calls were made."""
        with store_errors():
            start = self._tracking.max_tracking_id(TRACKING_NAME) or 0
        calls, done_through, blocked = 0, start, False
        after = start
        while batch := self._ledger.feed(after=after, limit=100, types=[JobFinished]):
            for position, finished in batch:
                assert isinstance(finished, JobFinished)
                made, complete = self._deliver(finished)
                calls += made
                blocked = blocked or not complete
                if not blocked:
                    done_through = position
            after = batch[-1][0]
        if done_through > start:
            self._advance(done_through)
        return calls

    @cached_property
    def _tracking(self) -> TrackingRecorder:
        with store_errors():
            return self._make_tracking()

    def _deliver(self, finished: JobFinished) -> tuple[int, bool]:
        calls, complete = 0, True
        job: Job | None = None  # Read once, kept current with the runs this runner records.
        for hook in self._hooks.values():
            if finished.outcome not in hook.outcomes:
                continue
            while True:
                job = job or self._ledger.job(finished.originator_id)
                runs = [r for r in job.hook_runs if r.hook == hook.name]
                if any(r.succeeded or r.gave_up for r in runs):
                    break
                if runs and not self._due(runs[-1], len(runs)):
                    complete = False
                    break
                ran = self._call(hook, finished, job, len(runs) + 1)
                try:
                    self._ledger.append(ran)
                except StreamConflict:
                    job = None  # another runner recorded a run; read again
                    continue
                job = job.evolve(ran)
                calls += 1
        return calls, complete

    def _call(self, hook: _Registration, finished: JobFinished, job: Job, attempt: int) -> HookRan:
        given = FinishedJob(
            job_id=job.id,
            outcome=finished.outcome,
            finished_at=finished.finished_at,
            hook=hook.name,
            attempt=attempt,
        )
        record = {"originator_id": job.id, "originator_version": job.version + 1}
        try:
            hook.function(given)
        except Exception as error:
            gave_up = attempt >= self._max_attempts
            logger.warning(
                "hook %s failed for job %s (attempt %d): %r", hook.name, job.id, attempt, error
            )
            return HookRan(
                **record,
                timestamp=self._clock(),
                hook=hook.name,
                succeeded=False,
                error=f"{type(error).__name__}: {error}"[:4096],
                gave_up=gave_up,
            )
        return HookRan(**record, timestamp=self._clock(), hook=hook.name, succeeded=True)

    def _due(self, last: HookRan, attempts: int) -> bool:
        return self._clock() >= last.timestamp + self._backoff * (1 << (attempts - 1))

    def _advance(self, position: int) -> None:
        try:
            with store_errors():
                self._tracking.insert_tracking(Tracking(TRACKING_NAME, position))
        except StreamConflict:
            logger.debug("another hook runner advanced past %d first", position)
