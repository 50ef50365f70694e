"""The contract of the `StatusView` port, for store authors who bring a persistent view.

Subclass `StatusViewContract` in a pytest module and implement `create_view()`, returning a
fresh, empty view; `job_row` and `component_row` build rows for a store's own extra tests.
Every answer is checked against `LocalStatusView`, the in-process reference. Requires pytest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta, timezone
from random import Random
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from ..application.local_view import LocalStatusView
from ..application.ports import ComponentRow, JobRow, StatusView
from ..domain.component import ComponentStatus
from ..domain.projection import COMPONENT_STATUSES, Tally
from ..domain.status import Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job_row(
    job_id: UUID, position: int, status: Status = Status.PENDING, name: str = "job"
) -> JobRow:
    """A one-component job's row, created at feed `position`, whose component is `status`."""
    tally = Tally(
        job_id=job_id,
        name=name,
        metadata={"key": f"{name}\0value"},
        allowed_failures=0,
        created_at=T0,
        updated_at=T0 + timedelta(microseconds=position),
        job_version=1,
        counts=dict.fromkeys(COMPONENT_STATUSES, 0) | {status: 1},
        last_final_at=T0 if status.is_terminal else None,
        failure_times=(T0,) if status is Status.FAILED else (),
    )
    return JobRow(position, tally)


def component_row(
    job_id: UUID,
    ordinal: int,
    status: Status = Status.PENDING,
    at: datetime | None = None,
    name: str | None = None,
) -> ComponentRow:
    """A component's row: named `c<ordinal>` unless `name` is given, last updated `at`."""
    component = ComponentStatus(
        name=f"c{ordinal}" if name is None else name,
        status=status,
        message="msg\0",
        progress=0.25 if status is Status.IN_PROGRESS else None,
        version=0 if status is Status.PENDING else 1,
        updated_at=None if status is Status.PENDING else at or T0,
    )
    return ComponentRow(job_id, ordinal, component)


class StatusViewContract(ABC):
    """What every status view does; one subclass per view, implementing `create_view()`."""

    many_components = 100_000
    """Size of the job a view must page through without loading it whole."""

    @abstractmethod
    def create_view(self) -> StatusView:
        """Return a fresh, empty view of the kind under test."""

    @pytest.fixture
    def view(self) -> StatusView:
        return self.create_view()

    def test_a_commit_moves_the_position_only_from_the_one_it_names(self, view: StatusView) -> None:
        job, late = uuid4(), uuid4()
        view.commit(0, 5, [job_row(job, 1)], [component_row(job, 0)])
        with pytest.raises(IntegrityError):
            view.commit(0, 9, [job_row(late, 8)], [component_row(job, 0, Status.FAILED)])
        assert view.position() == 5
        assert view.load(late, ()) == (None, [])
        assert view.load(job, ["c0"])[1] == [component_row(job, 0)]
        view.commit(5, 5, [], [])  # A repair at the same position.
        assert view.position() == 5

    def test_a_refused_commit_changes_nothing_inside_an_updaters_turn_either(
        self, view: StatusView
    ) -> None:
        job, late = uuid4(), uuid4()
        view.commit(0, 5, [job_row(job, 1)], [component_row(job, 0)])
        with view.advancing() as mine:
            assert mine
            with pytest.raises(IntegrityError):  # The updater goes on in its turn.
                view.commit(0, 9, [job_row(late, 8)], [component_row(job, 0, Status.FAILED)])
        assert view.position() == 5
        assert view.load(late, ()) == (None, [])
        assert view.load(job, ["c0"])[1] == [component_row(job, 0)]

    def test_rows_round_trip_and_load_returns_the_named_components_it_has(
        self, view: StatusView
    ) -> None:
        job = uuid4()
        rows = [component_row(job, n, status) for n, status in enumerate(COMPONENT_STATUSES)]
        view.commit(0, 7, [job_row(job, 3)], rows)
        assert view.load(job, ["c4", "c0", "missing", "c2"]) == (
            job_row(job, 3),
            [rows[4], rows[0], rows[2]],
        )
        assert view.load(job, ())[1] == []
        assert view.load(uuid4(), ["c0"]) == (None, [])
        assert view.snapshot(job) == (job_row(job, 3), rows)
        updated = component_row(job, 1, Status.COMPLETED)
        view.commit(7, 8, [job_row(job, 3, Status.IN_PROGRESS)], [updated])
        assert view.load(job, ["c1"]) == (job_row(job, 3, Status.IN_PROGRESS), [updated])

    def test_names_keep_every_character_and_stay_distinct(self, view: StatusView) -> None:
        job = uuid4()
        names = ["a", "a\0", "\0a", "a\0b", "\0", "ü\0ü", "é🙂", 'quote"back\\slash']
        rows = [component_row(job, n, name=name) for n, name in enumerate(names)]
        view.commit(0, 1, [job_row(job, 1, name="job\0")], rows)
        assert view.components(job, after=-1, limit=10) == rows
        assert view.load(job, ["a\0b", "\0", "b"]) == (
            job_row(job, 1, name="job\0"),
            [rows[3], rows[4]],
        )

    def test_components_are_paged_in_declared_order(self, view: StatusView) -> None:
        job = uuid4()
        ordinals = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]
        view.commit(0, 1, [job_row(job, 1)], [component_row(job, n) for n in ordinals])
        view.commit(1, 2, [job_row(uuid4(), 2)], [component_row(uuid4(), 3)])
        assert [r.ordinal for r in view.components(job, after=-1, limit=4)] == [0, 1, 2, 3]
        assert [r.ordinal for r in view.components(job, after=3, limit=4)] == [4, 5, 6, 7]
        assert [r.ordinal for r in view.components(job, after=7, limit=4)] == [8, 9]
        assert view.components(job, after=9, limit=4) == []

    def test_jobs_are_listed_newest_first_and_filtered_by_overall_status(
        self, view: StatusView
    ) -> None:
        rows = [job_row(uuid4(), p) for p in (5, 1, 3)] + [job_row(uuid4(), 9, Status.COMPLETED)]
        view.commit(0, 9, rows, [])
        assert [r.position for r in view.jobs(status=None, before=100, limit=10)] == [9, 5, 3, 1]
        assert [r.position for r in view.jobs(status=None, before=5, limit=1)] == [3]
        assert [r.position for r in view.jobs(status=Status.COMPLETED, before=100, limit=9)] == [9]
        pending = view.jobs(status=Status.PENDING, before=1 << 62, limit=1 << 62)
        assert [r.position for r in pending] == [5, 3, 1]

    def test_stale_lists_active_components_oldest_first_ties_by_job_id_text(
        self, view: StatusView
    ) -> None:
        a, b = sorted((uuid4(), uuid4()), key=str)
        same = T0.astimezone(timezone(timedelta(hours=2)))  # The same instant, elsewhere.
        rows = [
            component_row(b, 1, Status.IN_PROGRESS, T0),
            component_row(a, 4, Status.RETRYING, same),
            component_row(a, 2, Status.IN_PROGRESS, T0),
            component_row(b, 0, Status.IN_PROGRESS, T0 - timedelta(minutes=5)),
            component_row(a, 0, Status.COMPLETED, T0 - timedelta(hours=1)),
            component_row(a, 1, Status.PENDING),
            component_row(a, 3, Status.IN_PROGRESS, T0 + timedelta(minutes=1)),
        ]
        view.commit(0, 2, [job_row(a, 1), job_row(b, 2)], rows)
        found = view.stale(before=T0 + timedelta(seconds=30), limit=10)
        assert [(r.job_id, r.ordinal) for r in found] == [(b, 0), (a, 2), (a, 4), (b, 1)]
        assert len(view.stale(before=T0 + timedelta(hours=1), limit=2)) == 2
        assert view.stale(before=T0 - timedelta(hours=2), limit=10) == []

    def test_delete_removes_only_the_named_jobs_rows(self, view: StatusView) -> None:
        gone, kept = uuid4(), uuid4()
        rows = [component_row(job, 0, Status.IN_PROGRESS) for job in (gone, kept)]
        view.commit(0, 5, [job_row(gone, 1), job_row(kept, 2)], rows)
        view.delete([gone, uuid4()])
        view.delete([])
        assert view.load(gone, ["c0"]) == (None, [])
        assert view.components(gone, after=-1, limit=10) == []
        assert view.stale(before=T0 + timedelta(days=1), limit=10) == [rows[1]]
        assert view.jobs(status=None, before=10, limit=10) == [job_row(kept, 2)]
        assert view.position() == 5

    def test_a_large_job_is_paged_and_deleted_in_parts(self, view: StatusView) -> None:
        job, size = uuid4(), self.many_components
        rows = [component_row(job, n) for n in range(size)]
        Random(5).shuffle(shuffled := rows.copy())
        view.commit(0, 1, [job_row(job, 1)], shuffled)
        paged: list[ComponentRow] = []
        while page := view.components(job, after=paged[-1].ordinal if paged else -1, limit=7_000):
            paged.extend(page)
        assert paged == rows
        wanted = [f"c{n}" for n in range(0, size, 83)]  # More names than one statement binds.
        assert [r.ordinal for r in view.load(job, wanted)[1]] == list(range(0, size, 83))
        view.delete([uuid4() for _ in range(1_200)] + [job])
        assert view.components(job, after=-1, limit=1) == []

    def test_queries_answer_as_the_in_memory_view_does(self, view: StatusView) -> None:
        local = LocalStatusView()
        jobs, components = _differential_rows(Random(11))
        for target in (local, view):
            target.commit(0, 200, jobs, components)
            target.delete([jobs[0].tally.job_id, uuid4()])
        for before in (0, 56, 200):
            for status in (None, *COMPONENT_STATUSES):
                for limit in (1, 3, 100):
                    args = {"status": status, "before": before, "limit": limit}
                    assert view.jobs(**args) == local.jobs(**args), args  # type: ignore[arg-type]
        for seconds in (-1, 1, 2, 3, 5):
            for limit in (1, 7, 1_000):
                moment = T0 + timedelta(seconds=seconds)
                assert view.stale(before=moment, limit=limit) == local.stale(
                    before=moment, limit=limit
                )
        for job in jobs:
            job_id = job.tally.job_id
            for after in (-1, 0, 17):
                assert view.components(job_id, after=after, limit=5) == local.components(
                    job_id, after=after, limit=5
                )
            mine = [r.status.name for r in components if r.job_id == job_id]
            names = [*mine[::-2], "c1\0\0"]
            assert view.load(job_id, names) == local.load(job_id, names)
            assert view.snapshot(job_id) == local.snapshot(job_id)
        assert view.position() == local.position() == 200


def _differential_rows(rng: Random) -> tuple[list[JobRow], list[ComponentRow]]:
    """Jobs and components with ties everywhere the orderings must break them."""
    job_ids = [UUID(int=rng.getrandbits(128)) for _ in range(12)]
    jobs = [
        job_row(job_id, 10 * n + 5, rng.choice(COMPONENT_STATUSES))
        for n, job_id in enumerate(job_ids)
    ]
    components = [
        component_row(
            job_id,
            ordinal,
            rng.choice(COMPONENT_STATUSES),
            T0 + timedelta(seconds=rng.randrange(4)),
            name=rng.choice([f"c{ordinal}", f"c{ordinal}\0", f"\0{ordinal}", f"ü{ordinal}"]),
        )
        for job_id in job_ids
        for ordinal in rng.sample(range(40), 15)
    ]
    return jobs, components
