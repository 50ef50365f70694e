"""Creating and checking a file store directory: the format file and the fixed subdirectories."""

from __future__ import annotations

import contextlib
import os
import secrets

from eventsourcing.persistence import DataError, InfrastructureFactoryError

from ..shared import NoSuchStore
from .format import FORMAT_TEXT, check_format
from .io import fsync_dir, leftover_temp, make_dir, write_durable

SUBDIRECTORIES = ("feed", "streams", "tracking", "tmp", "trash")
HOME_ENTRIES = frozenset({"events", "snapshots", "views", "apps", "lost+found"})
"""What a store directory (`JOBLEDGER_FILE_DIR`) may hold before a store is created there:
the stores of the Tracker (events/, snapshots/) and of other applications (apps/), the status
views (views/), and a file system's lost+found when the directory is a mount point."""
_STORES = ("events", "snapshots")


class ForeignDirectory(InfrastructureFactoryError):
    """A store was to be created in a directory that holds other things and no store."""


def open_layout(root: str, *, create: bool = True, home: str | None = None) -> None:
    """Create the store at `root` on first use, else check its format; clean dead temp files.
    With `create=False` write nothing: a missing store raises `NoSuchStore`. `home`, if
    given, is the store directory `root` lives in: a store is created there only if it is
    new, empty, or already holds a store (else `ForeignDirectory`, nothing written).

    Raises `DataError` for a store of a newer format, a damaged layout, or a non-empty
    directory that is not a store.
    """
    format_path = os.path.join(root, "FORMAT")
    if not create:
        if not os.path.lexists(format_path):
            raise NoSuchStore(
                f"no jobledger file store in {os.path.dirname(root)} ({format_path} is missing):"
                " check the path, or create a job there (`jobledger create`) to start one"
            )
        _check(root, format_path)
        return
    if home is not None and not os.path.lexists(format_path):
        check_home(home)
    if not os.path.isdir(root):
        os.makedirs(root, exist_ok=True)
        fsync_dir(os.path.dirname(root))
    if not os.path.lexists(format_path):
        _create(root, format_path)
    _check(root, format_path)
    tmp = os.path.join(root, "tmp")
    for name in os.listdir(tmp):
        if leftover_temp(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(tmp, name))


def check_home(home: str) -> None:
    """Refuse to create a store in `home` if it holds anything but `HOME_ENTRIES` and no
    store yet: a mistyped path (`/etc`, a project folder) must not gain a store's folders."""
    if not os.path.isdir(home) or _holds_store(home):
        return
    foreign = sorted(set(os.listdir(home)) - HOME_ENTRIES)
    if foreign:
        raise ForeignDirectory(
            f"{home} is not a jobledger store and is not empty (it holds {foreign[0]!r}"
            f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}): "
            "create a store in a new or empty directory"
        )


def _holds_store(home: str) -> bool:
    """Whether `home` holds a file store: the Tracker's or another application's."""
    apps = os.path.join(home, "apps")
    homes = [home, *(os.path.join(apps, name) for name in _list(apps))]
    return any(os.path.lexists(os.path.join(h, p, "FORMAT")) for h in homes for p in _STORES)


def _list(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check(root: str, format_path: str) -> None:
    with open(format_path, encoding="utf-8", errors="replace") as file:
        check_format(file.read(4096), format_path)
    for name in SUBDIRECTORIES:
        if not os.path.isdir(os.path.join(root, name)):
            raise DataError(f"damaged file store {root}: directory {name}/ is missing")


def _create(root: str, format_path: str) -> None:
    foreign = {
        name
        for name in os.listdir(root)
        if name not in {*SUBDIRECTORIES, "lock"} and not name.startswith("FORMAT.")
    }
    if foreign:
        raise DataError(
            f"{root} is not a jobledger file store (no FORMAT file) and is not empty: "
            f"{sorted(foreign)[:5]}"
        )
    for name in SUBDIRECTORIES:
        make_dir(os.path.join(root, name))
    temporary = f"{format_path}.{secrets.token_hex(8)}"
    write_durable(temporary, FORMAT_TEXT.encode())
    with contextlib.suppress(FileExistsError):  # another process created the store meanwhile
        os.link(temporary, format_path)
    os.unlink(temporary)
    fsync_dir(root)
