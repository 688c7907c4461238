"""Worklist pages: the order ranked in SQL, page numbers and the exact priority.

On the IBM sample as of 2013-06-30 the manager's worklist has 12 customers.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.collection import worklist
from app.collection.worklist import WorklistRow, build_worklist, worklist_page
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from tests.conftest import IBM_AS_OF


def _references(html: str) -> list[str]:
    body = html.split('id="worklist"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)[1:]
    return [re.findall(r'href="/customers/\d+">([^<]+)</a>', row)[0] for row in rows]


def _positions(html: str) -> list[str]:
    body = html.split('id="worklist"')[1].split("</table>")[0]
    return re.findall(r"<tr>\s*<td>(\d+)</td>", body)


@pytest.fixture
def pages_of_five(monkeypatch):
    monkeypatch.setattr(worklist, "WORKLIST_PAGE_SIZE", 5)


def test_pages_follow_whole_order(users, pages_of_five):
    whole = [row.reference for row in build_worklist(users["manager"], IBM_AS_OF)]

    pages = [worklist_page(users["manager"], IBM_AS_OF, n) for n in (1, 2, 3)]

    assert len(whole) == 12
    assert [page.total for page in pages] == [12, 12, 12]
    assert [page.pages for page in pages] == [3, 3, 3]
    assert [row.reference for page in pages for row in page.rows] == whole
    assert [page.first_position for page in pages] == [1, 6, 11]


def test_page_out_of_range_clamped(users, pages_of_five):
    last = worklist_page(users["manager"], IBM_AS_OF, 99)
    first = worklist_page(users["manager"], IBM_AS_OF, -4)

    assert (last.page, last.pages, last.total, len(last.rows)) == (3, 3, 12, 2)
    assert (first.page, len(first.rows)) == (1, 5)


def test_empty_worklist_has_one_page(users):
    db.session.execute(
        Invoice.__table__.update()
        .where(Invoice.status == InvoiceStatus.OPEN)
        .values(due_date=IBM_AS_OF)
    )
    db.session.commit()

    page = worklist_page(users["manager"], IBM_AS_OF, 2)

    assert (page.rows, page.page, page.pages, page.total) == ([], 1, 1, 0)


def test_second_page_shown(client, auth, users, pages_of_five):
    whole = [row.reference for row in build_worklist(users["manager"], IBM_AS_OF)]
    auth.login("manager@test.example")

    html = client.get("/worklist?page=2").get_data(as_text=True)

    assert _references(html) == whole[5:10]
    assert _positions(html) == ["6", "7", "8", "9", "10"]
    assert "12 clients avec des factures échues" in html
    assert "Page 2 sur 3" in html
    assert "Page suivante" in html
    assert 'href="/worklist?page=1"' in html
    assert 'href="/worklist?page=3"' in html


def test_collector_pages_stay_in_team(client, auth, users, pages_of_five):
    auth.login("collector406@test.example")

    html = client.get("/worklist?page=1").get_data(as_text=True)

    assert _references(html) == [
        "5573-KSOIA",
        "0783-PEPYR",
        "7938-EVASK",
        "9117-LYRCE",
        "4632-QZOKX",
    ]
    assert "?page=2" not in html


def test_priority_rounds_exact_half_up():
    # 0.15 x (30 + 1) / 30 = 0.155 exactly, so half-up gives 0.16. Multiplying by
    # a rounded 1 + 1/30 instead gives 0.15499... and 0.15.
    row = WorklistRow(
        customer_id=1,
        reference="C1",
        name="C1",
        team=None,
        collector=None,
        overdue_amount=Decimal("0.15"),
        open_amount=Decimal("0.15"),
        oldest_days_past_due=1,
        disputed_count=0,
        buckets={},
    )

    assert row.priority == Decimal("0.16")


def test_sql_order_breaks_ties_by_reference(users):
    """Two customers with the same rounded priority come by reference, as in Python."""
    first, second = db.session.scalars(
        select(Customer).where(Customer.legacy_id.in_(["5573-KSOIA", "0783-PEPYR"]))
    ).all()
    # One overdue invoice of 500.00, 10 days late, each; the others not yet due.
    for customer in (first, second):
        invoices = db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == customer.id,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.id)
        ).all()
        for invoice in invoices:
            invoice.due_date = IBM_AS_OF + dt.timedelta(days=10)
        invoices[0].due_date = IBM_AS_OF - dt.timedelta(days=10)
        invoices[0].open_amount = Decimal("500.00")
    db.session.commit()

    rows = build_worklist(users["manager"], IBM_AS_OF)
    tied = [row for row in rows if row.reference in ("5573-KSOIA", "0783-PEPYR")]

    assert tied[0].priority == Decimal("666.67")
    assert tied[1].priority == Decimal("666.67")
    assert [row.reference for row in tied] == ["0783-PEPYR", "5573-KSOIA"]
    assert rows.index(tied[1]) == rows.index(tied[0]) + 1
    assert [row.priority for row in rows] == sorted(
        (row.priority for row in rows), reverse=True
    )
