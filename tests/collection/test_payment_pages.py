"""Payment forms sent twice, and unallocated cash applied, through HTTP on the IBM
sample.

7209-MDWKR (team country-391) has three open invoices on 2013-06-30:
7861925284 49.37 due 21/06/2013, 3110878377 36.23 due 19/07/2013 and
826558350 49.68 due 24/07/2013, 135.28 in all.
"""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.collection.services import AllocationMode, record_payment
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from tests.conftest import IBM_AS_OF

OWN = "7209-MDWKR"
# Payments of the IBM sample's settled invoices.
IBM_PAYMENTS = 1846


def _customer(reference: str = OWN) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


def _invoice(number: str) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def _applied_count() -> int:
    applied = Allocation.applied_at.is_not(None)
    return db.session.scalar(select(func.count(Allocation.id)).where(applied))


def _page(client, customer) -> str:
    return client.get(f"/customers/{customer.id}").get_data(as_text=True)


def _hidden_value(html: str, field_id: str) -> str:
    [value] = re.findall(
        rf'id="{field_id}" name="{field_id}" type="hidden" value="([^"]*)"', html
    )
    return value


def _payment_form(html: str, **changes) -> dict:
    data = {
        "payment-kind": "payment",
        "payment-received_on": "2013-06-29",
        "payment-amount": "49.37",
        "payment-reference": "VIR-0629",
        "payment-allocation": "oldest_first",
        "payment-submission_key": _hidden_value(html, "payment-submission_key"),
    }
    return data | changes


def _flashes(html: str) -> list[str]:
    found = re.findall(
        r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', html, re.S
    )
    return [f"{category}: {text}" for category, text in found]


@pytest.fixture
def collector(client, auth, users):
    auth.login("collector@test.example")
    # English pages, so the checks do not depend on the French catalog.
    client.post("/language/en")
    return users["collector"]


def _unallocated_cash(users, amount: str) -> Payment:
    return record_payment(
        users["collector"],
        _customer(),
        kind="payment",
        received_on=IBM_AS_OF,
        amount=Decimal(amount),
        reference="CASH-1",
        allocation=AllocationMode.UNALLOCATED,
    )


# --- One-time key of the payment form ---------------------------------------------


def test_each_page_gets_new_key(client, collector):
    customer = _customer()

    first = _hidden_value(_page(client, customer), "payment-submission_key")
    second = _hidden_value(_page(client, customer), "payment-submission_key")

    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", second)
    assert first != second


def test_form_sent_twice_records_once(client, collector):
    customer = _customer()
    data = _payment_form(_page(client, customer))

    first = client.post(f"/customers/{customer.id}/payments", data=data)
    second = client.post(f"/customers/{customer.id}/payments", data=data)

    assert first.status_code == 302
    assert second.status_code == 302
    assert second.headers["Location"] == f"/customers/{customer.id}#history"
    assert _count(Payment) == IBM_PAYMENTS + 1
    assert _invoice("7861925284").status == "paid"
    assert str(_invoice("3110878377").open_amount) == "36.23"
    flashes = _flashes(_page(client, customer))
    # The first redirect's message was never shown, as after a double click.
    assert flashes == [
        "success: Payment recorded.",
        "warning: This payment was already recorded: €49.37 received on 6/29/2013. "
        f'Nothing was recorded twice. <a href="/customers/{customer.id}#history">'
        "See the account history.</a>",
    ]


def test_form_without_key_rejected(client, collector):
    customer = _customer()
    data = _payment_form(_page(client, customer))
    del data["payment-submission_key"]

    response = client.post(f"/customers/{customer.id}/payments", data=data)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    form = html.split('id="payment-form"')[1].split("</form>")[0]
    assert (
        "This form is incomplete. Reload the page and enter the payment again." in form
    )
    # The form shown again carries a new key, so sending it works.
    fresh_key = _hidden_value(html, "payment-submission_key")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", fresh_key)
    assert _count(Payment) == IBM_PAYMENTS


def test_similar_payment_asks_confirmation(client, collector):
    customer = _customer()
    first = _payment_form(_page(client, customer), **{"payment-amount": "10.00"})
    assert (
        client.post(f"/customers/{customer.id}/payments", data=first).status_code == 302
    )
    second = _payment_form(_page(client, customer), **{"payment-amount": "10,00"})

    warned = client.post(f"/customers/{customer.id}/payments", data=second)

    assert warned.status_code == 400
    html = warned.get_data(as_text=True)
    box = html.split('id="payment-confirm-similar"')[1].split("</div>")[0]
    assert (
        "The same amount, €10.00, with the same date and reference was recorded on "
        "this account less than 15 minutes ago." in box
    )
    assert 'name="payment-confirm_similar" type="checkbox"' in box
    # The form shown again keeps the key of the request, which recorded nothing.
    assert (
        _hidden_value(html, "payment-submission_key")
        == second["payment-submission_key"]
    )
    assert _count(Payment) == IBM_PAYMENTS + 1

    confirmed = client.post(
        f"/customers/{customer.id}/payments",
        data=second | {"payment-confirm_similar": "y"},
    )

    assert confirmed.status_code == 302
    assert _count(Payment) == IBM_PAYMENTS + 2
    # 10.00 + 10.00 oldest first on 7861925284.
    assert str(_invoice("7861925284").open_amount) == "29.37"


def test_no_confirmation_box_by_default(client, collector):
    html = _page(client, _customer())

    assert 'id="payment-confirm-similar"' not in html


# --- Applying unallocated cash -----------------------------------------------------


def _apply_form(html: str, **changes) -> dict:
    data = {
        "apply-allocation": "oldest_first",
        "apply-expected_unallocated": _hidden_value(html, "apply-expected_unallocated"),
    }
    return data | changes


def test_apply_form_shown_with_unallocated_cash(client, collector, users):
    customer = _customer()
    assert 'id="apply-cash-form"' not in _page(client, customer)
    _unallocated_cash(users, "100.00")

    html = _page(client, customer)

    assert 'id="apply-cash-form"' in html
    assert (
        '<a href="#apply-cash-form" id="apply-cash-link">Apply to invoices</a>' in html
    )
    assert _hidden_value(html, "apply-expected_unallocated") == "100.00"
    assert len(re.findall(r'name="apply-allocations-\d+-invoice_id"', html)) == 3


def test_apply_oldest_first(client, collector, users):
    customer = _customer()
    _unallocated_cash(users, "100.00")
    data = _apply_form(_page(client, customer))

    response = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/customers/{customer.id}#unallocated"
    # 49.37 and 36.23 settle two invoices, and 14.40 goes to 826558350.
    assert _invoice("7861925284").status == "paid"
    assert _invoice("3110878377").status == "paid"
    assert str(_invoice("826558350").open_amount) == "35.28"
    html = _page(client, customer)
    assert _flashes(html) == ["success: €100.00 of unallocated cash applied."]
    assert '<dd id="unallocated-total">€0.00</dd>' in html
    assert 'id="apply-cash-form"' not in html
    history = html.split('id="history"')[1]
    entry = history.split('<li data-kind="cash_applied">')[1].split("</li>")[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", entry)).strip()
    assert text == (
        "6/30/2013 Unallocated cash of €100.00 applied Allocated to 7861925284, "
        "3110878377, 826558350 by Collector"
    )


def test_apply_to_chosen_invoice(client, collector, users):
    customer = _customer()
    _unallocated_cash(users, "100.00")
    html = _page(client, customer)
    data = _apply_form(html, **{"apply-allocation": "chosen"})
    lines = re.findall(
        r'name="apply-allocations-(\d+)-invoice_id" type="hidden" value="(\d+)"', html
    )
    for index, invoice_id in lines:
        data[f"apply-allocations-{index}-invoice_id"] = invoice_id
    data["apply-allocations-2-amount"] = "49,68"

    response = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert response.status_code == 302
    assert _invoice("826558350").status == "paid"
    assert str(_invoice("7861925284").open_amount) == "49.37"
    assert '<dd id="unallocated-total">€50.32</dd>' in _page(client, customer)


def test_apply_form_sent_twice_applies_once(client, collector, users):
    customer = _customer()
    _unallocated_cash(users, "60.00")
    data = _apply_form(_page(client, customer))

    first = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)
    second = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert first.status_code == 302
    assert second.status_code == 400
    html = second.get_data(as_text=True)
    # The cash is used up, so the error shows where the form was.
    assert 'id="apply-cash-form"' not in html
    section = html.split('id="unallocated"')[1].split("</p>")[0]
    assert (
        "The unallocated cash changed since this page was shown and is now €0.00. "
        "Nothing was applied." in section
    )
    # 49.37 to 7861925284 and 10.63 to 3110878377, once.
    assert _applied_count() == 2
    assert str(_invoice("3110878377").open_amount) == "25.60"


@pytest.mark.parametrize(
    ("changes", "error_field"),
    [
        ({"apply-amount": "abc"}, "apply-amount"),
        ({"apply-amount": "100.01"}, "apply-amount"),
        ({"apply-allocation": "chosen"}, "apply-allocation"),
        ({"apply-allocation": "chosen", "apply-amount": "10.00"}, "apply-allocation"),
        ({"apply-allocation": "unallocated"}, "apply-allocation"),
    ],
    ids=[
        "not a number",
        "above cash",
        "chosen without amounts",
        "chosen with amount",
        "unknown mode",
    ],
)
def test_invalid_application_rejected(client, collector, users, changes, error_field):
    customer = _customer()
    _unallocated_cash(users, "100.00")
    data = _apply_form(_page(client, customer), **changes)

    response = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert response.status_code == 400
    form = response.get_data(as_text=True).split('id="apply-cash-form"')[1]
    field = form.split(f'id="{error_field}"')[1].split("</div>")[0]
    assert 'class="field-error"' in field
    assert str(_invoice("7861925284").open_amount) == "49.37"


def test_stale_apply_form_rejected(client, collector, users):
    customer = _customer()
    _unallocated_cash(users, "100.00")
    data = _apply_form(_page(client, customer))
    _unallocated_cash(users, "5.00")

    response = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert response.status_code == 400
    form = response.get_data(as_text=True).split('id="apply-cash-form"')[1]
    assert (
        "The unallocated cash changed since this page was shown and is now €105.00."
        in form.split("</form>")[0]
    )
    assert str(_invoice("7861925284").open_amount) == "49.37"


# Status of a valid POST per role. The customer belongs to team country-391.
APPLY_ACCESS = {
    "admin": 302,
    "manager": 302,
    "collector": 302,
    "collector_406": 404,
    "lead": 403,
    "trainee": 403,
}


@pytest.mark.parametrize("role", sorted(APPLY_ACCESS))
def test_apply_access_by_role(client, auth, users, role):
    customer = _customer()
    _unallocated_cash(users, "10.00")
    auth.login(users[role].email)
    data = {"apply-allocation": "oldest_first", "apply-expected_unallocated": "10.00"}

    response = client.post(f"/customers/{customer.id}/unallocated-cash", data=data)

    assert response.status_code == APPLY_ACCESS[role]
    assert _applied_count() == (1 if APPLY_ACCESS[role] == 302 else 0)


def test_apply_anonymous_sent_to_login(client, users):
    customer = _customer()

    response = client.post(
        f"/customers/{customer.id}/unallocated-cash",
        data={"apply-allocation": "oldest_first", "apply-expected_unallocated": "0"},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_apply_hidden_while_payments_off(app, client, auth, users, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    customer = _customer()
    _unallocated_cash(users, "10.00")
    auth.login("manager@test.example")

    html = _page(client, customer)
    response = client.post(
        f"/customers/{customer.id}/unallocated-cash",
        data={
            "apply-allocation": "oldest_first",
            "apply-expected_unallocated": "10.00",
        },
    )

    assert 'id="apply-cash-form"' not in html
    assert 'id="apply-cash-link"' not in html
    assert response.status_code == 404
    assert str(_invoice("7861925284").open_amount) == "49.37"
