"""Keeps a store's status view caught up with its feed, and records each job's finish once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import get_args
from uuid import UUID

from ..domain.component import ComponentStatus
from ..domain.events import (
    ComponentsAdded,
    JobCreated,
    JobEvent,
    StatusReported,
)
from ..domain.projection import Tally, step
from .ledger import Ledger, StreamConflict, guarded, store_errors
from .ports import Clock, ComponentRow, JobRow, StatusView

logger = logging.getLogger("jobledger")

FOLDED: tuple[type[JobEvent], ...] = get_args(JobEvent)
"""The event types the view applies: every kind of jobledger event."""

_BATCH = 2_000


@dataclass
class _Draft:
    """The rows of one job touched by a batch, before they are committed."""

    position: int
    tally: Tally | None
    ordinals: dict[str, int]
    components: dict[str, ComponentStatus]
    touched: set[str] = field(default_factory=set)


class ViewUpdater:
    """Applies the feed to a status view in batches, each with its position, atomically, so
    each event is applied exactly once however many processes catch up at the same time.

    One updater at a time advances a view that can keep the others out (`advancing`); the
    others wait for its commits and read. Rows are read after the position; if the position
    has moved once they are read (a view that keeps nobody out), the batch starts over, so
    decisions are only ever made on rows consistent with the position. Before committing a
    batch after which a job has an outcome and no finish record, it appends that record to
    the job's stream at the version the view knows; the version check makes the record
    unique, and a crash before the commit only repeats a check. Told not to wait, an updater
    that finds another advancing returns at once instead (a background keeper does)."""

    def __init__(
        self, ledger: Ledger, view: StatusView, clock: Clock, *, record_finishes: bool = True
    ) -> None:
        self._ledger = ledger
        self._view = guarded(view)
        self._clock = clock
        self._record_finishes = record_finishes

    def catch_up(self, *, until: int | None = None, wait: bool = True) -> int:
        """Apply every event recorded before the call (or up to position `until`), and the
        finish records it appends itself; return the view's position. Events other processes
        record meanwhile are left for the next call, so a busy store cannot keep it chasing.
        While another updater advances the view, wait for its commits, or with `wait=False`
        return the position as it stands."""
        with store_errors():
            end = until if until is not None else self._ledger.recorder.max_notification_id() or 0
        if (position := self._view.position()) >= end:
            return position  # Nothing to apply: take no lock.
        while True:
            with self._view.advancing() as mine:
                since = self._view.position()
                if since >= end:
                    return since
                if mine:
                    batch = self._ledger.feed(after=since, limit=_BATCH, types=FOLDED, until=end)
                    if not batch:
                        return since
                    recorded = self._advance(since, batch)
                    if recorded == 0 and batch[-1][0] >= end:
                        return batch[-1][0]  # Committed, and nothing of its own to fold.
                    end = max(end, recorded or 0)
                    continue
            if not wait:
                return since
            self._view.await_updater()

    def _advance(self, since: int, batch: Sequence[tuple[int, JobEvent]]) -> int | None:
        """Apply and commit one batch read after `since`; return the position of the last
        finish record it appended (0 if none), or None if another updater moved the view
        first."""
        drafts = self._apply(batch)
        if self._view.position() != since:
            return None  # another updater committed while the rows were read: they may be newer
        recorded = self._record(drafts.values()) if self._record_finishes else 0
        try:
            self._view.commit(since, batch[-1][0], *self._rows(drafts.values()))
        except StreamConflict:
            logger.debug("view moved past %d while this batch was applied; again", since)
            return None
        return recorded

    def _apply(self, batch: Sequence[tuple[int, JobEvent]]) -> dict[UUID, _Draft]:
        drafts = self._load(batch)
        for _, event in batch:
            draft = drafts[job_of(event)]
            if draft.tally is None and not isinstance(event, JobCreated):
                logger.debug("skipping event %r of an unknown (pruned?) job", event)
                continue
            if draft.tally is not None and isinstance(event, JobCreated):
                continue  # the row was read after another updater applied this batch
            new = _new_names(event)
            first = 0 if draft.tally is None else draft.tally.total
            draft.ordinals.update((name, first + i) for i, name in enumerate(new))
            draft.tally = step(draft.tally, draft.components, event)
            draft.touched.update(new)
            if isinstance(event, StatusReported):
                draft.touched.add(event.component)
        return drafts

    def _load(self, batch: Sequence[tuple[int, JobEvent]]) -> dict[UUID, _Draft]:
        """The rows the batch touches: one read per job, with all its reported components."""
        created: dict[UUID, int] = {}
        reported: dict[UUID, set[str]] = {}
        for position, event in batch:
            job_id = job_of(event)
            created.setdefault(job_id, position)
            names = reported.setdefault(job_id, set())
            if isinstance(event, StatusReported):
                names.add(event.component)
        drafts = {}
        for job_id, names in reported.items():
            row, rows = self._view.load(job_id, names)
            drafts[job_id] = _Draft(
                created[job_id] if row is None else row.position,
                None if row is None else row.tally,
                {r.status.name: r.ordinal for r in rows},
                {r.status.name: r.status for r in rows},
            )
        return drafts

    def _record(self, drafts: Iterable[_Draft]) -> int:
        """Append the finish records due; return the last one's feed position (0 if none)."""
        last = 0
        for draft in drafts:
            if draft.tally is None:
                continue
            finished = draft.tally.finish(at=self._clock())
            if finished is None:
                continue
            try:
                last = max(last, *self._ledger.append(finished))
                logger.info("job %s finished: %s", finished.originator_id, finished.outcome)
            except StreamConflict:
                logger.debug(
                    "finish of job %s recorded elsewhere or not yet due", draft.tally.job_id
                )
        return last

    @staticmethod
    def _rows(drafts: Iterable[_Draft]) -> tuple[list[JobRow], list[ComponentRow]]:
        jobs: list[JobRow] = []
        components: list[ComponentRow] = []
        for draft in drafts:
            if draft.tally is None:
                continue
            jobs.append(JobRow(draft.position, draft.tally))
            job_id = draft.tally.job_id
            components.extend(
                ComponentRow(job_id, draft.ordinals[n], draft.components[n]) for n in draft.touched
            )
        return jobs, components


def job_of(event: JobEvent) -> UUID:
    """The id of the job an event belongs to."""
    return event.job_id if isinstance(event, StatusReported) else event.originator_id


def _new_names(event: JobEvent) -> tuple[str, ...]:
    if isinstance(event, JobCreated | ComponentsAdded):
        return event.components
    return ()
