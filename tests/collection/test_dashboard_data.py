"""Dashboard data on the small ledger, the translatable KPI texts, and the SVG chart
geometry."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.models import Team
from app.collection import charts
from app.collection.dashboard import (
    KPI_LABELS,
    KPI_TRANSLATED_DEFINITIONS,
    KPI_UNITS,
    build_dashboard,
)
from app.collection.kpi import KPI_DEFINITIONS
from app.extensions import db
from app.ledger.models import Customer
from tests.collection import ledger_factory
from tests.collection.ledger_factory import add_invoice, build_small_ledger, day

# A fixture shared with other modules of this folder.
english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.code)))


def test_team_rows_add_up_to_total(ledger):
    loose = Customer(name="Loose", legacy_source="test", legacy_id="L-1")
    db.session.add(loose)
    db.session.flush()
    add_invoice(loose, "L-1", "06-01", "06-20", "10.00")
    db.session.commit()

    data = build_dashboard(_teams(), None, day("06-30"))

    assert [row.team.code for row in data.teams[:2]] == ["team-a", "team-b"]
    # Customers without a team get their own row, before the total row.
    assert (data.teams[2].team, data.teams[2].is_total) == (None, False)
    assert (data.teams[3].team, data.teams[3].is_total) == (None, True)
    # 1350.00 + 80.00 + 10.00 open, all invoices unpaid.
    assert [row.kpis.total_ar for row in data.teams] == [
        Decimal("1350.00"),
        Decimal("80.00"),
        Decimal("10.00"),
        Decimal("1440.00"),
    ]
    # Overdue: A-101 100 + A-102 250 + A-103 400, B-201 80, L-1 10.
    assert [row.overdue for row in data.teams] == [
        Decimal("750.00"),
        Decimal("80.00"),
        Decimal("10.00"),
        Decimal("840.00"),
    ]


def test_one_team_dashboard(ledger):
    team_a = _teams()[0]

    data = build_dashboard(_teams(), team_a, day("06-30"))

    assert [row.team.code for row in data.teams] == ["team-a"]
    assert data.kpis.total_ar == Decimal("1350.00")
    # A-103 is 11 days late, A-102 46 and A-101 91.
    assert data.overdue_buckets == {
        "1-30": {"count": 1, "amount": Decimal("400.00")},
        "31-60": {"count": 1, "amount": Decimal("250.00")},
        "61-90": {"count": 0, "amount": Decimal("0.00")},
        "90+": {"count": 1, "amount": Decimal("100.00")},
    }
    assert [point.month_end.isoformat() for point in data.trend][-2:] == [
        "2013-05-31",
        "2013-06-30",
    ]
    # On 05-31: A-101 100 + A-102 250 overdue, A-103 (due 06-19) not yet.
    assert data.trend[-2].overdue == Decimal("350.00")
    assert [item.user.email for item in data.activity] == ["collector-a@small.example"]


@pytest.mark.parametrize("name", sorted(KPI_DEFINITIONS))
def test_definition_matches_kpi_module(english, name):
    assert str(KPI_TRANSLATED_DEFINITIONS[name]) == KPI_DEFINITIONS[name]


def test_every_kpi_has_label_and_unit():
    assert set(KPI_LABELS) == set(KPI_DEFINITIONS)
    assert set(KPI_UNITS) == set(KPI_DEFINITIONS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "1"),
        ("0.4", "0.5"),
        ("7", "10"),
        ("12.5", "20"),
        ("23.2", "25"),
        ("31.1", "50"),
        ("835.56", "1000"),
        ("1026.68", "2000"),
        ("2500", "2500"),
    ],
)
def test_nice_maximum(value, expected):
    assert charts.nice_maximum(Decimal(value)) == Decimal(expected)


def test_line_chart_splits_at_missing_values():
    chart = charts.line_chart(
        ["a", "b", "c", "d"],
        [Decimal("10"), None, Decimal("5"), Decimal("0")],
    )

    # Plot: x from 72 to 612 in three steps of 180. y: 200 at 0, 16 at the top (10).
    assert [(mark.x, mark.y) for mark in chart.marks] == [
        (72.0, 16.0),
        (252.0, None),
        (432.0, 108.0),
        (612.0, 200.0),
    ]
    assert chart.segments == ["72.0,16.0", "432.0,108.0 612.0,200.0"]
    assert [tick.value for tick in chart.ticks] == [
        Decimal("0"),
        Decimal("2.5"),
        Decimal("5"),
        Decimal("7.5"),
        Decimal("10"),
    ]


def test_bar_chart_geometry():
    chart = charts.bar_chart(["x", "y"], [Decimal("50"), Decimal("-5")])

    first, second = chart.marks
    # Two slots of 270 from x = 72, and a bar fills 60% of its slot: 162 wide.
    assert (first.bar_x, first.bar_width, first.y, first.bar_height) == (
        126.0,
        162.0,
        16.0,
        184.0,
    )
    # A negative value sits on the zero line with no height.
    assert (second.y, second.bar_height) == (200.0, 0.0)
