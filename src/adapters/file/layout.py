"""Creating and checking a file store directory: the format file and the fixed subdirectories."""

from __future__ import annotations

import contextlib
import os
import secrets

from eventsourcing.persistence import DataError

from ..shared import NoSuchStore
from .format import FORMAT_TEXT, check_format
from .io import fsync_dir, leftover_temp, make_dir, write_durable

SUBDIRECTORIES = ("feed", "streams", "tracking", "tmp", "trash")


def open_layout(root: str, *, create: bool = True) -> None:
    """Create the store at `root` on first use, else check its format; clean dead temp files.
    With `create=False` write nothing: a missing store raises `NoSuchStore`.

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
