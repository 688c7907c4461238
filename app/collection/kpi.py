"""Accounts-receivable KPIs computed from plain invoice and promise records.

Every function is pure. Money is rounded half-up to the cent, days and percentages
half-up to one decimal. A ratio whose denominator is zero is None, which the UI
shows as "n/a". The first paragraph of each KPI function's docstring is the
definition shown to users and is collected in KPI_DEFINITIONS.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from app.ledger.money import ZERO, to_money

SALES_WINDOW_DAYS = 90
CEI_WINDOW_DAYS = 30
PROMISE_WINDOW_DAYS = 30
COUNTBACK_MAX_MONTHS = 24
NOT_AVAILABLE = "n/a"

_ONE_DECIMAL = Decimal("0.1")
_HUNDRED = Decimal(100)
_DECIMAL_PRECISION = 34


@dataclass(frozen=True)
class InvoiceFact:
    """Invoice amount and dates, with its settlements as (date, amount) pairs."""

    issue_date: date
    due_date: date
    amount: Decimal
    settlements: tuple[tuple[date, Decimal], ...] = ()

    def open_amount(self, at: date) -> Decimal:
        """Return the amount left to pay at the end of day ``at``.

        An invoice issued after ``at`` is not open, so this returns zero. Overpayment
        makes the result negative, which lowers AR like a credit would.
        """
        if self.issue_date > at:
            return ZERO
        settled = sum((amount for day, amount in self.settlements if day <= at), ZERO)
        return self.amount - settled


class PromiseStatus(StrEnum):
    KEPT = "kept"
    BROKEN = "broken"
    PENDING = "pending"


@dataclass(frozen=True)
class PromiseFact:
    """Customer's promise to pay ``amount`` by ``due_date``, with its current status."""

    due_date: date
    amount: Decimal
    status: PromiseStatus


def total_ar(invoices: Sequence[InvoiceFact], as_of: date) -> Decimal:
    """Total AR is the sum of the amounts still open on all issued invoices at the end
    of the as-of date."""
    return to_money(sum((i.open_amount(as_of) for i in invoices), ZERO))


def current_ar(invoices: Sequence[InvoiceFact], as_of: date) -> Decimal:
    """Current AR is the part of total AR on invoices that are due on or after the
    as-of date."""
    open_amounts = (i.open_amount(as_of) for i in invoices if i.due_date >= as_of)
    return to_money(sum(open_amounts, ZERO))


def sales_90(invoices: Sequence[InvoiceFact], as_of: date) -> Decimal:
    """Sales (90 days) is the total amount of the invoices issued in the 90 days
    ending on the as-of date, both ends included."""
    first = as_of - timedelta(days=SALES_WINDOW_DAYS - 1)
    return sales_between(invoices, first, as_of)


def sales_between(invoices: Sequence[InvoiceFact], first: date, last: date) -> Decimal:
    """Return the total amount of invoices issued from ``first`` to ``last``."""
    amounts = (i.amount for i in invoices if first <= i.issue_date <= last)
    return to_money(sum(amounts, ZERO))


def simple_dso(total_ar: Decimal, sales_90: Decimal) -> Decimal | None:
    """DSO is total AR divided by the sales of the last 90 days, times 90 days."""
    return _round_tenth(_ratio(total_ar * SALES_WINDOW_DAYS, sales_90))


def best_possible_dso(current_ar: Decimal, sales_90: Decimal) -> Decimal | None:
    """Best possible DSO is current AR divided by the sales of the last 90 days,
    times 90 days."""
    return _round_tenth(_ratio(current_ar * SALES_WINDOW_DAYS, sales_90))


def average_days_delinquent(
    dso: Decimal | None, best_possible: Decimal | None
) -> Decimal | None:
    """Average days delinquent (ADD) is DSO minus best possible DSO, each rounded to
    one decimal first."""
    # Subtracting the rounded figures keeps the three numbers on screen consistent.
    if dso is None or best_possible is None:
        return None
    return dso - best_possible


def countback_dso(invoices: Sequence[InvoiceFact], as_of: date) -> Decimal | None:
    """Countback DSO is the number of days of the latest sales, counted back month by
    month from the as-of date, that add up to total AR, where months without sales
    count in full and the count stops after 24 months."""
    ar_left = total_ar(invoices, as_of)
    if ar_left < 0:
        return None  # customer credits exceed open invoices, so no days to count
    sales_by_month = _sales_by_month(invoices, as_of)
    days = Decimal(0)
    with localcontext() as context:
        context.prec = _DECIMAL_PRECISION
        for first, last in _months_back(as_of, COUNTBACK_MAX_MONTHS):
            if ar_left <= 0:
                break
            month_days = (last - first).days + 1
            sales = sales_by_month.get((first.year, first.month), ZERO)
            # A month whose sales AR left covers counts in full. This includes a month
            # without sales, so the walk goes on past it.
            if sales <= ar_left:
                days += month_days
                ar_left -= sales
            else:
                days += ar_left / sales * month_days
                break
    return _round_tenth(days)


def collection_effectiveness_index(
    invoices: Sequence[InvoiceFact], as_of: date
) -> Decimal | None:
    """Collection effectiveness index (CEI) is AR 30 days ago plus the last 30 days'
    sales minus AR now, divided by AR 30 days ago plus those sales minus current AR
    now, as a percentage."""
    first = as_of - timedelta(days=CEI_WINDOW_DAYS - 1)
    opening_ar = total_ar(invoices, first - timedelta(days=1))
    collectible = opening_ar + sales_between(invoices, first, as_of)
    collected = collectible - total_ar(invoices, as_of)
    denominator = collectible - current_ar(invoices, as_of)
    return _round_tenth(_ratio(collected * _HUNDRED, denominator))


def promise_kept_rate(promises: Sequence[PromiseFact], as_of: date) -> Decimal | None:
    """Promise-kept rate is the number of kept promises divided by the number of kept
    or broken ones, among promises due in the 30 days ending on the as-of date, as a
    percentage."""
    first = as_of - timedelta(days=PROMISE_WINDOW_DAYS - 1)
    due = [p for p in promises if first <= p.due_date <= as_of]
    kept_count = sum(1 for p in due if p.status == PromiseStatus.KEPT)
    broken_count = sum(1 for p in due if p.status == PromiseStatus.BROKEN)
    resolved_count = Decimal(kept_count + broken_count)
    return _round_tenth(_ratio(Decimal(kept_count) * _HUNDRED, resolved_count))


def _definition(function: Callable[..., object]) -> str:
    """Return the first paragraph of a docstring as one line."""
    docstring = inspect.getdoc(function) or ""
    return " ".join(docstring.split("\n\n")[0].split())


KPI_DEFINITIONS: dict[str, str] = {
    "total_ar": _definition(total_ar),
    "current_ar": _definition(current_ar),
    "sales_90": _definition(sales_90),
    "dso": _definition(simple_dso),
    "best_possible_dso": _definition(best_possible_dso),
    "add": _definition(average_days_delinquent),
    "countback_dso": _definition(countback_dso),
    "cei": _definition(collection_effectiveness_index),
    "promise_kept_rate": _definition(promise_kept_rate),
}


@dataclass(frozen=True)
class KpiResult:
    """KPIs at the end of ``as_of``, rounded for display."""

    as_of: date
    total_ar: Decimal
    current_ar: Decimal
    sales_90: Decimal
    dso: Decimal | None
    best_possible_dso: Decimal | None
    add: Decimal | None
    countback_dso: Decimal | None
    cei: Decimal | None
    promise_kept_rate: Decimal | None

    def as_json_dict(self) -> dict[str, str | None]:
        """Return every figure as a string, None where it is not available."""
        result: dict[str, str | None] = {"as_of": self.as_of.isoformat()}
        for field in fields(self):
            if field.name == "as_of":
                continue
            value = getattr(self, field.name)
            result[field.name] = None if value is None else str(value)
        return result

    def as_display_dict(self) -> dict[str, str]:
        """Return every figure as a string, "n/a" where it is not available."""
        return {
            name: NOT_AVAILABLE if value is None else value
            for name, value in self.as_json_dict().items()
        }


def compute_kpis(
    invoices: Sequence[InvoiceFact], promises: Sequence[PromiseFact], as_of: date
) -> KpiResult:
    """Compute every KPI at the end of ``as_of``."""
    ar = total_ar(invoices, as_of)
    current = current_ar(invoices, as_of)
    sales = sales_90(invoices, as_of)
    dso = simple_dso(ar, sales)
    best = best_possible_dso(current, sales)
    return KpiResult(
        as_of=as_of,
        total_ar=ar,
        current_ar=current,
        sales_90=sales,
        dso=dso,
        best_possible_dso=best,
        add=average_days_delinquent(dso, best),
        countback_dso=countback_dso(invoices, as_of),
        cei=collection_effectiveness_index(invoices, as_of),
        promise_kept_rate=promise_kept_rate(promises, as_of),
    )


def monthly_trend(
    invoices: Sequence[InvoiceFact],
    promises: Sequence[PromiseFact],
    months: int,
    end: date,
) -> list[KpiResult]:
    """Compute the KPIs at each month end of the ``months`` months ending with ``end``.

    The last point is ``end`` itself, so a mid-month ``end`` gives month-to-date
    figures instead of figures at a future month end. Points are oldest first.
    Promise statuses are the current ones, also for past points.
    """
    if months < 1:
        raise ValueError(f"invalid number of months {months}: expected at least 1")
    points = [last for _, last in _months_back(end, months)]
    return [compute_kpis(invoices, promises, point) for point in reversed(points)]


def _months_back(as_of: date, count: int) -> Iterator[tuple[date, date]]:
    """Yield (first, last) days of ``count`` months, newest first.

    The first month runs from the 1st to ``as_of``, the others are whole months.
    """
    first, last = as_of.replace(day=1), as_of
    for _ in range(count):
        yield first, last
        last = first - timedelta(days=1)
        first = last.replace(day=1)


def _sales_by_month(
    invoices: Sequence[InvoiceFact], as_of: date
) -> dict[tuple[int, int], Decimal]:
    """Return the amount issued per (year, month), up to and including ``as_of``."""
    sales: dict[tuple[int, int], Decimal] = {}
    for invoice in invoices:
        if invoice.issue_date <= as_of:
            key = (invoice.issue_date.year, invoice.issue_date.month)
            sales[key] = sales.get(key, ZERO) + invoice.amount
    return sales


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    with localcontext() as context:
        context.prec = _DECIMAL_PRECISION
        return numerator / denominator


def _round_tenth(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)
