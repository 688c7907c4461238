"""The KPI dashboard on the IBM sample as of 2013-06-30, read in English so that the
figures do not depend on the French catalog."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.models import Team
from app.collection.models import Activity
from app.collection.services import log_activity
from app.extensions import db
from app.ledger.models import Customer
from tests.collection.ibm_reference import reference_kpis
from tests.conftest import IBM_AS_OF

MONTH_ENDS = [
    dt.date(2012, 7, 31),
    dt.date(2012, 8, 31),
    dt.date(2012, 9, 30),
    dt.date(2012, 10, 31),
    dt.date(2012, 11, 30),
    dt.date(2012, 12, 31),
    dt.date(2013, 1, 31),
    dt.date(2013, 2, 28),
    dt.date(2013, 3, 31),
    dt.date(2013, 4, 30),
    dt.date(2013, 5, 31),
    dt.date(2013, 6, 30),
]


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        ]
        for row in rows
    ]


def _english_dashboard(client, auth, email, query=""):
    auth.login(email)
    client.post("/language/en")
    response = client.get("/dashboard" + query)
    return response, response.get_data(as_text=True)


def _days(value: str | None) -> str:
    return "n/a" if value is None else f"{value} days"


def _money(value: str) -> str:
    whole, cents = value.split(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}€{int(whole.lstrip('-')):,}.{cents}"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("collector", 200),
        ("collector_406", 200),
        ("lead", 403),
        ("trainee", 403),
    ],
)
def test_dashboard_access_by_role(client, auth, users, role, status):
    auth.login(users[role].email)

    assert client.get("/dashboard").status_code == status


def test_anonymous_sent_to_login(client, users):
    response = client.get("/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_nav_link_shown_while_flag_on(client, auth, users):
    auth.login("collector@test.example")

    html = client.get("/ageing").get_data(as_text=True)

    assert 'href="/dashboard" data-flag="kpi_dashboard"' in html


def test_kpis_with_definitions(client, auth, users):
    response, html = _english_dashboard(client, auth, "manager@test.example")
    expected = reference_kpis(IBM_AS_OF)

    rows = {row[0]: row[1:] for row in _cells(html, "kpis")[1:]}
    assert rows["Total AR"][0] == "€5,119.85"
    assert rows["Current AR"][0] == _money(expected["current_ar"])
    assert rows["Sales (90 days)"][0] == _money(expected["sales_90"])
    assert rows["DSO"][0] == _days(expected["dso"])
    assert rows["Best possible DSO"][0] == _days(expected["best_possible_dso"])
    assert rows["Average days delinquent"][0] == _days(expected["add"])
    assert rows["Countback DSO"][0] == _days(expected["countback_dso"])
    assert rows["Collection effectiveness index"][0] == f"{expected['cei']}%"
    assert rows["Promise-kept rate"][0] == "n/a"
    assert rows["DSO"][1] == (
        "DSO is total AR divided by the sales of the last 90 days, times 90 days."
    )


def test_trend_table_matches_reference(client, auth, users):
    _, html = _english_dashboard(client, auth, "manager@test.example")

    rows = _cells(html, "trend")[1:]
    assert len(rows) == 12
    for row, month_end in zip(rows, MONTH_ENDS, strict=True):
        expected = reference_kpis(month_end)
        overdue = str(Decimal(expected["total_ar"]) - Decimal(expected["current_ar"]))
        assert row == [
            f"{month_end.month}/{month_end.day}/{month_end.year}",
            _days(expected["dso"]),
            _money(overdue),
        ]


def test_trend_charts_are_svg(client, auth, users):
    _, html = _english_dashboard(client, auth, "manager@test.example")

    dso_chart = html.split('<svg id="dso-chart"')[1].split("</svg>")[0]
    assert 'role="img"' in dso_chart
    assert dso_chart.count("<circle") == 12
    assert "<polyline" in dso_chart
    overdue_chart = html.split('<svg id="overdue-chart"')[1].split("</svg>")[0]
    assert overdue_chart.count("<rect") == 12
    assert "<script" not in html


def test_overdue_buckets(client, auth, users):
    _, html = _english_dashboard(client, auth, "manager@test.example")

    assert _cells(html, "overdue-buckets")[1:] == [
        ["1-30 days", "12", "€835.56"],
        ["31-60 days", "0", "€0.00"],
        ["61-90 days", "0", "€0.00"],
        ["Over 90 days", "0", "€0.00"],
        ["Total", "12", "€835.56"],
    ]


def test_manager_sees_every_team_and_total(client, auth, users):
    _, html = _english_dashboard(client, auth, "manager@test.example")

    rows = _cells(html, "team-kpis")[1:]
    assert [row[0] for row in rows] == [
        "country-391",
        "country-406",
        "country-770",
        "country-818",
        "country-897",
        "All teams",
    ]
    assert rows[-1][1] == "€5,119.85"
    for row in rows[:-1]:
        country = row[0].removeprefix("country-")
        assert row[1] == _money(reference_kpis(IBM_AS_OF, country)["total_ar"])
        assert row[3] == _days(reference_kpis(IBM_AS_OF, country)["dso"])


def test_manager_picks_a_team(client, auth, users):
    _, html = _english_dashboard(
        client, auth, "manager@test.example", "?team=country-391"
    )

    rows = {row[0]: row[1] for row in _cells(html, "kpis")[1:]}
    assert rows["Total AR"] == _money(reference_kpis(IBM_AS_OF, "391")["total_ar"])
    assert [row[0] for row in _cells(html, "team-kpis")[1:]] == ["country-391"]
    # Team country-391 has one overdue invoice, 7209-MDWKR's 49.37.
    assert _cells(html, "overdue-buckets")[1] == ["1-30 days", "1", "€49.37"]


def test_collector_sees_own_team_only(client, auth, users):
    response, html = _english_dashboard(client, auth, "collector406@test.example")

    assert response.status_code == 200
    assert [row[0] for row in _cells(html, "team-kpis")[1:]] == ["country-406"]
    assert 'aria-label="Teams"' not in html
    rows = {row[0]: row[1] for row in _cells(html, "kpis")[1:]}
    assert rows["Total AR"] == _money(reference_kpis(IBM_AS_OF, "406")["total_ar"])


@pytest.mark.parametrize(
    ("email", "query"),
    [
        ("collector406@test.example", "?team=country-391"),
        ("manager@test.example", "?team=country-999"),
    ],
    ids=["other team", "unknown team"],
)
def test_team_out_of_reach_is_404(client, auth, users, email, query):
    auth.login(email)

    assert client.get("/dashboard" + query).status_code == 404


def test_collector_activity_last_30_days(client, auth, users):
    collector = users["collector"]
    customer = db.session.scalar(
        select(Customer).where(Customer.legacy_id == "7209-MDWKR")
    )
    for kind in ("call", "call", "email"):
        log_activity(collector, customer, kind=kind, summary="Reminder.")
    # Logged on 2013-05-31, the day before the 30-day window opens.
    db.session.add(
        Activity(
            customer_id=customer.id,
            user_id=collector.id,
            kind="note",
            summary="Old note.",
            occurred_at=dt.datetime(2013, 5, 31, 12, 0, tzinfo=dt.UTC),
        )
    )
    db.session.commit()

    _, html = _english_dashboard(client, auth, "manager@test.example")

    rows = _cells(html, "collector-activity")
    assert rows[0] == [
        "Collector",
        "Team",
        "Call",
        "Email message",
        "Letter",
        "Note",
        "Total",
    ]
    assert rows[1:] == [
        ["Collector", "country-391", "2", "1", "0", "0", "3"],
        ["Collector_406", "country-406", "0", "0", "0", "0", "0"],
    ]
    assert "from 6/1/2013 to 6/30/2013" in html


def test_team_kpis_escape_names(client, auth, users):
    team = db.session.scalar(select(Team).where(Team.code == "country-391"))
    team.code = "<b>391</b>"
    db.session.commit()

    _, html = _english_dashboard(client, auth, "manager@test.example")

    assert "<b>391</b>" not in html
    assert "&lt;b&gt;391&lt;/b&gt;" in html
