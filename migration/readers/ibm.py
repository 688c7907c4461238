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

from migration.messages import ReaderError, reject
from migration.parsing import checked_lines
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
REQUIRED_COLUMNS = COLUMNS[:9]
DISPUTED_VALUES = {"Yes": True, "No": False}
ENCODING = "utf-8-sig"
AMOUNT_EXAMPLE = "1234.56"
DATE_EXAMPLE = "6/30/2013"

__all__ = ["ReadStats", "ReaderError", "read_ibm"]


@dataclasses.dataclass
class ReadStats:
    rows_read: int = 0
    rows_skipped: int = 0


class _RowError(Exception):
    """The first bad field of a row, with a code of ``migration.messages.MESSAGES``."""

    def __init__(self, field: str, value: str, code: str, **params: object):
        super().__init__(code)
        self.field = field
        self.value = value
        self.code = code
        self.params = params


def _date(row: dict, field: str) -> dt.date:
    value = (row.get(field) or "").strip()
    if not value:
        raise _RowError(field, value, "value_missing")
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        raise _RowError(
            field, value, "date_invalid_month_first", example=DATE_EXAMPLE
        ) from None


def _amount(row: dict, field: str) -> Decimal:
    value = (row.get(field) or "").strip()
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise _RowError(field, value, "amount_unreadable", example=AMOUNT_EXAMPLE)
    if amount <= 0:
        raise _RowError(field, value, "amount_not_positive")
    if amount != amount.quantize(Decimal("0.01")):
        raise _RowError(
            field, value, "amount_too_precise", places=2, example=AMOUNT_EXAMPLE
        )
    return amount


def _required(row: dict, field: str) -> str:
    value = (row.get(field) or "").strip()
    if not value:
        raise _RowError(field, value, "value_missing")
    return value


def _parse_row(row: dict, as_of: dt.date) -> LegacyItem | None:
    """Return the row as an item, None when issued after ``as_of``, or raise."""
    country = _required(row, "countryCode")
    if not country.isdigit():
        raise _RowError("countryCode", country, "country_not_digits")

    customer = _required(row, "customerID")
    number = _required(row, "invoiceNumber")
    issued = _date(row, "InvoiceDate")
    due = _date(row, "DueDate")
    settled = _date(row, "SettledDate")
    amount = _amount(row, "InvoiceAmount")
    disputed_text = (row.get("Disputed") or "").strip()
    if disputed_text not in DISPUTED_VALUES:
        raise _RowError("Disputed", disputed_text, "yes_no_expected")

    for field, value in (("DueDate", due), ("SettledDate", settled)):
        if value < issued:
            raise _RowError(
                field,
                row[field],
                "date_before",
                other_field="InvoiceDate",
                other_value=row["InvoiceDate"],
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
    """Yield one item or rejection per row; rows issued after ``as_of`` are counted.

    Raises ReaderError when a required column is missing or the file is not UTF-8.
    """
    stats = stats if stats is not None else ReadStats()
    seen: dict[str, int] = {}
    with open(path, newline="", encoding=ENCODING) as handle:
        reader = csv.DictReader(checked_lines(handle, path, "utf-8"))
        found = reader.fieldnames or []
        missing = [name for name in REQUIRED_COLUMNS if name not in found]
        if missing:
            raise ReaderError(
                "columns_missing",
                path=path,
                missing=missing,
                expected=REQUIRED_COLUMNS,
                found=found,
            )
        for row in reader:
            stats.rows_read += 1
            line = reader.line_num
            try:
                item = _parse_row(row, as_of)
            except _RowError as error:
                yield reject(line, error.field, error.value, error.code, **error.params)
                continue
            number = row["invoiceNumber"].strip()
            if number in seen:
                yield reject(
                    line,
                    "invoiceNumber",
                    number,
                    "duplicate_invoice",
                    document=number,
                    first_line=seen[number],
                )
                continue
            seen[number] = line
            if item is None:
                stats.rows_skipped += 1
                continue
            yield dataclasses.replace(item, line=line)
