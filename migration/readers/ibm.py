"""Reader for the IBM Watson Analytics accounts-receivable sample export.

The file is an invoice history in which every invoice is eventually settled. Read as
of a date D, an invoice issued after D does not exist yet (skipped and counted), one
settled on or before D is paid, and any other one is open on D.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from migration.records import ItemKind, LegacyItem, Rejection

SOURCE = "ibm-ar"
COLUMNS = (
    "countryCode",
    "customerID",
    "PaperlessDate",
    "invoiceNumber",
    "InvoiceDate",
    "DueDate",
    "InvoiceAmount",
    "Disputed",
    "SettledDate",
    "PaperlessBill",
    "DaysToSettle",
    "DaysLate",
)
DISPUTED_VALUES = {"Yes": True, "No": False}


class ReaderError(ValueError):
    """The file as a whole cannot be read (wrong columns, wrong encoding)."""


@dataclasses.dataclass
class ReadStats:
    rows_read: int = 0
    rows_skipped: int = 0


class _RowError(Exception):
    def __init__(self, field: str, value: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


def _date(row: dict, field: str) -> dt.date:
    value = (row.get(field) or "").strip()
    if not value:
        raise _RowError(field, value, "date is missing; expected month/day/year")
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        raise _RowError(
            field, value, "date is invalid; expected month/day/year such as 6/30/2013"
        ) from None


def _amount(row: dict, field: str) -> Decimal:
    value = (row.get(field) or "").strip()
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise _RowError(
            field, value, "amount is unreadable; expected a number such as 1234.56"
        )
    if amount <= 0:
        raise _RowError(field, value, "amount must be greater than zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise _RowError(field, value, "amount has more than two decimals")
    return amount


def _required(row: dict, field: str) -> str:
    value = (row.get(field) or "").strip()
    if not value:
        raise _RowError(field, value, "value is missing")
    return value


def _parse_row(row: dict, as_of: dt.date) -> LegacyItem | None:
    """Return the row as an item, None when issued after ``as_of``, or raise."""
    country = _required(row, "countryCode")
    if not country.isdigit():
        raise _RowError("countryCode", country, "country code must be digits only")

    customer = _required(row, "customerID")
    number = _required(row, "invoiceNumber")
    issued = _date(row, "InvoiceDate")
    due = _date(row, "DueDate")
    settled = _date(row, "SettledDate")
    amount = _amount(row, "InvoiceAmount")
    disputed_text = (row.get("Disputed") or "").strip()
    if disputed_text not in DISPUTED_VALUES:
        raise _RowError("Disputed", disputed_text, "expected Yes or No")

    if due < issued:
        raise _RowError("DueDate", row["DueDate"], "due date is before the invoice date")
    if settled < issued:
        raise _RowError(
            "SettledDate", row["SettledDate"], "settled date is before the invoice date"
        )
    if issued > as_of:
        return None

    return LegacyItem(
        line=0,
        legacy_id=number,
        customer_legacy_id=customer,
        customer_name=customer,
        team=f"country-{country}",
        country=country,
        kind=ItemKind.INVOICE,
        document=number,
        issue_date=issued,
        due_date=due,
        amount=amount,
        settled_date=settled if settled <= as_of else None,
        disputed=DISPUTED_VALUES[disputed_text],
    )


def read_ibm(
    path: Path, as_of: dt.date, stats: ReadStats | None = None
) -> Iterator[LegacyItem | Rejection]:
    """Yield one item or rejection per row; rows issued after ``as_of`` are counted."""
    stats = stats if stats is not None else ReadStats()
    seen: dict[str, int] = {}
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
        with handle:
            reader = csv.DictReader(handle)
            missing = [name for name in COLUMNS[:9] if name not in (reader.fieldnames or [])]
            if missing:
                raise ReaderError(
                    f"{path}: missing columns {', '.join(missing)}; "
                    f"found {', '.join(reader.fieldnames or [])}"
                )
            for row in reader:
                stats.rows_read += 1
                line = reader.line_num
                try:
                    item = _parse_row(row, as_of)
                except _RowError as error:
                    yield Rejection(line, error.field, error.value, error.reason)
                    continue
                number = row["invoiceNumber"].strip()
                if number in seen:
                    yield Rejection(
                        line,
                        "invoiceNumber",
                        number,
                        f"duplicate invoice number; first seen on line {seen[number]}",
                    )
                    continue
                seen[number] = line
                if item is None:
                    stats.rows_skipped += 1
                    continue
                yield dataclasses.replace(item, line=line)
    except UnicodeDecodeError as error:
        raise ReaderError(f"{path}: not UTF-8 text ({error})") from None
