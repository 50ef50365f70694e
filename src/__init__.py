"""jobledger: lock-free, event-sourced status tracking for jobs made of many components.

Workers only append status events; a job's status is folded from the newest event of each
component, so no worker waits on another's lock and "newest" is the stream order, never a
clock. Start with `Tracker.open()`.
"""

from .application.results import Page, Receipt, StatusEvent
from .application.tracker import Tracker
from .domain.component import ComponentStatus
from .domain.errors import (
    ConfigurationError,
    InvalidInput,
    InvalidJobDefinition,
    InvalidReport,
    InvalidTransition,
    JobAlreadyExists,
    JobledgerError,
    JobNotFound,
    StoreError,
    UnknownComponent,
)
from .domain.projection import JobStatus, JobSummary, fold
from .domain.status import Status

__all__ = [
    "ComponentStatus",
    "ConfigurationError",
    "InvalidInput",
    "InvalidJobDefinition",
    "InvalidReport",
    "InvalidTransition",
    "JobAlreadyExists",
    "JobNotFound",
    "JobStatus",
    "JobSummary",
    "JobledgerError",
    "Page",
    "Receipt",
    "Status",
    "StatusEvent",
    "StoreError",
    "Tracker",
    "UnknownComponent",
    "fold",
]
