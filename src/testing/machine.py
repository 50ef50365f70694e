"""A Hypothesis state machine that drives a Tracker against a small reference model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from ..application.tracker import Tracker
from ..domain.errors import InvalidTransition
from ..domain.status import REPORTABLE, Status
from .clock import FrozenClock

_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@dataclass
class ModelJob:
    """What the reference model knows of one job."""

    components: list[str]
    allowed_failures: int
    statuses: dict[str, tuple[Status, int]] = field(default_factory=dict)
    cancelled: bool = False

    def status_of(self, name: str) -> tuple[Status, int]:
        return self.statuses.get(name, (Status.PENDING, 0))

    @property
    def overall(self) -> Status:
        states = [self.status_of(n)[0] for n in self.components]
        if self.cancelled:
            return Status.CANCELLED
        if states.count(Status.FAILED) > self.allowed_failures:
            return Status.FAILED
        if all(s in {Status.COMPLETED, Status.FAILED} for s in states):
            return Status.COMPLETED
        if any(s is not Status.PENDING for s in states):
            return Status.IN_PROGRESS
        return Status.PENDING


class TrackerMachine(RuleBasedStateMachine):
    """Random sequences of commands; after each, the Tracker must agree with the model."""

    create_tracker: Callable[[FrozenClock], Tracker]
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock()
        self.tracker = type(self).create_tracker(self.clock)
        self.model: dict[UUID, ModelJob] = {}

    def teardown(self) -> None:
        self.tracker.close()

    @rule(target=jobs, names=st.lists(_NAMES, min_size=1, unique=True), allowed=st.integers(0, 1))
    def create(self, names: list[str], allowed: int) -> UUID:
        job_id = self.tracker.create_job(names, allowed_failures=allowed)
        self.model[job_id] = ModelJob(list(names), allowed)
        return job_id

    @rule(job_id=jobs, data=st.data(), status=st.sampled_from(REPORTABLE))
    def report(self, job_id: UUID, data: st.DataObject, status: Status) -> None:
        job = self.model[job_id]
        name = data.draw(st.sampled_from(job.components))
        current, version = job.status_of(name)
        if current.is_terminal and current is not status:
            try:
                self.tracker.report(job_id, name, status)
            except InvalidTransition:
                return
            raise AssertionError(f"{status} after {current} was accepted")
        receipt = self.tracker.report(job_id, name, status)
        if current.is_terminal:
            assert (receipt.recorded, receipt.version) == (False, version)
        else:
            assert (receipt.recorded, receipt.version) == (True, version + 1)
            job.statuses[name] = (status, version + 1)

    @rule(job_id=jobs, names=st.lists(_NAMES, min_size=1, unique=True))
    def add(self, job_id: UUID, names: list[str]) -> None:
        job = self.model[job_id]
        new = [n + "+" for n in names if n + "+" not in job.components]
        if not new:
            return
        if job.overall.is_terminal:
            try:
                self.tracker.add_components(job_id, new)
            except InvalidTransition:
                return
            raise AssertionError("components were added to a finished job")
        self.tracker.add_components(job_id, new)
        job.components.extend(new)

    @rule(job_id=jobs)
    def cancel(self, job_id: UUID) -> None:
        job = self.model[job_id]
        if job.overall.is_terminal and not job.cancelled:
            try:
                self.tracker.cancel(job_id)
            except InvalidTransition:
                return
            raise AssertionError("a finished job was cancelled")
        self.tracker.cancel(job_id)
        job.cancelled = True

    @rule(seconds=st.integers(0, 3))
    def tick(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def agrees_with_model(self) -> None:
        for job_id, job in self.model.items():
            status = self.tracker.status(job_id)
            assert status.overall is job.overall
            assert list(status.components) == job.components
            for name, component in status.components.items():
                assert (component.status, component.version) == job.status_of(name)
            assert sum(status.counts.values()) == status.total == len(job.components)

    @invariant()
    def lists_every_job_once(self) -> None:
        listed = [s.job_id for s in self.tracker.jobs(limit=1_000).items if s.job_id in self.model]
        assert listed == list(reversed(self.model))
