"""The per-stream index of the file store: one marker per run of versions in a batch.

A marker is a hard link to the batch file, named `<first>_<last>_<position>` in the stream's
directory `streams/<key[:2]>/<key>/`: versions `first` to `last` of the stream are in the batch
at feed `position`. A hard link
costs no new inode and no data, and the name carries everything a conflict check needs. A
marker counts only if the feed batch at its position holds its versions: one left by a writer
killed before its commit point is ignored by readers and removed by the next writer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from eventsourcing.persistence import DataError, StoredEvent

from .format import Batch, stream_key


@dataclass(frozen=True)
class Marker:
    """Versions `first`..`last` of the stream in `directory`, in the batch at `position`."""

    first: int
    last: int
    position: int
    directory: str

    @property
    def path(self) -> str:
        """The marker's own path."""
        return os.path.join(self.directory, f"{self.first}_{self.last}_{self.position}")

    def events_in(self, batch: Batch | None, key: str) -> list[tuple[int, StoredEvent]] | None:
        """The marker's events in `batch` with their feed positions, in version order; None
        unless all are there."""
        found = [
            (self.position + offset, event)
            for offset, event in (batch.events if batch else ())
            if self.first <= event.originator_version <= self.last
            and stream_key(event.originator_id) == key
        ]
        if len(found) != self.last - self.first + 1:
            return None
        return sorted(found, key=lambda pair: pair[1].originator_version)


def list_markers(directory: str, low: int | None = None, high: int | None = None) -> list[Marker]:
    """The markers of a stream directory overlapping `low`..`high`, by first version.

    Empty if there is no such directory.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    markers = []
    for name in names:
        try:
            first, last, position = map(int, name.split("_"))
        except ValueError:
            raise DataError(
                f"damaged store: unexpected entry {os.path.join(directory, name)}"
            ) from None
        if (high is None or first <= high) and (low is None or last >= low):
            markers.append(Marker(first, last, position, directory))
    markers.sort(key=lambda marker: marker.first)
    return markers
