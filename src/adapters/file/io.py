"""File operations the file store limits itself to, safe on local disks and on NFSv4.

Exclusive create, write to a temporary name then fsync, link or rename into place, fsync of
directories after adding entries, and one POSIX (fcntl) lock per store. Operating-system errors
are translated into eventsourcing's `OperationalError` at one choke point, `translated()`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import OperationalError

from .format import HEADER_SIZE, Batch, decode_batch, decode_span, decode_tombstone

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]
_counter = itertools.count()


@contextmanager
def translated(root: str) -> Iterator[None]:
    """Turn an `OSError` raised inside the block into an `OperationalError` naming the path."""
    try:
        yield
    except OSError as exc:
        path = exc.filename or root
        if not os.path.isdir(root):
            message = f"file store directory {root} is missing ({exc.strerror}: {path})"
        elif exc.errno in _NO_SPACE:
            message = f"file store {root}: no space left on device writing {path}"
        else:
            message = f"file store {root}: cannot access {path}: {exc.strerror or exc}"
        raise OperationalError(message) from exc


def temp_name(tmp_dir: str) -> str:
    """A fresh name in the store's temporary directory, tagged with this host and process."""
    return os.path.join(tmp_dir, f"{HOST}-{os.getpid()}-{next(_counter)}-{os.urandom(4).hex()}")


def leftover_temp(name: str) -> bool:
    """Whether a temporary file was left by a dead process on this host (safe to remove)."""
    host, _, rest = name.partition("-")
    pid = rest.partition("-")[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def write_durable(path: str, data: bytes) -> None:
    """Create `path` exclusively, write `data` and fsync it; remove it again on failure."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        os.unlink(path)
        raise OSError(exc.errno, exc.strerror, path) from exc
    os.close(fd)


def fsync_dir(path: str) -> None:
    """Make the entries of directory `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir(path: str, *, sync: bool = True) -> bool:
    """Create directory `path` (its parent must exist); False if it already existed.

    With `sync`, the new entry is made durable at once; otherwise the caller fsyncs the parent.
    """
    try:
        os.mkdir(path)
    except FileExistsError:
        return False
    if sync:
        fsync_dir(os.path.dirname(path))
    return True


def read_batch(path: str, *, header_only: bool = False) -> Batch | None:
    """Read the batch or tombstone at `path`, or None if there is none.

    With `header_only`, only the span is read and the returned batch has no events.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        return decode_tombstone(os.readlink(path), path)
    try:
        if header_only:
            return Batch(decode_span(os.read(fd, HEADER_SIZE), path), ())
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from exc
    finally:
        os.close(fd)
    return decode_batch(b"".join(chunks), path)


def list_numbers(path: str, *, missing_ok: bool = True) -> list[int]:
    """The integer names in directory `path`, ascending; empty if it does not exist."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        if missing_ok:
            return []
        raise
    return sorted(int(name) for name in names if name.lstrip("-").isdigit())


class StoreLock:
    """The store's global lock: an fcntl lock on one file, plus a thread lock.

    POSIX locks belong to a process and are dropped when any of its descriptors for the file
    closes, so each process keeps one descriptor per store (see `store_lock()`).
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._thread_lock = threading.Lock()
        self._owner: int | None = None  # the thread holding it

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the block (at once if this thread holds it)."""
        if self._owner == threading.get_ident():
            yield
            return
        with self._thread_lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                with self._owned():
                    yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    @contextmanager
    def tried(self) -> Iterator[bool]:
        """Hold the lock for the block if no thread or process holds it now; yield whether
        it is held."""
        if not self._thread_lock.acquire(blocking=False):
            yield False
            return
        try:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                yield False
                return
            try:
                with self._owned():
                    yield True
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    @contextmanager
    def _owned(self) -> Iterator[None]:
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None

    def await_free(self) -> None:
        """Block until no thread or process holds the lock (and leave it free)."""
        with self._thread_lock:
            fcntl.lockf(self._fd, fcntl.LOCK_SH)
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def is_for(self, path: str) -> bool:
        """Whether `path` is still the file this lock holds (not removed and recreated)."""
        try:
            return os.path.samestat(os.stat(path), os.fstat(self._fd))
        except FileNotFoundError:
            return False

    def close(self) -> None:
        """Release the descriptor (only in a forked child, which holds no locks)."""
        os.close(self._fd)


_locks: dict[str, StoreLock] = {}
_locks_guard = threading.Lock()


def store_lock(path: str) -> StoreLock:
    """The one `StoreLock` of this process for the lock file at `path`."""
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None or not lock.is_for(path):
            lock = _locks[path] = StoreLock(path)
        return lock


def _forget_locks() -> None:
    global _locks_guard  # noqa: PLW0603 - a forked child must not inherit a held guard
    _locks_guard = threading.Lock()
    for lock in _locks.values():
        lock.close()
    _locks.clear()


os.register_at_fork(after_in_child=_forget_locks)
