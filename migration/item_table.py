"""Legacy items as columns: the same facts as a list of ``LegacyItem``.

A large export gives a million items, and one Python object per item costs more
than the rest of the import. So the FEC reader builds an ``ItemTable`` directly,
and the importer, its summary and the loader work on the table with whole-column
operations. ``to_items`` gives the objects back for the checks that need them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from decimal import Decimal

import numpy as np
import pandas as pd

from migration.records import LegacyItem

# LegacyItem's fields in order, with the amount as integer cents.
ITEM_COLUMNS = tuple(
    "cents" if field.name == "amount" else field.name
    for field in dataclasses.fields(LegacyItem)
)
_DATE_COLUMNS = ("issue_date", "due_date", "settled_date")


class ItemTable:
    """Items as a DataFrame with the columns of ``ITEM_COLUMNS``, in reader order.

    Dates are datetime64 (NaT for no settled date), and text columns hold str or
    None. Every amount must be a whole number of cents, as readers make them.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.loc[:, list(ITEM_COLUMNS)].reset_index(drop=True)

    @classmethod
    def from_items(cls, items: Iterable[LegacyItem]) -> ItemTable:
        """Build a table from ``items``.

        Raises ValueError for an amount that is not a whole number of cents.
        """
        items = list(items)
        columns = {
            name: [getattr(item, name) for item in items]
            for name in ITEM_COLUMNS
            if name != "cents"
        }
        frame = pd.DataFrame(
            {name: pd.Series(values, dtype=object) for name, values in columns.items()}
        )
        for name in _DATE_COLUMNS:
            frame[name] = days(columns[name])
        frame["line"] = np.array(columns["line"], dtype=np.int64)
        frame["disputed"] = np.array(columns["disputed"], dtype=bool)
        frame["is_credit"] = np.array(columns["is_credit"], dtype=bool)
        frame["cents"] = _cents([item.amount for item in items])
        return cls(frame)

    def to_items(self) -> list[LegacyItem]:
        return list(self)

    def __iter__(self) -> Iterator[LegacyItem]:
        columns = {name: self.column_values(name) for name in ITEM_COLUMNS}
        columns["amount"] = [
            Decimal(cents).scaleb(-2) for cents in columns.pop("cents")
        ]
        names = list(columns)
        for values in zip(*columns.values(), strict=True):
            yield LegacyItem(**dict(zip(names, values, strict=True)))

    def __len__(self) -> int:
        return len(self.frame)

    def column_values(self, name: str) -> list:
        """Return a column as Python values: dt.date or None for dates."""
        column = self.frame[name]
        if name in _DATE_COLUMNS:
            return column.to_numpy().astype("datetime64[D]").astype(object).tolist()
        return column.tolist()

    def day_values(self, name: str) -> np.ndarray:
        """Return a date column as datetime64[D], NaT where there is no date."""
        return self.frame[name].to_numpy().astype("datetime64[D]")

    def subset(self, mask: np.ndarray | pd.Series) -> ItemTable:
        return ItemTable(self.frame[np.asarray(mask, dtype=bool)])


def money(cents: np.ndarray) -> Decimal:
    """Return the total of ``cents`` as a Decimal with two places.

    The cents are summed as Python ints, which cannot overflow as int64 can.
    """
    return Decimal(sum(cents.tolist())).scaleb(-2)


def days(values: Iterable) -> np.ndarray:
    """Return dates (dt.date or None) as datetime64[D], NaT for None."""
    return np.array(list(values), dtype="datetime64[D]")


def _cents(amounts: list[Decimal]) -> np.ndarray:
    cents = []
    for amount in amounts:
        scaled = amount.scaleb(2)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"amount {amount} is not a whole number of cents")
        cents.append(int(scaled))
    try:
        return np.array(cents, dtype=np.int64)
    except OverflowError:
        return np.array(cents, dtype=object)
