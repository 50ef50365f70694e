"""What a store author implements: the ports jobledger's application layer needs from a store.

A store is an eventsourcing persistence module (one concrete `InfrastructureFactory`); its
application recorder also implements `PrunableRecorder` and `MultiStreamRecorder`, and, if
the store keeps a status view of its own, its factory has `status_view()` returning a
`StatusView` (see `ProvidesStatusView`). docs/writing-a-store.md walks through one.
"""

from .application.ports import (
    CheckableRecorder,
    Clock,
    ComponentRow,
    DamagedRecord,
    FeedRow,
    FeedRowsRecorder,
    JobRow,
    MultiStreamRecorder,
    ProvidesStatusView,
    PrunableRecorder,
    StatusView,
)
from .domain.component import ComponentStatus
from .domain.projection import Tally

__all__ = [
    "CheckableRecorder",
    "Clock",
    "ComponentRow",
    "ComponentStatus",
    "DamagedRecord",
    "FeedRow",
    "FeedRowsRecorder",
    "JobRow",
    "MultiStreamRecorder",
    "ProvidesStatusView",
    "PrunableRecorder",
    "StatusView",
    "Tally",
]
