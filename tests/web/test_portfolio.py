"""Portfolio assignment page on the IBM sample: managers and admins give a team's
customers to its collectors."""

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection import portfolio
from app.extensions import db
from app.ledger.models import Customer
from tests.conftest import IBM_AS_OF


def _team_customers(code: str) -> list[Customer]:
    return list(
        db.session.scalars(
            select(Customer)
            .where(Customer.team.has(code=code))
            .order_by(Customer.legacy_id)
        )
    )


def _rows(html: str) -> list[list[str]]:
    body = html.split('id="portfolio"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        ]
        for row in rows
    ]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("collector", 403),
        ("collector_406", 403),
        ("lead", 403),
        ("trainee", 403),
    ],
)
def test_portfolio_access_by_role(client, auth, users, role, status):
    auth.login(users[role].email)

    assert client.get("/portfolio").status_code == status


def test_portfolio_lists_team_customers(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    html = client.get("/portfolio?team=country-391").get_data(as_text=True)

    customers = _team_customers("country-391")
    rows = _rows(html)[1:]
    assert [row[1] for row in rows] == [c.legacy_id for c in customers]
    mdwkr = next(row for row in rows if row[1] == "7209-MDWKR")
    # Open 49.37 + 36.23 + 49.68, of which 49.37 is overdue.
    assert mdwkr[2:] == ["Unassigned", "€135.28", "€49.37"]
    assert f"{len(customers)} customers, {len(customers)} unassigned." in html


def test_bulk_assignment(client, auth, users):
    customers = _team_customers("country-391")[:3]
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post(
        "/portfolio?team=country-391",
        data={
            "customer_ids": [str(c.id) for c in customers],
            "collector_id": str(users["collector"].id),
        },
        follow_redirects=True,
    )

    assert "3 customers changed collector." in response.get_data(as_text=True)
    db.session.expire_all()
    assert {c.collector_id for c in customers} == {users["collector"].id}
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "portfolio.assign"
            )
        )
        == 3
    )


def test_collector_of_other_team_refused(client, auth, users):
    customers = _team_customers("country-391")[:2]
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post(
        "/portfolio?team=country-391",
        data={
            "customer_ids": [str(c.id) for c in customers],
            "collector_id": str(users["collector_406"].id),
        },
    )

    assert response.status_code == 400
    db.session.expire_all()
    assert {c.collector_id for c in customers} == {None}


def test_nothing_ticked_refused(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post(
        "/portfolio?team=country-391",
        data={"collector_id": str(users["collector"].id)},
    )

    assert response.status_code == 400
    assert "Choose at least one customer." in response.get_data(as_text=True)


def test_unknown_team_is_404(client, auth, users):
    auth.login("admin@test.example")

    assert client.get("/portfolio?team=country-000").status_code == 404


def test_pages_of_the_list(users, monkeypatch):
    monkeypatch.setattr(portfolio, "PAGE_SIZE", 7)
    team = _team_customers("country-391")[0].team
    total = len(_team_customers("country-391"))

    last = portfolio.team_portfolio(team, IBM_AS_OF, 99)

    assert last.pages == -(-total // 7)
    assert last.page == last.pages
    assert len(last.rows) == total - 7 * (last.pages - 1)
