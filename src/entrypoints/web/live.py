"""Live summaries for Server-Sent Events: one watcher thread per followed job, shared by
every stream of that job, running the blocking `Tracker.follow` off the event loop.

A watcher restarts `follow` every `recheck` seconds while the job is unfinished, and stops
at the first restart or change after its last stream has gone (the client disconnected).
Each stream keeps only the newest summary it has not sent yet: a slow client skips
intermediate summaries, never the final one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import suppress
from uuid import UUID

from ...application.tracker import Tracker
from ...domain.projection import JobSummary

KEEPALIVE = 15.0
"""Seconds between comment lines on a quiet stream, so proxies keep it open."""


class _Stream:
    """One client's side of a watcher; its fields change only on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.changed = asyncio.Event()
        self.latest: JobSummary | None = None
        self.ended = False
        self.error: BaseException | None = None

    def offer(self, summary: JobSummary | None, error: BaseException | None = None) -> None:
        """From the watcher thread: a newer summary, or the end (None), or a failure."""
        with suppress(RuntimeError):  # The loop has closed: nobody is listening.
            self.loop.call_soon_threadsafe(self._take, summary, error)

    def _take(self, summary: JobSummary | None, error: BaseException | None) -> None:
        if summary is None:
            self.ended, self.error = True, error
        else:
            self.latest = summary
        self.changed.set()


class _Watcher(threading.Thread):
    def __init__(self, owner: Watchers, job_id: UUID) -> None:
        super().__init__(name=f"jobledger-watch-{job_id}", daemon=True)
        self.owner, self.job_id = owner, job_id
        self.streams: set[_Stream] = set()
        self.last: JobSummary | None = None

    def run(self) -> None:
        error: BaseException | None = None
        try:
            while self.owner.keep(self):
                try:
                    for summary in self.owner.tracker.follow(
                        self.job_id, timeout=self.owner.recheck
                    ):
                        if summary != self.last:
                            self.owner.publish(self, summary)
                        if not self.owner.keep(self):
                            return
                    return
                except TimeoutError:
                    continue
        except Exception as failure:  # Delivered to the streams, which answer it.
            error = failure
        finally:
            self.owner.finish(self, error)


class Watchers:
    """The live summaries of jobs, one watcher per job however many streams follow it."""

    def __init__(self, tracker: Tracker, *, recheck: float = 5.0) -> None:
        self.tracker = tracker
        self.recheck = recheck
        self._lock = threading.Lock()
        self._watchers: dict[UUID, _Watcher] = {}
        self._closed = False

    def watching(self) -> int:
        """How many watcher threads are running."""
        with self._lock:
            return len(self._watchers)

    def close(self) -> None:
        """Stop every watcher at its next restart or change."""
        with self._lock:
            self._closed = True
            for watcher in self._watchers.values():
                watcher.streams.clear()

    async def follow(self, job_id: UUID) -> AsyncIterator[JobSummary | None]:
        """The job's summary now and each time it changes, ending with the finished one;
        None every `KEEPALIVE` seconds without a change."""
        stream = _Stream(asyncio.get_running_loop())
        watcher = self._join(job_id, stream)
        try:
            while True:
                try:
                    await asyncio.wait_for(stream.changed.wait(), KEEPALIVE)
                except TimeoutError:
                    yield None
                    continue
                stream.changed.clear()
                if stream.latest is not None:
                    latest, stream.latest = stream.latest, None
                    yield latest
                if stream.ended:
                    if stream.error is not None:
                        raise stream.error
                    return
        finally:
            with self._lock:
                watcher.streams.discard(stream)

    def _join(self, job_id: UUID, stream: _Stream) -> _Watcher:
        with self._lock:
            watcher = self._watchers.get(job_id)
            if watcher is None:
                watcher = self._watchers[job_id] = _Watcher(self, job_id)
                watcher.start()
            elif watcher.last is not None:
                stream.offer(watcher.last)
            watcher.streams.add(stream)
            return watcher

    def keep(self, watcher: _Watcher) -> bool:
        """Whether `watcher` still has streams; if not, it is forgotten at once (a stream
        joining now starts a new one) and stops."""
        with self._lock:
            if watcher.streams and not self._closed:
                return True
            if self._watchers.get(watcher.job_id) is watcher:
                del self._watchers[watcher.job_id]
            return False

    def publish(self, watcher: _Watcher, summary: JobSummary) -> None:
        """Offer a new summary to every stream of `watcher`."""
        with self._lock:
            watcher.last = summary
            streams = list(watcher.streams)
        for stream in streams:
            stream.offer(summary)

    def finish(self, watcher: _Watcher, error: BaseException | None) -> None:
        """End every stream of `watcher` and forget it."""
        with self._lock:
            if self._watchers.get(watcher.job_id) is watcher:
                del self._watchers[watcher.job_id]
            streams = list(watcher.streams)
        for stream in streams:
            stream.offer(None, error)
