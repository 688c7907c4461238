"""Readers that turn legacy exports into ``LegacyItem`` and ``Rejection`` records.

Each reader module exposes one ``read_*`` function. The FEC and mapped readers return
a ``ReadResult``: iterate it for the records, then read its ``stats`` counters and the
``detected`` file format. This package imports no reader module, so readers can
import the shared types below without an import cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Generic, TypeVar

from migration.messages import ReaderError
from migration.records import LegacyItem, Rejection

__all__ = [
    "DetectedFormat",
    "Detection",
    "ReadResult",
    "ReaderError",
    "Record",
    "join_legacy_id",
]

Record = LegacyItem | Rejection
StatsT = TypeVar("StatsT")


@dataclasses.dataclass(frozen=True, slots=True)
class Detection:
    """One reading setting (encoding, separator, ...) and where its value came from."""

    value: str | None
    source: str  # "profile" when the caller set it, "detected" otherwise
    note: str | None = None

    def __str__(self) -> str:
        text = "none" if self.value is None else repr(self.value)
        text = f"{text} ({self.source})"
        if self.note:
            text += f": {self.note}"
        return text


@dataclasses.dataclass(frozen=True, slots=True)
class DetectedFormat:
    """Reading settings that a reader chose for a file, and the columns it found."""

    path: str
    file_type: str  # "csv", "xlsx" or "fec"
    settings: dict[str, Detection]
    columns: tuple[str, ...]

    def __str__(self) -> str:
        lines = [f"{self.path} ({self.file_type})"]
        lines += [f"  {name}: {detection}" for name, detection in self.settings.items()]
        lines.append(f"  columns: {', '.join(self.columns)}")
        return "\n".join(lines)


class ReadResult(Generic[StatsT]):
    """Iterator over the records of one file, with counters and the detected format.

    The counters in ``stats`` are final only once the iteration has ended.
    """

    def __init__(
        self, records: Iterator[Record], stats: StatsT, detected: DetectedFormat
    ) -> None:
        self._records = records
        self.stats = stats
        self.detected = detected

    def __iter__(self) -> ReadResult[StatsT]:
        return self

    def __next__(self) -> Record:
        return next(self._records)

    def split(self) -> tuple[list[LegacyItem], list[Rejection]]:
        """Consume the remaining records and return the items and the rejections."""
        items: list[LegacyItem] = []
        rejections: list[Rejection] = []
        for record in self:
            if isinstance(record, Rejection):
                rejections.append(record)
            else:
                items.append(record)
        return items, rejections


def join_legacy_id(*parts: str) -> str:
    """Join ``parts`` into a legacy id with colons.

    Each part has % and : percent-encoded, so different parts never give the same id.
    """
    return ":".join(part.replace("%", "%25").replace(":", "%3A") for part in parts)
