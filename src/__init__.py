"""jobledger: lock-free, event-sourced status tracking for jobs made of many components.

Workers only append status events; a job's status is folded from the newest event of each
component, so no worker waits on another's lock and "newest" is the stream order, never a
clock. Start with `Tracker.open()`.
"""

from .application.hooks import FinishedJob
from .application.results import (
    ComponentPage,
    Drift,
    EventPage,
    FeedEvent,
    Page,
    Receipt,
    StaleComponent,
    StatusEvent,
    ViewCheck,
)
from .application.store_check import Damage, StoreCheck
from .application.stores import store_environment
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
from .domain.projection import JobState, JobStatus, JobSummary, fold
from .domain.status import Status

__all__ = [
    "ComponentPage",
    "ComponentStatus",
    "ConfigurationError",
    "Damage",
    "Drift",
    "EventPage",
    "FeedEvent",
    "FinishedJob",
    "InvalidInput",
    "InvalidJobDefinition",
    "InvalidReport",
    "InvalidTransition",
    "JobAlreadyExists",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "JobSummary",
    "JobledgerError",
    "Page",
    "Receipt",
    "StaleComponent",
    "Status",
    "StatusEvent",
    "StoreCheck",
    "StoreError",
    "Tracker",
    "UnknownComponent",
    "ViewCheck",
    "fold",
    "store_environment",
]
