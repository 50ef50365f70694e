"""Check a store for records it cannot read and, on request, repair it: quarantine them and
rebuild the status view, so that every healthy job is readable again."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ..domain.errors import StoreError
from ..domain.events import JobCreated, JobEvent, StatusReported, component_stream_id
from .ledger import Ledger, guarded, store_errors
from .local_view import LocalStatusView
from .ports import CheckableRecorder, Clock, DamagedRecord, StatusView
from .queries import ALL
from .view_check import component_pages, job_rows, rebuild_view
from .view_updater import ViewUpdater, job_of


class Damage(BaseModel):
    """A record the store cannot read, the streams whose events it held, and their jobs
    where they can be told (from the streams' other events, or a job's row in the view)."""

    model_config = ConfigDict(frozen=True)

    location: str
    position: int
    reason: str
    streams: tuple[str, ...]
    job_ids: tuple[UUID, ...]


class StoreCheck(BaseModel):
    """What `check_store()` found and, with `repair`, did: `lost_jobs` are the damaged jobs
    that can no longer be read at all (their creation was in a quarantined record)."""

    model_config = ConfigDict(frozen=True)

    damaged: tuple[Damage, ...]
    repaired: bool
    lost_jobs: tuple[UUID, ...]


def check_store(ledger: Ledger, view: StatusView, clock: Clock, *, repair: bool) -> StoreCheck:
    """List the store's damaged records; with `repair`, quarantine them (their bytes are
    kept aside, never deleted), catch the view up past them, drop the view rows of jobs lost
    with them, and repair every row that differs from the remaining events.

    A store that is not a `CheckableRecorder` (memory, PostgreSQL: their records cannot be
    torn) has nothing to report.
    """
    recorder = ledger.recorder
    if not isinstance(recorder, CheckableRecorder):
        return StoreCheck(damaged=(), repaired=False, lost_jobs=())
    view = guarded(view)
    with store_errors():
        records = recorder.damaged()
    found = tuple(_damage(ledger, view, record) for record in records)
    if not repair or not records:
        return StoreCheck(damaged=found, repaired=False, lost_jobs=())
    with store_errors():
        recorder.quarantine(records)
    told = {j for d in found for j in d.job_ids}
    streams = {stream for r in records for stream, _, _ in r.streams if isinstance(stream, UUID)}
    untold = streams - told
    jobs = told | _reported_jobs(ledger, untold)
    lost = tuple(sorted(j for j in jobs if not _readable(ledger, j)))
    view.delete(lost)
    ViewUpdater(ledger, view, clock).catch_up()
    rebuild_view(ledger, view, clock, LocalStatusView())
    return StoreCheck(damaged=found, repaired=True, lost_jobs=lost)


def _damage(ledger: Ledger, view: StatusView, record: DamagedRecord) -> Damage:
    told = {
        stream: _job(ledger, view, stream, first, last) for stream, first, last in record.streams
    }
    untold = {s for s, job in told.items() if job is None and isinstance(s, UUID)}
    if untold:
        told |= _from_view(view, untold)
    return Damage(
        location=record.location,
        position=record.position,
        reason=record.reason,
        streams=tuple(str(stream) for stream in told),
        job_ids=tuple(sorted({j for j in told.values() if j is not None})),
    )


def _job(
    ledger: Ledger, view: StatusView, stream: UUID | str, first: int, last: int
) -> UUID | None:
    """The job of a stream, from one of its events outside the damaged versions, else from
    the view if the stream is a job's own."""
    if not isinstance(stream, UUID):
        return None
    for before, after in ((None, first - 1), (last, None)):
        try:
            with store_errors():
                stored = ledger.recorder.select_events(stream, gt=before, lte=after, limit=1)
                events = [cast(JobEvent, ledger.mapper.to_domain_event(s)) for s in stored]
        except StoreError:
            continue  # damaged too: try the other side
        if events:
            return job_of(events[0])
    return stream if view.load(stream, ())[0] is not None else None


def _from_view(view: StatusView, streams: set[UUID]) -> dict[UUID | str, UUID | None]:
    """The jobs of component streams, found by scanning the view's component rows."""
    found: dict[UUID | str, UUID | None] = {}
    for row in job_rows(view, before=ALL):
        job_id = row.tally.job_id
        for rows in component_pages(view, job_id):
            ids = {component_stream_id(job_id, r.status.name) for r in rows}
            found.update(dict.fromkeys(ids & streams, job_id))
        if len(found) == len(streams):
            break
    return found


def _reported_jobs(ledger: Ledger, streams: set[UUID]) -> set[UUID]:
    """Which of `streams` are jobs' own streams, told by their components' surviving reports
    (for a host whose view never saw the jobs). Reads the feed once, after the quarantine."""
    found: set[UUID] = set()
    after = 0
    while streams - found and (batch := ledger.feed(after=after, types=[StatusReported])):
        found |= {e.job_id for _, e in batch if isinstance(e, StatusReported)} & streams
        after = batch[-1][0]
    return found


def _readable(ledger: Ledger, job_id: UUID) -> bool:
    """Whether the job's stream still starts with its creation."""
    events = ledger.stream(job_id)
    return bool(events) and isinstance(events[0], JobCreated)
