"""Every fact jobledger records, for your own projections, and `Ledger`, the eventsourcing
application whose feed holds them (what eventsourcing's projection runners subscribe to).

A job's own stream holds `JobCreated`, `ComponentsAdded`, `JobCancelled`, `JobFinished` and
`HookRan`; each component's stream (`component_stream_id(job_id, name)`) holds its
`StatusReported` events. `Tracker.events()` pages through them in feed order.
"""

from .application.ledger import Ledger
from .domain.events import (
    ComponentsAdded,
    Event,
    HookRan,
    JobCancelled,
    JobCreated,
    JobEvent,
    JobFinished,
    JobStreamEvent,
    StatusReported,
    component_stream_id,
)

__all__ = [
    "ComponentsAdded",
    "Event",
    "HookRan",
    "JobCancelled",
    "JobCreated",
    "JobEvent",
    "JobFinished",
    "JobStreamEvent",
    "Ledger",
    "StatusReported",
    "component_stream_id",
]
