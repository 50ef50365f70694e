"""Recompute a status view from the events and repair the rows that drifted, including
rows of jobs whose events are gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from ..domain.status import Status
from .ledger import Ledger, StreamConflict, guarded
from .ports import Clock, ComponentRow, JobRow, StatusView
from .results import Drift, ViewCheck
from .view_updater import ViewUpdater

_PAGE = 10_000


@dataclass
class _Findings:
    jobs: int = 0
    components: int = 0
    drift: list[Drift] = field(default_factory=list)
    job_rows: list[JobRow] = field(default_factory=list)
    component_rows: list[ComponentRow] = field(default_factory=list)
    ghosts: list[UUID] = field(default_factory=list)

    def check_job(self, expected: JobRow, found: JobRow | None) -> None:
        self.jobs += 1
        if found != expected:
            self.drift.append(
                Drift(
                    job_id=expected.tally.job_id,
                    component=None,
                    expected=_job(expected),
                    found=None if found is None else _job(found),
                )
            )
            self.job_rows.append(expected)

    def check_component(self, expected: ComponentRow, found: ComponentRow | None) -> None:
        self.components += 1
        if found != expected:
            self.drift.append(
                Drift(
                    job_id=expected.job_id,
                    component=expected.status.name,
                    expected=_component(expected),
                    found=None if found is None else _component(found),
                )
            )
            self.component_rows.append(expected)

    def check_ghost(self, found: JobRow) -> None:
        """A row of a job with no events (its prune stopped part-way): to delete."""
        job_id = found.tally.job_id
        self.drift.append(Drift(job_id=job_id, component=None, expected=None, found=_job(found)))
        self.ghosts.append(job_id)


def rebuild_view(ledger: Ledger, view: StatusView, clock: Clock, scratch: StatusView) -> ViewCheck:
    """Fold every event up to the view's position into the empty `scratch` view, compare
    row by row, write the expected rows back where they differ, and delete the rows of jobs
    the events do not know."""
    view = guarded(view)
    while True:
        position = view.position()
        ViewUpdater(ledger, scratch, clock, record_finishes=False).catch_up(until=position)
        findings = _Findings()
        for expected in job_rows(scratch, before=position + 1):
            job_id = expected.tally.job_id
            findings.check_job(expected, view.load(job_id, ())[0])
            for rows in component_pages(scratch, job_id):
                existing = view.load(job_id, [r.status.name for r in rows])[1]
                by_name = {r.status.name: r for r in existing}
                for row in rows:
                    findings.check_component(row, by_name.get(row.status.name))
        for found in job_rows(view, before=position + 1):
            if scratch.load(found.tally.job_id, ())[0] is None:
                findings.check_ghost(found)
        try:
            view.commit(position, position, findings.job_rows, findings.component_rows)
            view.delete(findings.ghosts)
        except StreamConflict:
            continue  # the view moved on meanwhile; compare again
        return ViewCheck(
            jobs=findings.jobs, components=findings.components, drift=tuple(findings.drift)
        )


def job_rows(view: StatusView, *, before: int, status: Status | None = None) -> Iterator[JobRow]:
    """Every job row of `view` below position `before` (with overall `status`, if given),
    newest first, read a page at a time."""
    while rows := view.jobs(status=status, before=before, limit=_PAGE):
        yield from rows
        before = rows[-1].position


def component_pages(view: StatusView, job_id: UUID) -> Iterator[list[ComponentRow]]:
    """Every component row of a job in `view`, in declared order, a page at a time."""
    after = -1
    while rows := view.components(job_id, after=after, limit=_PAGE):
        yield rows
        after = rows[-1].ordinal


def _job(row: JobRow) -> str:
    return row.tally.model_dump_json()


def _component(row: ComponentRow) -> str:
    return f"#{row.ordinal} {row.status.model_dump_json()}"
