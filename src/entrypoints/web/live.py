"""Live summaries for Server-Sent Events: one watcher thread per followed job, shared by
every stream of that job, running the blocking `Tracker.follow` off the event loop.

A watcher restarts `follow` every `recheck` seconds while the job is unfinished, and stops
at the first restart or change after its last stream has gone (the client disconnected).
Each stream keeps only the newest summary it has not sent yet: a slow client skips
intermediate summaries, never the final one. Streams and threads are capped per app, since
reads may be open to anyone: beyond the caps a stream is refused (503 `Busy`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from uuid import UUID

from ...application.tracker import Tracker
from ...domain.projection import JobSummary
from .errors import HttpProblem, log

KEEPALIVE = 15.0
"""Seconds between comment lines on a quiet stream, so proxies keep it open."""
MAX_WATCHERS = 256
"""Watcher threads (followed jobs) at most per app."""
MAX_STREAMS = 1_000
"""Open streams at most per app."""


class _Stream:
    """One client's side of a watcher; its fields change only on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, watcher: _Watcher) -> None:
        self.loop, self.watcher = loop, watcher
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

    def __init__(
        self,
        tracker: Tracker,
        *,
        recheck: float = 1.0,
        max_watchers: int = MAX_WATCHERS,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self.tracker = tracker
        self.recheck = recheck
        self.max_watchers, self.max_streams = max_watchers, max_streams
        self._lock = threading.Lock()
        self._watchers: dict[UUID, _Watcher] = {}
        self._threads: set[_Watcher] = set()  # Running, even when no longer in _watchers.
        self._streams: set[_Stream] = set()
        self._closed = False

    def watching(self) -> int:
        """How many watcher threads are running."""
        with self._lock:
            return len(self._threads)

    def close(self) -> None:
        """Stop every watcher, ending its streams, and wait for the threads (each stops at
        its next restart or change, within `recheck` seconds) before the tracker closes."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        deadline = time.monotonic() + self.recheck + 1.0
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            log.warning("watcher threads still running after %g s", self.recheck + 1.0)

    def join(self, job_id: UUID) -> _Stream:
        """A new stream of the job's summaries, for `follow` on the running event loop; the
        caller must `leave` it. A 503 `Busy` once closed, when `max_streams` are open, or when
        the job would need a new thread and `max_watchers` are running."""
        loop = asyncio.get_running_loop()
        with self._lock:
            watcher = self._watchers.get(job_id)
            if (
                self._closed
                or len(self._streams) >= self.max_streams
                or (watcher is None and len(self._threads) >= self.max_watchers)
            ):
                raise HttpProblem(503, "Busy", "too many live streams; retry later")
            if watcher is None:
                watcher = self._watchers[job_id] = _Watcher(self, job_id)
                self._threads.add(watcher)
                watcher.start()
            stream = _Stream(loop, watcher)
            if watcher.last is not None:
                stream.offer(watcher.last)
            watcher.streams.add(stream)
            self._streams.add(stream)
            return stream

    def leave(self, stream: _Stream) -> None:
        """Close `stream`; its watcher stops at its next restart or change if it was the last."""
        with self._lock:
            stream.watcher.streams.discard(stream)
            self._streams.discard(stream)

    async def follow(self, stream: _Stream) -> AsyncIterator[JobSummary | None]:
        """The job's summary now and each time it changes, ending with the finished one;
        None every `KEEPALIVE` seconds without a change."""
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
            self._threads.discard(watcher)
            if self._watchers.get(watcher.job_id) is watcher:
                del self._watchers[watcher.job_id]
            streams = list(watcher.streams)
        for stream in streams:
            stream.offer(None, error)
