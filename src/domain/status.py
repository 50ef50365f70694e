"""Statuses of components and jobs, and which of them are final."""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidReport


class Status(StrEnum):
    """Status of a component or of a whole job.

    `retrying` means an attempt failed and another will follow: it is not final and a job
    with such a component is in progress. `cancelled` applies to jobs only.
    """

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for the statuses after which nothing changes: completed, failed, cancelled."""
        return self in _TERMINAL


_TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
_VALUES = frozenset(s.value for s in Status)

JOB_STATUSES = (
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.COMPLETED,
    Status.FAILED,
    Status.CANCELLED,
)
"""The statuses a whole job can have: `retrying` is only ever a component's."""

REPORTABLE = (Status.IN_PROGRESS, Status.RETRYING, Status.COMPLETED, Status.FAILED)
"""The statuses a worker may report for a component."""

_REPORTABLE_BY_VALUE = {s.value: s for s in REPORTABLE}  # A Status is its value as a key.


def reportable_status(value: object) -> Status:
    """Return the reportable `Status` that `value` names, or raise `InvalidReport`."""
    if isinstance(value, str):
        if (status := _REPORTABLE_BY_VALUE.get(value)) is not None:
            return status
        if value in _VALUES:
            hint = "; cancel the job instead" if value == Status.CANCELLED else ""
            raise InvalidReport(f"status {str(value)!r} cannot be reported for a component{hint}")
    choices = ", ".join(s.value for s in REPORTABLE)
    raise InvalidReport(f"unknown status {value!r}; expected one of {choices}")
