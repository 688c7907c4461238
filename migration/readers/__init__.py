"""Readers that turn legacy exports into ``LegacyItem`` and ``Rejection`` records.

Each reader module exposes one ``read_*`` function. The FEC and mapped readers return
a ``ReadResult``: iterate it for the records, then read its ``stats`` counters and the
``detected`` file format. This package imports no reader module, so readers can
import the shared types below without an import cycle.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import Generic, TypeVar

from migration.item_table import ItemTable
from migration.messages import ReaderError
from migration.records import LegacyItem, Rejection

__all__ = [
    "DetectedFormat",
    "Detection",
    "ReadResult",
    "ReaderError",
    "Record",
    "TableReader",
    "join_legacy_id",
]

Record = LegacyItem | Rejection
StatsT = TypeVar("StatsT")
# A function that reads a whole file into its items and its rejections, each in
# line order.
TableReader = Callable[[], tuple[ItemTable, list[Rejection]]]


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

    The counters in ``stats`` are final only once the iteration has ended. A reader
    that builds its items as an ``ItemTable`` passes ``read_table`` and no
    ``records``: iterating then makes the item objects one by one, while
    ``split_table`` returns the table without making them.
    """

    def __init__(
        self,
        records: Iterator[Record] | None,
        stats: StatsT,
        detected: DetectedFormat,
        *,
        read_table: TableReader | None = None,
    ) -> None:
        if (records is None) == (read_table is None):
            raise ValueError("give either records or read_table")
        self._read_table = read_table
        self._records = records if records is not None else self._merged_records()
        self.stats = stats
        self.detected = detected

    def __iter__(self) -> ReadResult[StatsT]:
        return self

    def __next__(self) -> Record:
        return next(self._records)

    def split_table(self) -> tuple[ItemTable, list[Rejection]]:
        """Consume the remaining records as a table of items and the rejections.

        Both are in line order, a line's rejections before its items, as iterating
        gives them.
        """
        if self._read_table is not None:
            read_table, self._read_table = self._read_table, None
            self._records = iter(())
            return read_table()
        items, rejections = self.split()
        return ItemTable.from_items(items), rejections

    def _merged_records(self) -> Iterator[Record]:
        read_table, self._read_table = self._read_table, None
        table, rejections = read_table()
        # heapq.merge is stable: on one line, rejections come before items.
        yield from heapq.merge(rejections, table, key=attrgetter("line"))

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
