"""The AR KPIs of the IBM sample, computed straight from its CSV file.

This is a second implementation, written apart from app.collection.kpi and the
database, so that tests can compare the two. It reads the file with the csv module
and Decimal. Read as of a date D, an invoice exists when issued on or before D, and
is settled in full on its SettledDate when that is on or before D.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from tests.conftest import IBM_SAMPLE

TENTH = Decimal("0.1")
CENT = Decimal("0.01")


def _date(text: str) -> dt.date:
    month, day, year = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def read_rows(country: str | None = None) -> list[dict]:
    """Return every invoice of the file, or of one country code."""
    with open(IBM_SAMPLE, newline="", encoding="utf-8-sig") as handle:
        rows = [
            {
                "country": row["countryCode"],
                "issued": _date(row["InvoiceDate"]),
                "due": _date(row["DueDate"]),
                "settled": _date(row["SettledDate"]),
                "amount": Decimal(row["InvoiceAmount"]),
            }
            for row in csv.DictReader(handle)
        ]
    return [r for r in rows if country is None or r["country"] == country]


def open_on(row: dict, day: dt.date) -> Decimal:
    if row["issued"] > day or row["settled"] <= day:
        return Decimal(0)
    return row["amount"]


def ar_on(rows: list[dict], day: dt.date) -> Decimal:
    return sum((open_on(r, day) for r in rows), Decimal(0))


def current_ar_on(rows: list[dict], day: dt.date) -> Decimal:
    return sum((open_on(r, day) for r in rows if r["due"] >= day), Decimal(0))


def sold(rows: list[dict], first: dt.date, last: dt.date) -> Decimal:
    return sum((r["amount"] for r in rows if first <= r["issued"] <= last), Decimal(0))


def tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def countback(rows: list[dict], day: dt.date) -> Decimal:
    """Walk back month by month, the current month up to ``day``, for 24 months."""
    left = ar_on(rows, day)
    days = Decimal(0)
    year, month = day.year, day.month
    for index in range(24):
        if left <= 0:
            break
        last_day = day.day if index == 0 else calendar.monthrange(year, month)[1]
        first, last = dt.date(year, month, 1), dt.date(year, month, last_day)
        sales = sold(rows, first, last)
        if sales <= left:
            days += last_day
            left -= sales
        else:
            days += left / sales * last_day
            break
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return tenth(days)


def reference_kpis(day: dt.date, country: str | None = None) -> dict[str, str | None]:
    """Return the KPIs at the end of ``day`` as the strings ``cadence kpi --json``
    prints. The IBM sample has no promises to pay."""
    rows = read_rows(country)
    total = ar_on(rows, day)
    current = current_ar_on(rows, day)
    sales = sold(rows, day - dt.timedelta(days=89), day)
    dso = tenth(total * 90 / sales) if sales else None
    best = tenth(current * 90 / sales) if sales else None
    opening = ar_on(rows, day - dt.timedelta(days=30))
    collectible = opening + sold(rows, day - dt.timedelta(days=29), day)
    denominator = collectible - current
    cei = tenth((collectible - total) * 100 / denominator) if denominator else None
    return {
        "as_of": day.isoformat(),
        "total_ar": str(total.quantize(CENT)),
        "current_ar": str(current.quantize(CENT)),
        "sales_90": str(sales.quantize(CENT)),
        "dso": None if dso is None else str(dso),
        "best_possible_dso": None if best is None else str(best),
        "add": None if dso is None else str(dso - best),
        "countback_dso": str(countback(rows, day)),
        "cei": None if cei is None else str(cei),
        "promise_kept_rate": None,
    }
