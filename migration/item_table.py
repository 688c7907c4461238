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

from migration.records import PAID_PART_SUFFIX, LegacyItem

# LegacyItem's fields in order, with the amount as integer cents.
ITEM_COLUMNS = tuple(
    "cents" if field.name == "amount" else field.name
    for field in dataclasses.fields(LegacyItem)
)
_DATE_COLUMNS = ("issue_date", "due_date", "settled_date")
_BOOL_COLUMNS = ("disputed", "is_credit", "payment_date_assumed")
# Columns that a reader's frame may leave out, with the value they then get.
_OPTIONAL_COLUMNS = {"payment_date_assumed": False}


class ItemTable:
    """Items as a DataFrame with the columns of ``ITEM_COLUMNS``, in reader order.

    Dates are datetime64 (NaT for no settled date), and text columns hold str or
    None. Every amount must be a whole number of cents, as readers make them.
    A column of ``_OPTIONAL_COLUMNS`` that ``frame`` lacks gets its default value.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        present = [name for name in ITEM_COLUMNS if name in frame.columns]
        table = frame.loc[:, present].reset_index(drop=True)
        for name, default in _OPTIONAL_COLUMNS.items():
            if name not in table.columns:
                table[name] = default
        self.frame = table.loc[:, list(ITEM_COLUMNS)]

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
        for name in _BOOL_COLUMNS:
            frame[name] = np.array(columns[name], dtype=bool)
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


def paid_part_cents(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Find the paid parts of ``frame``'s items and the cents they pay of each item.

    A paid part is an open credit whose legacy id is that of an invoice of the same
    frame plus ``PAID_PART_SUFFIX``. Returns a mask of the paid parts and, for each
    item, the cents that paid parts pay of it (0 for most items). Only the open
    credits' legacy ids are compared, so a FEC table, which has no paid part, costs
    one pass over its few open credits.
    """
    paid_cents = np.zeros(len(frame), dtype=np.int64)
    is_paid_part = np.zeros(len(frame), dtype=bool)
    is_open_credit = (
        frame["is_credit"].to_numpy(dtype=bool)
        & frame["settled_date"].isna().to_numpy()
    )
    if not is_open_credit.any():
        return is_paid_part, paid_cents
    credit_keys = frame["legacy_id"][is_open_credit]
    suffixed = credit_keys.str.endswith(PAID_PART_SUFFIX).to_numpy(dtype=bool)
    if not suffixed.any():
        return is_paid_part, paid_cents

    candidates = credit_keys[suffixed]
    invoice_keys = candidates.str.slice(0, -len(PAID_PART_SUFFIX))
    debit_positions = pd.Series(
        np.flatnonzero(~frame["is_credit"].to_numpy(dtype=bool)),
        index=frame["legacy_id"][~frame["is_credit"]].to_numpy(),
    )
    debit_positions = debit_positions[~debit_positions.index.duplicated()]
    invoice_positions = invoice_keys.map(debit_positions)
    found = invoice_positions.notna().to_numpy()
    part_positions = candidates.index.to_numpy()[found]
    is_paid_part[part_positions] = True
    cents = frame["cents"].to_numpy()[part_positions].astype(np.int64)
    np.add.at(paid_cents, invoice_positions[found].to_numpy(dtype=np.int64), cents)
    return is_paid_part, paid_cents


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
