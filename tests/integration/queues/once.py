"""A marker shared by the task modules: lets a task fail or crash on its first run only."""

from __future__ import annotations

import os


def first_time(marker: str) -> bool:
    """True the first time a marker file is claimed, across processes."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True
