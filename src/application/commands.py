"""The Tracker's commands: decide on the current streams, append, and decide again on a
conflict. They read only the streams they change, never the status view."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar
from uuid import UUID, uuid4

from ..domain.component import ComponentState
from ..domain.errors import InvalidJobDefinition, JobAlreadyExists, JobNotFound, StoreError
from ..domain.events import JobEvent
from ..domain.job import Job, define_job
from ..domain.projection import fold
from ..domain.status import Status
from ..domain.validation import parse_job_id
from .cache import BoundedCache
from .ledger import Ledger, StreamConflict
from .ports import Clock
from .results import Receipt
from .writes import WriteLog

logger = logging.getLogger("jobledger")

_T = TypeVar("_T")
_MAX_ATTEMPTS = 1_000
_CACHED_JOBS = 1_000
_CACHED_COMPONENTS = 100_000


class Commands:
    """Creates jobs, adds components, records reports and cancels, lock-free: every decision
    is made on a stream's version and appended with it, so a conflicting writer makes the
    loser decide again. Caches job definitions and component states between reports."""

    def __init__(self, ledger: Ledger, clock: Clock, writes: WriteLog) -> None:
        self._ledger = ledger
        self._clock = clock
        self._writes = writes
        self._jobs: BoundedCache[UUID, Job] = BoundedCache(_CACHED_JOBS)
        self._known: BoundedCache[tuple[UUID, str], ComponentState] = BoundedCache(
            _CACHED_COMPONENTS
        )

    def create_job(
        self,
        components: Iterable[str],
        *,
        name: str | None,
        metadata: Mapping[str, object] | None,
        allowed_failures: int,
        job_id: UUID | str | None,
    ) -> UUID:
        new_id = uuid4() if job_id is None else parse_job_id(job_id, InvalidJobDefinition)
        created = define_job(
            new_id,
            components,
            name=name,
            metadata=metadata,
            allowed_failures=allowed_failures,
            at=self._clock(),
        )
        try:
            self._append(created)
        except StreamConflict:
            if not self.job(new_id, fresh=True).same_definition(created):
                raise JobAlreadyExists(
                    f"job {new_id} already exists with a different definition"
                ) from None
        return new_id

    def add_components(self, job_id: UUID | str, components: Iterable[str]) -> None:
        job_id = parse_job_id(job_id, JobNotFound)

        def attempt() -> None:
            job = self.job(job_id, fresh=True)
            finished = self._is_finished(job)
            self._append(job.add_components(components, finished=finished, at=self._clock()))

        self._retrying(attempt)

    def report(
        self,
        job_id: UUID | str,
        component: str,
        status: Status | str,
        *,
        message: str,
        progress: float | None,
    ) -> Receipt:
        job_id = parse_job_id(job_id, JobNotFound)
        if component not in self.job(job_id).names:
            self.job(job_id, fresh=True).require(component)
        key = (job_id, component)

        def attempt() -> Receipt:
            current = self._known.get(key) or ComponentState(component)
            event = current.decide(
                job_id, status, message=message, progress=progress, at=self._clock()
            )
            if event is None:
                return _receipt(job_id, current, None)
            try:
                [position] = self._append(event)
            except StreamConflict:
                self._known.put(key, self._component(job_id, component))
                raise
            after = current.evolve(event)
            self._known.put(key, after)
            return _receipt(job_id, after, position)

        return self._retrying(attempt)

    def cancel(self, job_id: UUID | str, reason: str) -> None:
        job_id = parse_job_id(job_id, JobNotFound)

        def attempt() -> None:
            job = self.job(job_id, fresh=True)
            events = job.cancel(reason, finished=self._is_finished(job), at=self._clock())
            if events is not None:
                self._append(*events)

        self._retrying(attempt)

    def job(self, job_id: UUID, *, fresh: bool = False) -> Job:
        """The job aggregate, from the cache unless `fresh`; raises `JobNotFound`."""
        cached = None if fresh else self._jobs.get(job_id)
        if cached is not None:
            return cached
        job = self._ledger.job(job_id)
        self._jobs.put(job_id, job)
        return job

    def forget(self, job_id: UUID, components: Iterable[str]) -> None:
        """Drop what is cached about a deleted job."""
        self._jobs.discard(job_id)
        for name in components:
            self._known.discard((job_id, name))

    def forget_all(self) -> None:
        """Drop everything cached (after records were set aside)."""
        self._jobs.clear()
        self._known.clear()

    def _is_finished(self, job: Job) -> bool:
        """Whether the job has an outcome, folded from its own streams alone (its finish
        record may not be appended yet)."""
        if job.finished is not None or job.cancelled is not None:
            return True
        return fold(None, self._ledger.streams(job.stream_ids)).tally.summary().is_finished

    def _append(self, *events: JobEvent) -> list[int]:
        positions = self._ledger.append(*events)
        newest = max(zip(positions, events, strict=True), key=lambda pair: pair[0])[1]
        self._writes.appended(positions, (newest.originator_id, newest.originator_version))
        return positions

    def _component(self, job_id: UUID, component: str) -> ComponentState:
        current = ComponentState(component)
        for event in self._ledger.reports(job_id, component):
            current = current.evolve(event)
        return current

    @staticmethod
    def _retrying(attempt: Callable[[], _T]) -> _T:
        for number in range(1, _MAX_ATTEMPTS + 1):
            try:
                return attempt()
            except StreamConflict:
                logger.debug("stream conflict, attempt %d; deciding again", number)
        raise StoreError(f"gave up after {_MAX_ATTEMPTS} conflicting attempts")


def _receipt(job_id: UUID, state: ComponentState, position: int | None) -> Receipt:
    return Receipt(
        job_id=job_id,
        component=state.name,
        status=state.status,
        version=state.version,
        position=position,
    )
