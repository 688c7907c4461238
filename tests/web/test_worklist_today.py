"""The worklist's priority parts and its Today section, on the IBM sample as of
2013-06-30.

Without promises or dunning, 5573-KSOIA leads: 98.88 overdue, 14 days late,
98.88 x (1 + 14 / 30) = 145.02. 0783-PEPYR is third: 104.52 overdue, 4 days late,
104.52 x (1 + 4 / 30) = 118.46.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.collection.models import (
    DunningAction,
    DunningLevel,
    DunningPolicy,
    Promise,
)
from app.collection.worklist import build_worklist
from app.extensions import db
from app.ledger.models import Customer, Invoice
from tests.conftest import IBM_AS_OF


def _customer(reference: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


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


def _promise(reference, promised, status, amount="10.00"):
    promise = Promise(
        customer_id=_customer(reference).id,
        amount=Decimal(amount),
        promised_date=promised,
        status=status,
        created_at=dt.datetime(2013, 3, 1, 9, 0, tzinfo=dt.UTC),
    )
    db.session.add(promise)
    return promise


@pytest.fixture
def policy(app):
    policy = DunningPolicy(name="Test policy")
    for position, days in ((1, 10), (2, 25), (3, 40)):
        policy.levels.append(
            DunningLevel(
                position=position,
                name=f"Level {position}",
                days_from_due=days,
                channel="letter",
                template_key="reminder",
            )
        )
    db.session.add(policy)
    db.session.flush()
    return policy


def _action(reference, level, run_date, status, amount="104.52"):
    action = DunningAction(
        customer_id=_customer(reference).id,
        level_id=level.id,
        run_date=run_date,
        channel=level.channel,
        status=status,
        amount=Decimal(amount),
    )
    db.session.add(action)
    return action


def test_promises_and_dunning_raise_priority(users, policy):
    # 5573-KSOIA: one promise broken on 06-20, in the 90-day window, and one from
    # 2013-03-01, outside it. Weighted days 14 + 15 = 29:
    # 98.88 x (1 + 29 / 30) = 194.464 -> 194.46.
    _promise("5573-KSOIA", dt.date(2013, 6, 20), "broken")
    _promise("5573-KSOIA", dt.date(2013, 3, 1), "broken")
    # 0783-PEPYR: its latest done action is at level 2, an older one at level 3.
    # Weighted days 4 + 2 x 10 = 24: 104.52 x (1 + 24 / 30) = 188.136 -> 188.14.
    levels = policy.levels
    _action("0783-PEPYR", levels[2], dt.date(2013, 5, 1), "done")
    _action("0783-PEPYR", levels[1], dt.date(2013, 6, 28), "done")
    # A cancelled action at level 3 afterwards does not count.
    _action("0783-PEPYR", levels[2], dt.date(2013, 6, 29), "cancelled")
    db.session.commit()

    rows = build_worklist(users["manager"], IBM_AS_OF)

    first, second = rows[0], rows[1]
    assert (first.reference, first.broken_promises, first.dunning_level) == (
        "5573-KSOIA",
        1,
        0,
    )
    assert first.weighted_days == 29
    assert first.priority == Decimal("194.46")
    assert (second.reference, second.broken_promises, second.dunning_level) == (
        "0783-PEPYR",
        0,
        2,
    )
    assert second.weighted_days == 24
    assert second.priority == Decimal("188.14")


def test_priority_parts_shown_on_page(client, auth, users):
    _promise("5573-KSOIA", dt.date(2013, 6, 20), "broken")
    db.session.commit()
    auth.login("manager@test.example")
    client.post("/language/en")

    html = client.get("/worklist").get_data(as_text=True)

    header, first = _cells(html, "worklist")[:2]
    assert header[-4:] == [
        "Broken promises",
        "Dunning level",
        "Weighted days",
        "Disputed",
    ]
    assert first[1] == "5573-KSOIA"
    assert first[3] == "194.46"
    assert first[-4:-1] == ["1", "0", "29"]
    assert (
        "Priority = overdue amount × (1 + weighted days ÷ 30), where weighted days "
        "are the days the oldest overdue invoice is late, plus 15 for each promise "
        "broken in the last 90 days, plus 10 for each dunning level reached"
    ) in html


def test_today_section(client, auth, users, policy):
    _action("0783-PEPYR", policy.levels[0], IBM_AS_OF, "ready")
    _action("5573-KSOIA", policy.levels[1], IBM_AS_OF, "pending_approval", "98.88")
    _action("5573-KSOIA", policy.levels[0], IBM_AS_OF, "done", "98.88")
    _action("5573-KSOIA", policy.levels[0], dt.date(2013, 6, 29), "ready", "98.88")
    _promise("7209-MDWKR", IBM_AS_OF, "pending", "49.37")
    _promise("7209-MDWKR", dt.date(2013, 7, 1), "pending", "36.23")
    db.session.commit()
    auth.login("manager@test.example")
    client.post("/language/en")

    html = client.get("/worklist").get_data(as_text=True)

    # Yesterday's action, still to do, comes first with its run date.
    assert _cells(html, "today-dunning")[1:] == [
        ["5573-KSOIA", "Level 1", "Letter", "€98.88", "Ready", "6/29/2013"],
        ["0783-PEPYR", "Level 1", "Letter", "€104.52", "Ready", "Today"],
        ["5573-KSOIA", "Level 2", "Letter", "€98.88", "Awaiting approval", "Today"],
    ]
    assert _cells(html, "today-promises")[1:] == [
        ["7209-MDWKR", "€49.37", "Whole account"],
    ]


def test_today_section_scoped_to_team(client, auth, users, policy):
    _action("0783-PEPYR", policy.levels[0], IBM_AS_OF, "ready")
    _promise("0783-PEPYR", IBM_AS_OF, "pending")
    db.session.commit()
    auth.login("collector@test.example")
    client.post("/language/en")

    html = client.get("/worklist").get_data(as_text=True)

    assert 'id="today-dunning"' not in html
    assert 'id="today-promises"' not in html
    assert "No dunning action is due today." in html
    assert "No promise to pay is due today." in html


def test_worklist_marks_overdue_promises_broken(client, auth, users):
    promise = _promise("7209-MDWKR", dt.date(2013, 6, 25), "pending")
    # Nothing is allocated to this open invoice, so the promise cannot be kept.
    promise.invoices = [
        db.session.scalar(select(Invoice).where(Invoice.number == "7861925284"))
    ]
    db.session.commit()
    auth.login("manager@test.example")

    client.get("/worklist")

    db.session.refresh(promise)
    assert promise.status == "broken"
    assert promise.resolved_on == dt.date(2013, 6, 26)
