"""Pages of components filtered by status, read through `Tracker.components`, and pages
of a job's history.

The Tracker pages a job's components in declared order without a status filter, so a
filtered page is made by reading pages and keeping the matches. To keep every request
bounded (a job may have 100,000 components), one request reads at most `scan` components:
a filtered page can hold fewer than `limit` items, even none, and still have a
`next_cursor`; follow the cursor until it is null to see every match.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ...application.results import ComponentPage, StatusEvent
from ...application.tracker import Tracker
from ...domain.component import ComponentStatus
from ...domain.errors import InvalidInput
from ...domain.projection import COMPONENT_STATUSES
from ...domain.status import Status
from ...domain.validation import parse_cursor, parse_status

SCAN = 5_000
"""Components read at most by one filtered request."""
_CHUNK = 1_000


class HistoryPage(BaseModel):
    """One page of a job's history in recorded order; pass `next_cursor` back for the next
    page (None after the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[StatusEvent, ...]
    next_cursor: str | None


def history_page(
    tracker: Tracker, job_id: str, component: str | None, *, limit: int, cursor: str | None
) -> HistoryPage:
    """One page of `Tracker.history`, which is read whole and sliced: the cursor is the
    number of entries before the page (history only grows, so it stays valid)."""
    start = parse_cursor(cursor, default=0)
    events = tracker.history(job_id, component)
    end = start + limit
    return HistoryPage(
        items=tuple(events[start:end]), next_cursor=str(end) if end < len(events) else None
    )


def component_status(value: str | None) -> Status | None:
    """The component status `value` names (None for none), else `InvalidInput`."""
    if value is None or value == "":
        return None
    status = parse_status(value)
    if status not in COMPONENT_STATUSES:
        choices = ", ".join(s.value for s in COMPONENT_STATUSES)
        raise InvalidInput(f"{value!r} is not a component status; expected one of {choices}")
    return status


def component_page(
    tracker: Tracker,
    job_id: UUID | str,
    *,
    status: Status | None,
    limit: int,
    cursor: str | None,
    scan: int = SCAN,
) -> ComponentPage:
    """One page of the job's components in declared order, only those in `status` if given.
    The cursor is the ordinal of the last component read, as `Tracker.components` uses."""
    if status is None:
        return tracker.components(job_id, limit=limit, cursor=cursor)
    after = parse_cursor(cursor, default=-1)
    matches: list[ComponentStatus] = []
    scanned = 0
    while True:
        chunk = min(_CHUNK, scan - scanned)
        page = tracker.components(job_id, limit=chunk, cursor=None if after < 0 else str(after))
        for ordinal, item in enumerate(page.items, start=after + 1):
            if item.status is status:
                matches.append(item)
                if len(matches) == limit:
                    last = ordinal == after + len(page.items) and page.next_cursor is None
                    return ComponentPage(
                        items=tuple(matches), next_cursor=None if last else str(ordinal)
                    )
        scanned += len(page.items)
        if page.next_cursor is None or scanned >= scan:
            return ComponentPage(items=tuple(matches), next_cursor=page.next_cursor)
        after = int(page.next_cursor)
