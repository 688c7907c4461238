"""Worklist, customer and ageing pages on the IBM sample as of 2013-06-30."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        for row in rows
    ]


def _customer_id(reference: str) -> int:
    return db.session.scalar(select(Customer.id).where(Customer.legacy_id == reference))


def test_worklist_order_for_manager(client, auth, users):
    auth.login("manager@test.example")

    html = client.get("/worklist").get_data(as_text=True)

    rows = _cells(html, "worklist")[1:]
    references = [row[1] for row in rows]
    assert references == [
        "5573-KSOIA", "9181-HEKGV", "0783-PEPYR", "4460-ZXNDN", "5875-VZQCZ",
        "5148-SYKLB", "8102-ABPKQ", "7209-MDWKR", "7938-EVASK", "9117-LYRCE",
        "4632-QZOKX", "8887-NCUZC",
    ]
    # 98.88 overdue, oldest 14 days late: 98.88 x (1 + 14/30) = 145.02.
    assert rows[0][3] == "145,02"
    assert rows[0][4] == "98,88\u00a0€"
    assert rows[0][5] == "14"
    # 0783-PEPYR is 4 days late, so its overdue amount is in the 1-30 bucket column.
    assert rows[2][4] == "104,52\u00a0€"
    assert rows[2][7] == "104,52\u00a0€"
    assert "12 clients avec des factures échues" in html
    assert "Priorité = montant échu" in html


def test_worklist_collector_sees_own_team_only(client, auth, users):
    auth.login("collector406@test.example")

    rows = _cells(client.get("/worklist").get_data(as_text=True), "worklist")[1:]

    assert [row[1] for row in rows] == [
        "5573-KSOIA", "0783-PEPYR", "7938-EVASK", "9117-LYRCE", "4632-QZOKX",
    ]
    assert {row[2] for row in rows} == {"country-406"}


def test_worklist_in_english(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en", data={"next": "/worklist"})

    html = client.get("/worklist").get_data(as_text=True)

    assert "<h1>Worklist</h1>" in html
    assert "12 customers with overdue invoices on 6/30/2013." in html
    assert _cells(html, "worklist")[1][4] == "€98.88"


def test_language_choice_persists_for_user(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")
    auth.logout()

    auth.login("manager@test.example")

    assert "<h1>Ageing on" in client.get("/ageing").get_data(as_text=True)


def test_unknown_language_is_ignored(client, auth, users):
    auth.login("manager@test.example")

    client.post("/language/de")

    assert "Balance âgée" in client.get("/ageing").get_data(as_text=True)


def test_worklist_escapes_customer_names(client, auth, users):
    customer = db.session.get(Customer, _customer_id("5573-KSOIA"))
    customer.name = "<script>alert(1)</script>"
    db.session.commit()
    auth.login("manager@test.example")

    html = client.get("/worklist").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_ageing_totals(client, auth, users):
    auth.login("admin@test.example")

    rows = _cells(client.get("/ageing").get_data(as_text=True), "ageing")

    assert rows[1:] == [
        ["Non échu", "72", "4\u202f284,29\u00a0€"],
        ["1 à 30 jours", "12", "835,56\u00a0€"],
        ["31 à 60 jours", "0", "0,00\u00a0€"],
        ["61 à 90 jours", "0", "0,00\u00a0€"],
        ["Plus de 90 jours", "0", "0,00\u00a0€"],
        ["Total", "84", "5\u202f119,85\u00a0€"],
    ]


def test_ageing_scoped_to_collector_team(client, auth, users):
    auth.login("collector@test.example")

    rows = _cells(client.get("/ageing").get_data(as_text=True), "ageing")

    # Team country-391 has 21 open invoices, one of them overdue (7209-MDWKR, 49.37).
    assert rows[2] == ["1 à 30 jours", "1", "49,37\u00a0€"]
    assert rows[-1][1] == "21"


def test_customer_page(client, auth, users):
    auth.login("manager@test.example")

    html = client.get(f"/customers/{_customer_id('0783-PEPYR')}").get_data(as_text=True)

    open_rows = _cells(html, "open-invoices")[1:]
    assert open_rows == [
        ["3347423476", "27/05/2013", "26/06/2013", "104,52\u00a0€", "104,52\u00a0€", "4", ""],
    ]
    paid_rows = _cells(html, "paid-invoices")[1:]
    assert len(paid_rows) == 14
    # 14 paid invoices, 138 days late in all: 138 / 14 = 9.857 -> 9.9.
    assert '<dd id="average-days-late">9,9</dd>' in html


def test_customer_page_limits_paid_history(client, auth, users):
    customer_id = _customer_id("0783-PEPYR")
    customer = db.session.get(Customer, customer_id)
    # 50 more invoices, due in 2011 and paid 3 days late, older than its 14
    # paid invoices of 2012-2013: 64 paid in all.
    for n in range(50):
        due = dt.date(2011, 1, 3) + dt.timedelta(days=n)
        invoice = Invoice(
            customer_id=customer.id,
            number=f"EXTRA-{n:02d}",
            issue_date=due - dt.timedelta(days=30),
            due_date=due,
            amount=Decimal("10.00"),
            open_amount=Decimal("0.00"),
            status="paid",
        )
        payment = Payment(
            customer_id=customer.id,
            received_on=due + dt.timedelta(days=3),
            amount=Decimal("10.00"),
        )
        db.session.add_all([invoice, payment])
        db.session.flush()
        db.session.add(
            Allocation(payment_id=payment.id, invoice_id=invoice.id, amount=Decimal("10.00"))
        )
    db.session.commit()
    auth.login("manager@test.example")

    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)

    paid_rows = _cells(html, "paid-invoices")[1:]
    assert len(paid_rows) == 50
    # Newest payment first: the 14 of 2012-2013, then EXTRA-49 (paid on
    # 2011-02-24) down to EXTRA-14 (paid on 2011-01-20).
    assert [row[0] for row in paid_rows[14:]] == [f"EXTRA-{n:02d}" for n in range(49, 13, -1)]
    assert paid_rows[14][3] == "24/02/2011"
    assert paid_rows[-1][3] == "20/01/2011"
    assert "Les 50 factures payées le plus récemment sur 64." in html
    # The average still covers all 64: (138 + 50 x 3) / 64 = 4.5.
    assert '<dd id="average-days-late">4,5</dd>' in html

    everything = client.get(f"/customers/{customer_id}?paid=all").get_data(as_text=True)

    all_rows = _cells(everything, "paid-invoices")[1:]
    assert len(all_rows) == 64
    assert all_rows[-1][0] == "EXTRA-00"
    assert "paid-invoices-shown" not in everything


def test_customer_page_marks_disputed(client, auth, users):
    invoice = db.session.scalar(
        select(Invoice)
        .where(Invoice.status == "open", Invoice.disputed.is_(True))
        .order_by(Invoice.number)
    )
    disputed_numbers = set(
        db.session.scalars(
            select(Invoice.number).where(
                Invoice.customer_id == invoice.customer_id,
                Invoice.status == "open",
                Invoice.disputed.is_(True),
            )
        )
    )
    auth.login("manager@test.example")

    html = client.get(f"/customers/{invoice.customer_id}").get_data(as_text=True)

    marked = {row[0] for row in _cells(html, "open-invoices")[1:] if row[-1] == "En litige"}
    assert marked == disputed_numbers
    assert invoice.number in marked


@pytest.fixture
def plan_without_worklist(app, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("strategy: big_bang\ncutover: 2013-06-01\nflags: {}\n", encoding="utf-8")
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    return path


def test_worklist_hidden_while_flag_off(client, auth, users, plan_without_worklist):
    auth.login("manager@test.example")

    assert client.get("/worklist").status_code == 404
    assert "/worklist" not in client.get("/ageing").get_data(as_text=True)


def test_worklist_off_before_cutover(client, auth, users, app, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-07-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    auth.login("manager@test.example")

    assert client.get("/worklist").status_code == 404


def test_worklist_hides_sections_of_disabled_features(client, auth, users, app, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    auth.login("manager@test.example")

    html = client.get("/worklist").get_data(as_text=True)

    assert 'id="today"' not in html
    assert "Relances à faire aujourd" not in html
    assert "12 clients avec des factures échues" in html
