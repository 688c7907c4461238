"""AR KPIs on a small hand-made ledger, with every expected figure computed by hand.

The main ledger is read as of Friday 2024-03-15 (2024 is a leap year):
- 90-day sales window: 2023-12-17..2024-03-15 (D-89..D).
- 30-day CEI and promise window: 2024-02-15..2024-03-15, opening AR at 2024-02-14.

Invoice  issued      due         amount   settlements              open at D
A        2023-11-20  2023-12-20  1000.00  400.00 on 2024-01-10       600.00
B        2023-12-17  2024-01-16  2000.00  2000.00 on 2024-02-20        0.00
C        2024-01-25  2024-02-24  1500.00  -                         1500.00
D        2024-02-20  2024-03-21  3000.00  1000.00 on 2024-03-15     2000.00 current
E        2024-03-10  2024-03-15   500.00  -                          500.00 current
F        2024-03-16  2024-04-15   700.00  -                  not yet issued
G        2023-12-16  2024-01-15   800.00  800.00 on 2024-01-15         0.00
"""

from datetime import date
from decimal import Decimal

import pytest

from app.collection.kpi import (
    KPI_DEFINITIONS,
    InvoiceFact,
    PromiseFact,
    PromiseStatus,
    compute_kpis,
    countback_dso,
    monthly_trend,
)

AS_OF = date(2024, 3, 15)


def invoice(
    issued: str, due: str, amount: str, *settlements: tuple[str, str]
) -> InvoiceFact:
    return InvoiceFact(
        issue_date=date.fromisoformat(issued),
        due_date=date.fromisoformat(due),
        amount=Decimal(amount),
        settlements=tuple(
            (date.fromisoformat(day), Decimal(paid)) for day, paid in settlements
        ),
    )


def promise(due: str, status: PromiseStatus) -> PromiseFact:
    return PromiseFact(date.fromisoformat(due), Decimal("100.00"), status)


LEDGER = (
    invoice("2023-11-20", "2023-12-20", "1000.00", ("2024-01-10", "400.00")),  # A
    invoice("2023-12-17", "2024-01-16", "2000.00", ("2024-02-20", "2000.00")),  # B
    invoice("2024-01-25", "2024-02-24", "1500.00"),  # C
    invoice("2024-02-20", "2024-03-21", "3000.00", ("2024-03-15", "1000.00")),  # D
    invoice("2024-03-10", "2024-03-15", "500.00"),  # E
    invoice("2024-03-16", "2024-04-15", "700.00"),  # F
    invoice("2023-12-16", "2024-01-15", "800.00", ("2024-01-15", "800.00")),  # G
)

PROMISES = (
    promise("2024-02-15", PromiseStatus.KEPT),  # first day of the window
    promise("2024-03-01", PromiseStatus.BROKEN),
    promise("2024-03-15", PromiseStatus.KEPT),  # last day of the window
    promise("2024-03-10", PromiseStatus.PENDING),  # not counted
    promise("2024-02-14", PromiseStatus.BROKEN),  # before the window
    promise("2024-03-16", PromiseStatus.KEPT),  # after the window
)


# --- Main ledger --------------------------------------------------------------------


def test_ledger_ar_and_sales():
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    # A 600 + C 1500 + D 2000 + E 500. D's payment on the as-of day counts.
    assert result.total_ar == Decimal("4600.00")
    # D (due 03-21) 2000 + E (due on the as-of day) 500. F is not issued yet.
    assert result.current_ar == Decimal("2500.00")
    # B (issued on D-89) 2000 + C 1500 + D 3000 + E 500. G was issued on D-90.
    assert result.sales_90 == Decimal("7000.00")


def test_ledger_dso_figures():
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    # 4600 / 7000 x 90 = 59.142... -> 59.1
    assert result.dso == Decimal("59.1")
    # 2500 / 7000 x 90 = 32.142... -> 32.1
    assert result.best_possible_dso == Decimal("32.1")
    # 59.1 - 32.1
    assert result.add == Decimal("27.0")


def test_ledger_countback_spans_three_months():
    # Sales by month up to D: March 1-15 E 500, February D 3000, January C 1500.
    # AR 4600 covers March (500): 15 days, 4100 left.
    # 4100 covers February (3000): 29 days, 1100 left.
    # 1100 < January's 1500: 1100 / 1500 x 31 = 22.733... days.
    # 15 + 29 + 22.733... = 66.733... -> 66.7
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    assert result.countback_dso == Decimal("66.7")


def test_ledger_cei():
    # AR at 2024-02-14: A 600 + B 2000 + C 1500 = 4100 (D not issued, G paid).
    # Sales 02-15..03-15: D 3000 + E 500 = 3500.
    # (4100 + 3500 - 4600) / (4100 + 3500 - 2500) x 100 = 3000 / 5100 x 100
    # = 58.823... -> 58.8
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    assert result.cei == Decimal("58.8")


def test_ledger_promise_kept_rate():
    # In the window: 2 kept, 1 broken, 1 pending (ignored). 2 / 3 x 100 = 66.666...
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    assert result.promise_kept_rate == Decimal("66.7")


def test_ledger_json_dict():
    result = compute_kpis(LEDGER, PROMISES, AS_OF)

    assert result.as_json_dict() == {
        "as_of": "2024-03-15",
        "total_ar": "4600.00",
        "current_ar": "2500.00",
        "sales_90": "7000.00",
        "dso": "59.1",
        "best_possible_dso": "32.1",
        "add": "27.0",
        "countback_dso": "66.7",
        "cei": "58.8",
        "promise_kept_rate": "66.7",
    }


def test_open_amount_by_date():
    invoice_d = LEDGER[3]

    assert invoice_d.open_amount(date(2024, 2, 19)) == Decimal("0")
    assert invoice_d.open_amount(date(2024, 2, 20)) == Decimal("3000.00")
    assert invoice_d.open_amount(date(2024, 3, 14)) == Decimal("3000.00")
    assert invoice_d.open_amount(date(2024, 3, 15)) == Decimal("2000.00")


# --- Monthly trend ------------------------------------------------------------------


def test_monthly_trend_points():
    trend = monthly_trend(LEDGER, PROMISES, 3, AS_OF)

    assert [point.as_of for point in trend] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        AS_OF,
    ]
    # 2024-01-31: A 600 + B 2000 + C 1500 (G paid on 01-15).
    assert trend[0].total_ar == Decimal("4100.00")
    # 2024-02-29: A 600 + C 1500 + D 3000 (B paid on 02-20).
    assert trend[1].total_ar == Decimal("5100.00")
    # Window 2023-12-02..2024-02-29: B 2000 + G 800 + C 1500 + D 3000.
    assert trend[1].sales_90 == Decimal("7300.00")
    assert trend[2] == compute_kpis(LEDGER, PROMISES, AS_OF)


def test_monthly_trend_ending_on_month_end():
    trend = monthly_trend(LEDGER, PROMISES, 2, date(2024, 2, 29))

    assert [point.as_of for point in trend] == [date(2024, 1, 31), date(2024, 2, 29)]


def test_monthly_trend_rejects_zero_months():
    with pytest.raises(ValueError, match="invalid number of months 0"):
        monthly_trend(LEDGER, PROMISES, 0, AS_OF)


# --- Edge cases ---------------------------------------------------------------------


def test_empty_ledger():
    result = compute_kpis((), (), AS_OF)

    assert result.total_ar == Decimal("0.00")
    assert result.current_ar == Decimal("0.00")
    assert result.sales_90 == Decimal("0.00")
    assert result.dso is None
    assert result.best_possible_dso is None
    assert result.add is None
    assert result.countback_dso == Decimal("0.0")
    assert result.cei is None  # 0 / 0
    assert result.promise_kept_rate is None
    assert result.as_json_dict()["dso"] is None
    assert result.as_display_dict()["dso"] == "n/a"
    assert result.as_display_dict()["total_ar"] == "0.00"


def test_no_recent_sales_countback_capped():
    # One unpaid invoice from 2021, nothing sold since. The walk counts 24 months
    # without sales in full and stops: 2024-03-01..15 (15) + February 2024 (29)
    # + January 2024 (31) + 2023 (365) + April..December 2022 (275) = 715 days.
    ledger = (invoice("2021-01-10", "2021-02-09", "1000.00"),)

    result = compute_kpis(ledger, (), AS_OF)

    assert result.total_ar == Decimal("1000.00")
    assert result.sales_90 == Decimal("0.00")
    assert result.dso is None
    assert result.best_possible_dso is None
    assert result.add is None
    assert result.countback_dso == Decimal("715.0")
    # (1000 + 0 - 1000) / (1000 + 0 - 0) x 100
    assert result.cei == Decimal("0.0")


def test_ar_zero_with_sales():
    # Invoiced 500 on 2024-03-01 and paid in full on 2024-03-10.
    ledger = (invoice("2024-03-01", "2024-03-31", "500.00", ("2024-03-10", "500.00")),)

    result = compute_kpis(ledger, (), AS_OF)

    assert result.total_ar == Decimal("0.00")
    assert result.dso == Decimal("0.0")
    assert result.best_possible_dso == Decimal("0.0")
    assert result.add == Decimal("0.0")
    assert result.countback_dso == Decimal("0.0")
    # Opening AR 0: (0 + 500 - 0) / (0 + 500 - 0) x 100
    assert result.cei == Decimal("100.0")


def test_countback_partial_first_month():
    # AR 300 is less than March's sales of 500: 300 / 500 x 15 days = 9.0.
    ledger = (invoice("2024-03-05", "2024-04-04", "500.00", ("2024-03-12", "200.00")),)

    assert countback_dso(ledger, AS_OF) == Decimal("9.0")


def test_countback_month_without_sales():
    # AR 1600. March sales 600: 15 days, 1000 left. February has no sales: 29 days,
    # 1000 left. January sales 1000 are exactly covered: 31 days, 0 left.
    # 15 + 29 + 31 = 75.0
    ledger = (
        invoice("2024-01-10", "2024-02-09", "1000.00"),
        invoice("2024-03-05", "2024-04-04", "600.00"),
    )

    assert countback_dso(ledger, AS_OF) == Decimal("75.0")


def test_countback_negative_ar_not_available():
    # Overpaid by 100, so AR is -100.
    ledger = (invoice("2024-03-01", "2024-03-31", "500.00", ("2024-03-05", "600.00")),)

    assert countback_dso(ledger, AS_OF) is None


def test_dso_rounds_half_up():
    # AR 25, sales 1000: 25 / 1000 x 90 = 2.25 exactly -> 2.3 (half to even: 2.2).
    ledger = (invoice("2024-03-01", "2024-03-31", "1000.00", ("2024-03-10", "975.00")),)

    result = compute_kpis(ledger, (), AS_OF)

    assert result.dso == Decimal("2.3")
    assert result.best_possible_dso == Decimal("2.3")
    assert result.add == Decimal("0.0")


# --- Definitions --------------------------------------------------------------------


def test_definitions_cover_every_figure():
    figures = set(compute_kpis((), (), AS_OF).as_json_dict()) - {"as_of"}

    assert set(KPI_DEFINITIONS) == figures


@pytest.mark.parametrize("name", sorted(KPI_DEFINITIONS))
def test_definition_is_one_sentence(name):
    definition = KPI_DEFINITIONS[name]

    assert definition.endswith(".")
    assert definition.count(". ") == 0
    assert "\n" not in definition
