"""Keeps a store's status view caught up with its feed, and records each job's finish once."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar, get_args
from uuid import UUID

from ..domain.component import ComponentStatus
from ..domain.errors import UnknownComponent
from ..domain.events import ComponentsAdded, JobCreated, JobEvent, StatusReported
from ..domain.projection import Tally, settle, step
from .ledger import Ledger, StreamConflict, guarded, store_errors
from .mapper import StoredReport
from .ports import Clock, ComponentRow, JobRow, StatusView

logger = logging.getLogger("jobledger")

FOLDED: tuple[type[JobEvent], ...] = get_args(JobEvent)
"""The event types the view applies: every kind of jobledger event."""

_BATCH = 2_000
"""Most events applied in one transaction."""
_RUN = 0.5
"""Seconds after which an updater starts no new batch before letting go of the view, so that
prunes, repairs and queries waiting for it get in; it takes the view back after them."""
_LET_IN = 0.001
"""Seconds an updater pauses between runs: a thread of its process waiting for the view is
woken when the run lets go, and would rarely get it before the updater took it back."""
_T = TypeVar("_T")


@dataclass
class _Draft:
    """One job as a batch touches it: its rows before the batch, then as they are folded."""

    position: int
    lifecycle: list[JobEvent] = field(default_factory=list)
    reports: dict[str, list[StoredReport]] = field(default_factory=dict)
    tally: Tally | None = None
    ordinals: dict[str, int] = field(default_factory=dict)
    components: dict[str, ComponentStatus] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    added: dict[str, int] = field(default_factory=dict)

    def fold(self) -> None:
        """Apply the batch: the job stream's events in order, then each component's reports
        in order, with one tally update for all of them (`settle`); the fold's laws make
        that equal to folding the batch event by event."""
        for event in self.lifecycle:
            self._step(event)
        if self.tally is None:
            return
        changes, newest = [], []
        for name, reports in self.reports.items():
            before = self.components.get(name)
            if before is None:
                raise UnknownComponent(f"job {self.tally.job_id} has no component {name!r}")
            after, at = before.after(reports)
            if at is not None:
                self.components[name] = after
                self.touched.add(name)
                changes.append((before, after))
                newest.append(at)
        if changes:
            self.tally = settle(self.tally, changes, at=max(newest))

    def _step(self, event: JobEvent) -> None:
        if self.tally is None and not isinstance(event, JobCreated):
            logger.debug("skipping event %r of an unknown (pruned?) job", event)
            return
        if self.tally is not None and event.originator_version <= self.tally.job_version:
            return  # the row was read after another updater applied this batch
        new = _new_names(event)
        first = 0 if self.tally is None else self.tally.total
        added = {name: first + i for i, name in enumerate(new)}
        self.ordinals.update(added)
        self.added.update(added)
        self.tally = step(self.tally, self.components, event)
        self.touched.update(new)


_Batch = list[tuple[int, JobEvent | StoredReport]]
_Prepared = tuple[_Batch, dict[UUID, _Draft]]


class _Ordinals:
    """The ordinals of the components of the jobs whose creation (or additions) this
    updater applied, up to `limit` names, the oldest jobs forgotten first: a job's
    declared order never changes, so they never go stale. Safe to share between threads."""

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._size = 0
        self._jobs: OrderedDict[UUID, dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, job_id: UUID) -> Mapping[str, int]:
        """The ordinals known of this job's components (none if unknown); only ever added
        to, so safe to look up in while another thread learns more."""
        with self._lock:
            return self._jobs.get(job_id, {})

    def learn(self, job_id: UUID, ordinals: Mapping[str, int]) -> None:
        """Remember these ordinals of a job's components."""
        if not ordinals:
            return
        with self._lock:
            known = self._jobs.setdefault(job_id, {})
            self._size -= len(known)
            known.update(ordinals)
            self._size += len(known)
            self._jobs.move_to_end(job_id)
            while self._size > self._limit and len(self._jobs) > 1:
                self._size -= len(self._jobs.popitem(last=False)[1])


class _ReadAhead:
    """Reads the feed for the view; after a full batch, it reads the next one in a thread
    while the caller applies this one, so the store reads the next batch while this process
    folds, and this process parses it while the store commits."""

    def __init__(self, ledger: Ledger, batch: int) -> None:
        self._ledger = ledger
        self._batch = batch
        self._pool: ThreadPoolExecutor | None = None
        self._next: tuple[int, int, Future[_Batch]] | None = None

    def read(self, after: int, end: int) -> _Batch:
        """Up to a batch of events after position `after`, at most `end` (a batch read ahead
        up to an earlier end is as good: the rest comes with the next one)."""
        ahead, self._next = self._next, None
        batch = ahead[2].result() if ahead and ahead[0] == after and ahead[1] <= end else []
        if not batch:  # Nothing read ahead, or nothing up to an earlier end: read to this one.
            batch = self._read(after, end)
        if len(batch) == self._batch and batch[-1][0] < end:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="jobledger-feed")
            self._next = (batch[-1][0], end, _submit(self._pool, self._read, batch[-1][0], end))
        return batch

    def close(self) -> None:
        """Wait for a read in flight (its result is dropped) and stop the thread."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _read(self, after: int, end: int) -> _Batch:
        return self._ledger.view_feed(after=after, limit=self._batch, types=FOLDED, until=end)


class ViewUpdater:
    """Applies the feed to a status view in batches, each with its position, atomically, so
    each event is applied exactly once however many processes catch up at the same time.

    One updater at a time advances a view that can keep the others out (`advancing`), in
    runs of batches of at most `run_for` seconds; the others wait for the run and read, or
    go on from where it left the view. While a batch commits, the next one is read and
    folded in a thread. Rows are read after the position; if the position has moved once
    they are read (a view that keeps nobody out), the run starts over, so decisions are
    only ever made on rows consistent with the position. Before committing a
    batch after which a job has an outcome and no finish record, it appends that record to
    the job's stream at the version the view knows; the version check makes the record
    unique, and a crash before the commit only repeats a check. Told not to wait, an updater
    that finds another advancing returns at once instead (a background keeper does)."""

    def __init__(
        self,
        ledger: Ledger,
        view: StatusView,
        clock: Clock,
        *,
        record_finishes: bool = True,
        batch: int = _BATCH,
        run_for: float = _RUN,
    ) -> None:
        if batch < 1 or not run_for >= 0:
            raise ValueError(f"batch must be >= 1 and run_for >= 0, got {batch}, {run_for}")
        self._ledger = ledger
        self._view = guarded(view)
        self._clock = clock
        self._record_finishes = record_finishes
        self._batch = batch
        self._run_for = run_for
        self._ordinals = _Ordinals()

    def catch_up(
        self,
        *,
        until: int | None = None,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """Apply every event recorded before the call (or up to position `until`), and the
        finish records it appends itself; return the view's position. Events other processes
        record meanwhile are left for the next call, so a busy store cannot keep it chasing.
        While another updater advances the view, wait for its run to end, or with
        `wait=False` return the position as it stands. Once `stop()` is true, return after
        the batch under way."""
        with store_errors():
            end = until if until is not None else self._ledger.recorder.max_notification_id() or 0
        if (position := self._view.position()) >= end:
            return position  # Nothing to apply: take no lock.
        folds = ThreadPoolExecutor(1, thread_name_prefix="jobledger-fold")
        with closing(_ReadAhead(self._ledger, self._batch)) as feed, folds:
            return self._catch_up(feed, folds, end, wait, stop or (lambda: False))

    def _catch_up(
        self,
        feed: _ReadAhead,
        folds: ThreadPoolExecutor,
        end: int,
        wait: bool,
        stop: Callable[[], bool],
    ) -> int:
        conflicts = 0
        while True:
            with self._view.advancing() as mine:
                ran = self._run(feed, folds, end, stop) if mine else None
                if ran is None:
                    since = self._view.position()
            if ran is not None:
                since, end = ran
                if since >= end or stop():
                    return since
                time.sleep(_LET_IN)  # The run's time is up: let those waiting in, go on.
                continue
            if mine:  # Another updater moved the view (one that keeps nobody out): again.
                if stop():
                    return since
                conflicts += 1
                time.sleep(0.001 * 2 ** min(conflicts, 7))
                continue
            if since >= end or not wait:
                return since
            self._view.await_updater()

    def _run(
        self, feed: _ReadAhead, folds: ThreadPoolExecutor, end: int, stop: Callable[[], bool]
    ) -> tuple[int, int] | None:
        """Apply batches up to `end` (and the finish records they append) while this updater
        holds the view, each committed on its own, starting none after `run_for` seconds or
        once `stop()`; return the position reached and the end, or None if another updater
        moved the view (a view that keeps nobody out). While a batch commits, the `folds`
        thread reads and folds the next one on the rows the commit writes (`carry`) and on
        rows no commit can change meanwhile, so the store commits while this process folds;
        the run ends once that fold is done (it reads the view)."""
        if (since := self._view.position()) >= end:
            return since, end
        deadline = time.monotonic() + self._run_for
        ahead: Future[_Prepared | None] | None = None
        with _collector.paused():
            try:
                prepared = self._prepare(feed, since, end, {})
                while prepared is not None:
                    batch, drafts = prepared
                    if self._view.position() != since:
                        return None  # another updater committed while the rows were read
                    recorded = self._record(drafts.values()) if self._record_finishes else 0
                    until, end = batch[-1][0], max(end, recorded)
                    if until < end and time.monotonic() < deadline and not stop():
                        ahead = _submit(folds, self._prepare, feed, until, end, drafts)
                    try:
                        self._view.commit(since, until, *self._rows(drafts.values()))
                    except StreamConflict:
                        logger.debug(
                            "view moved past %d while this batch was applied; again", since
                        )
                        return None
                    for job_id, draft in drafts.items():  # Only a fold that counted.
                        self._ordinals.learn(job_id, draft.added)
                    since = until
                    if ahead is None or stop():
                        return since, end
                    prepared, ahead = ahead.result(), None
                return since, since  # the feed holds nothing more up to `end`
            finally:
                if ahead is not None:
                    ahead.exception()  # waits for the fold in flight (its result is dropped)

    def _prepare(
        self, feed: _ReadAhead, since: int, end: int, carry: Mapping[UUID, _Draft]
    ) -> _Prepared | None:
        """The next batch after `since` (at most `end`) and its folded drafts (None if the
        feed has nothing more): on the rows of `carry` where it has them."""
        batch = feed.read(since, end)
        if not batch:
            return None
        with _collector.paused():
            drafts = self._load(batch, carry)
            for draft in drafts.values():
                draft.fold()
        return batch, drafts

    def _load(
        self, batch: Sequence[tuple[int, JobEvent | StoredReport]], carry: Mapping[UUID, _Draft]
    ) -> dict[UUID, _Draft]:
        """The batch's events by job, with the rows they touch: those `carry` (the batch
        being committed) holds, then one read per job, of its row and of its other reported
        components, except those with no report applied yet (first report in the batch is
        version 1) whose ordinal this updater knows: pending."""
        by_key: dict[str, _Draft] = {}
        for position, item in batch:
            key = item.job_id if isinstance(item, StoredReport) else str(item.originator_id)
            if (draft := by_key.get(key)) is None:
                draft = by_key[key] = _Draft(position)
            if isinstance(item, StoredReport):
                if (reports := draft.reports.get(item.component)) is None:
                    reports = draft.reports[item.component] = []
                reports.append(item)
            else:
                draft.lifecycle.append(item)
        drafts = {}
        for key, draft in by_key.items():
            job_id = UUID(key)
            carried = carry.get(job_id)
            if carried is not None and carried.tally is not None:
                draft.position, draft.tally = carried.position, carried.tally
                draft.ordinals = {
                    n: carried.ordinals[n] for n in draft.reports if n in carried.components
                }
                draft.components = {n: carried.components[n] for n in draft.ordinals}
            known = self._ordinals.of(job_id)
            unread = {
                name: known[name]
                for name, reports in draft.reports.items()
                if name in known
                and reports[0].originator_version == 1
                and name not in draft.components
            }
            unknown = [n for n in draft.reports if n not in unread and n not in draft.components]
            if draft.tally is None or unknown:
                row, rows = self._view.load(job_id, unknown)
                if draft.tally is None and row is not None:
                    draft.position, draft.tally = row.position, row.tally
                draft.ordinals.update((r.status.name, r.ordinal) for r in rows)
                draft.components.update((r.status.name, r.status) for r in rows)
            draft.ordinals.update(unread)
            draft.components.update((name, ComponentStatus(name=name)) for name in unread)
            drafts[job_id] = draft
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


def _submit(pool: ThreadPoolExecutor, fn: Callable[..., _T], *args: object) -> Future[_T]:
    """`fn(*args)` in the pool's thread; in this one once the interpreter is exiting (it
    starts no new threads then)."""
    try:
        return pool.submit(fn, *args)
    except RuntimeError:
        done: Future[_T] = Future()
        done.set_result(fn(*args))
        return done


class _Collector:
    """Pauses Python's cyclic garbage collector while batches are folded and committed (as
    `timeit` does while it times): a batch allocates tens of thousands of short-lived objects
    and the collections they set off took a fifth of a catch-up's CPU (docs/benchmarks.md).
    Batches leave no cycles behind, and a run starts no batch after `run_for` seconds (half
    a second by default). Counted across
    threads; a collector paused by someone else stays paused; a forked child, where no
    paused block of its parent's other threads runs, gets it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False
        os.register_at_fork(after_in_child=self._forked)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Pause the collector for the block (and until no other thread's block runs)."""
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders = max(0, self._holders - 1)  # 0 already if forked meanwhile
                if self._holders == 0 and self._resume:
                    gc.enable()

    def _forked(self) -> None:
        self._lock = threading.Lock()
        if self._holders:
            self._holders = 0
            if self._resume:
                gc.enable()


_collector = _Collector()


def job_of(event: JobEvent) -> UUID:
    """The id of the job an event belongs to."""
    return event.job_id if isinstance(event, StatusReported) else event.originator_id


def _new_names(event: JobEvent) -> tuple[str, ...]:
    if isinstance(event, JobCreated | ComponentsAdded):
        return event.components
    return ()
