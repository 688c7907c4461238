"""The account actions of the customer page, through HTTP, on the IBM sample.

7209-MDWKR (team country-391) has three open invoices on 2013-06-30:
7861925284 49.37 due 21/06/2013, 3110878377 36.23 due 19/07/2013 and
826558350 49.68 due 24/07/2013, 135.28 in all.
"""

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.models import Activity, Dispute, DisputeReason, Promise
from app.extensions import db
from app.ledger.models import Customer, Invoice, Payment

OWN = "7209-MDWKR"


def _customer(reference: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


def _invoice(number: str) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def _page_disputes() -> list[Dispute]:
    """Return the disputes opened in Cadence, leaving out the IBM import's ones."""
    query = select(Dispute).where(Dispute.reason != DisputeReason.LEGACY_IMPORT)
    return list(db.session.scalars(query.order_by(Dispute.id)))


def _page(client, customer) -> str:
    return client.get(f"/customers/{customer.id}").get_data(as_text=True)


def _history(html: str) -> list[str]:
    body = html.split('id="history"')[1].split("</ol>")[0]
    items = re.findall(r'<li data-kind="([^"]+)">(.*?)</li>', body, flags=re.S)
    lines = []
    for kind, text in items:
        # Collapse markup and layout spaces, but keep the no-break spaces of amounts.
        text = re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", text))
        lines.append(f"{kind}: {text.strip()}")
    return lines


def _valid_form(action: str, customer: Customer, users) -> dict:
    invoice = _invoice("7861925284")
    forms = {
        "activities": {
            "activity-kind": "call",
            "activity-outcome": "reached",
            "activity-summary": "Will pay next week.",
        },
        "promises": {
            "promise-amount": "49,37",
            "promise-promised_date": "2013-07-05",
            "promise-invoice_ids": [str(invoice.id)],
        },
        "disputes": {
            "dispute-invoice_id": str(invoice.id),
            "dispute-reason": "quantity",
            "dispute-owner_id": str(users["manager"].id),
        },
        "payments": {
            "payment-kind": "payment",
            "payment-received_on": "2013-06-29",
            "payment-amount": "49.37",
            "payment-allocation": "oldest_first",
            # The one-time key that the rendered form carries.
            "payment-submission_key": "test-form-key-0000000001",
        },
        "collector": {"collector_id": str(users["collector"].id)},
    }
    return forms[action]


ACTIONS = ["activities", "promises", "disputes", "payments", "collector"]
# Status of a valid POST per role. The customer belongs to team country-391.
EXPECTED = {
    "admin": [302, 302, 302, 302, 302],
    "manager": [302, 302, 302, 302, 302],
    "collector": [302, 302, 302, 302, 403],
    "collector_406": [404, 404, 404, 404, 403],
    "lead": [403, 403, 403, 403, 403],
    "trainee": [403, 403, 403, 403, 403],
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("action_index", range(len(ACTIONS)))
def test_action_access_by_role(client, auth, users, role, action_index):
    action = ACTIONS[action_index]
    customer = _customer(OWN)
    auth.login(users[role].email)

    response = client.post(
        f"/customers/{customer.id}/{action}", data=_valid_form(action, customer, users)
    )

    assert response.status_code == EXPECTED[role][action_index]
    if response.status_code == 302:
        assert response.headers["Location"].startswith(f"/customers/{customer.id}")


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_action_sent_to_login(client, users, action):
    customer = _customer(OWN)

    response = client.post(
        f"/customers/{customer.id}/{action}", data=_valid_form(action, customer, users)
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert _count(Activity) + _count(Promise) + len(_page_disputes()) == 0


def test_page_shows_forms_and_history(client, auth, users):
    auth.login("collector@test.example")

    html = _page(client, _customer(OWN))

    for form_id in ("activity-form", "promise-form", "dispute-form", "payment-form"):
        assert f'id="{form_id}"' in html
    assert 'id="history"' in html
    # A collector does not assign portfolios.
    assert 'id="collector-form"' not in html


def test_manager_sees_collector_form(client, auth, users):
    auth.login("manager@test.example")

    assert 'id="collector-form"' in _page(client, _customer(OWN))


@pytest.fixture
def plan_with_worklist_only(app, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    return path


def test_forms_hidden_while_flags_off(client, auth, users, plan_with_worklist_only):
    customer = _customer(OWN)
    auth.login("manager@test.example")

    html = _page(client, customer)

    for form_id in ("activity-form", "promise-form", "dispute-form", "payment-form"):
        assert f'id="{form_id}"' not in html
    assert 'data-flag="kpi_dashboard"' not in html
    for action in ACTIONS[:4]:
        response = client.post(
            f"/customers/{customer.id}/{action}",
            data=_valid_form(action, customer, users),
        )
        assert response.status_code == 404
    assert client.get("/dashboard").status_code == 404


# --- Activities -------------------------------------------------------------------


def test_activity_logged_and_shown_escaped(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")

    client.post(
        f"/customers/{customer.id}/activities",
        data={
            "activity-kind": "note",
            "activity-outcome": "",
            "activity-summary": "<script>alert(1)</script> asked for a copy",
        },
    )
    html = _page(client, customer)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; asked for a copy" in html
    assert _history(html)[0].startswith("note: 30/06/2013")


@pytest.mark.parametrize(
    ("data", "message_field"),
    [
        ({"activity-kind": "call", "activity-summary": ""}, "activity-summary"),
        ({"activity-kind": "fax", "activity-summary": "x"}, "activity-kind"),
        (
            {
                "activity-kind": "call",
                "activity-outcome": "happy",
                "activity-summary": "x",
            },
            "activity-outcome",
        ),
    ],
    ids=["empty summary", "unknown kind", "unknown outcome"],
)
def test_invalid_activity_shows_form_again(client, auth, users, data, message_field):
    customer = _customer(OWN)
    auth.login("collector@test.example")

    response = client.post(f"/customers/{customer.id}/activities", data=data)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    form = html.split('id="activity-form"')[1].split("</form>")[0]
    field = form.split(f'id="{message_field}"')[1]
    assert '<p class="field-error" role="alert">' in field.split("</div>")[0]
    assert _count(Activity) == 0


# --- Promises ---------------------------------------------------------------------


def test_promise_recorded_then_cancelled(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")

    response = client.post(
        f"/customers/{customer.id}/promises",
        data=_valid_form("promises", customer, users),
    )
    promise = db.session.scalar(select(Promise))

    assert response.headers["Location"] == f"/customers/{customer.id}#promises"
    assert str(promise.amount) == "49.37"
    assert [i.number for i in promise.invoices] == ["7861925284"]
    html = _page(client, customer)
    assert 'data-status="pending"' in html
    assert _history(html)[0].startswith("promise: 30/06/2013")

    client.post(f"/customers/{customer.id}/promises/{promise.id}/cancel")

    db.session.refresh(promise)
    assert promise.status == "cancelled"


def test_promise_above_invoices_total_refused(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")
    client.post("/language/en")
    data = _valid_form("promises", customer, users) | {"promise-amount": "49.38"}

    response = client.post(f"/customers/{customer.id}/promises", data=data)

    assert response.status_code == 400
    assert (
        "The amount is above the open total of the chosen invoices, €49.37."
        in response.get_data(as_text=True)
    )
    assert _count(Promise) == 0


def test_cancel_promise_of_other_customer_is_404(client, auth, users):
    customer = _customer(OWN)
    other = _customer("0783-PEPYR")
    auth.login("manager@test.example")
    client.post(
        f"/customers/{customer.id}/promises",
        data=_valid_form("promises", customer, users),
    )
    promise = db.session.scalar(select(Promise))

    response = client.post(f"/customers/{other.id}/promises/{promise.id}/cancel")

    assert response.status_code == 404
    db.session.refresh(promise)
    assert promise.status == "pending"


# --- Disputes ---------------------------------------------------------------------


def test_dispute_opened_then_resolved(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")

    client.post(
        f"/customers/{customer.id}/disputes",
        data=_valid_form("disputes", customer, users),
    )
    [dispute] = _page_disputes()

    assert _invoice("7861925284").disputed is True
    assert dispute.owner_id == users["manager"].id

    response = client.post(
        f"/customers/{customer.id}/disputes/{dispute.id}/resolve",
        data={f"resolve-{dispute.id}-resolution": "Quantity checked with the driver."},
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert dispute.status == "resolved"
    assert _invoice("7861925284").disputed is False
    assert [line.split(":")[0] for line in _history(_page(client, customer))[:2]] == [
        "dispute_resolved",
        "dispute_opened",
    ]


def test_dispute_owner_of_other_team_refused(client, auth, users):
    customer = _customer(OWN)
    auth.login("manager@test.example")
    data = _valid_form("disputes", customer, users) | {
        "dispute-owner_id": str(users["collector_406"].id)
    }

    response = client.post(f"/customers/{customer.id}/disputes", data=data)

    assert response.status_code == 400
    assert _page_disputes() == []


def test_resolve_without_text_refused(client, auth, users):
    customer = _customer(OWN)
    auth.login("manager@test.example")
    client.post(
        f"/customers/{customer.id}/disputes",
        data=_valid_form("disputes", customer, users),
    )
    [dispute] = _page_disputes()

    response = client.post(
        f"/customers/{customer.id}/disputes/{dispute.id}/resolve",
        data={f"resolve-{dispute.id}-resolution": ""},
    )

    assert response.status_code == 400
    assert f'id="resolve-dispute-{dispute.id}"' in response.get_data(as_text=True)
    db.session.refresh(dispute)
    assert dispute.status == "open"


# --- Payments ---------------------------------------------------------------------


def test_french_amount_settles_oldest(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")
    # The page is read in English, so the checks do not depend on the French
    # catalog. The amount is typed the French way all the same.
    client.post("/language/en")
    data = _valid_form("payments", customer, users) | {
        "payment-amount": "1 000,00",
        "payment-reference": "VIR 2013-06-29",
    }

    response = client.post(f"/customers/{customer.id}/payments", data=data)

    assert response.status_code == 302
    payment = db.session.scalar(
        select(Payment).where(Payment.reference == "VIR 2013-06-29")
    )
    assert str(payment.amount) == "1000.00"
    # 49.37 + 36.23 + 49.68 = 135.28 allocated, 864.72 unallocated.
    html = _page(client, customer)
    assert '<dd id="unallocated-total">€864.72</dd>' in html
    assert _history(html)[0] == (
        "payment: 6/29/2013 Payment €1,000.00 Reference VIR 2013-06-29 "
        "Allocated to 7861925284, 3110878377, 826558350 €864.72 unallocated"
    )
    assert 'id="open-invoices"' not in html


def test_payment_to_chosen_invoices(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")
    page = _page(client, customer)
    # One allocation line per open invoice, in due date order.
    line_ids = re.findall(
        r'name="payment-allocations-(\d+)-invoice_id" type="hidden" value="(\d+)"', page
    )
    assert len(line_ids) == 3
    data = _valid_form("payments", customer, users) | {
        "payment-amount": "60.00",
        "payment-allocation": "chosen",
    }
    for index, invoice_id in line_ids:
        data[f"payment-allocations-{index}-invoice_id"] = invoice_id
    data["payment-allocations-2-amount"] = "49.68"

    response = client.post(f"/customers/{customer.id}/payments", data=data)

    assert response.status_code == 302
    assert _invoice("826558350").status == "paid"
    assert str(_invoice("7861925284").open_amount) == "49.37"
    assert '<dd id="unallocated-total">10,32\u00a0€</dd>' in _page(client, customer)


@pytest.mark.parametrize(
    ("changes", "error_field"),
    [
        ({"payment-amount": "abc"}, "payment-amount"),
        ({"payment-amount": "1.000,50"}, "payment-amount"),
        ({"payment-amount": "0"}, "payment-amount"),
        ({"payment-received_on": "2013-07-01"}, "payment-received_on"),
        ({"payment-received_on": "30/06/2013"}, "payment-received_on"),
        ({"payment-allocation": "chosen"}, "payment-allocation"),
        ({"payment-kind": "opening"}, "payment-kind"),
    ],
    ids=[
        "not a number",
        "mixed separators",
        "zero",
        "tomorrow",
        "french date",
        "chosen without amounts",
        "opening kind",
    ],
)
def test_invalid_payment_refused(client, auth, users, changes, error_field):
    customer = _customer(OWN)
    auth.login("collector@test.example")
    data = _valid_form("payments", customer, users) | changes

    response = client.post(f"/customers/{customer.id}/payments", data=data)

    assert response.status_code == 400
    form = response.get_data(as_text=True).split('id="payment-form"')[1]
    field = form.split(f'id="{error_field}"')[1].split("</div>")[0]
    assert 'class="field-error"' in field
    assert _count(Payment) == 1846  # the IBM settlements only


def test_amounts_need_chosen_allocation(client, auth, users):
    customer = _customer(OWN)
    auth.login("collector@test.example")
    data = _valid_form("payments", customer, users) | {
        "payment-allocations-0-invoice_id": str(_invoice("7861925284").id),
        "payment-allocations-0-amount": "10.00",
    }

    response = client.post(f"/customers/{customer.id}/payments", data=data)

    assert response.status_code == 400
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "payment.record"
            )
        )
        == 0
    )


# --- Collector assignment ---------------------------------------------------------


def test_manager_assigns_collector(client, auth, users):
    customer = _customer(OWN)
    auth.login("manager@test.example")

    client.post(
        f"/customers/{customer.id}/collector",
        data={"collector_id": str(users["collector"].id)},
    )

    assert '<dd id="collector">Collector</dd>' in _page(client, customer)

    client.post(f"/customers/{customer.id}/collector", data={"collector_id": ""})

    assert '<dd id="collector">Non attribué</dd>' in _page(client, customer)


def test_collector_of_other_team_not_offered(client, auth, users):
    customer = _customer(OWN)
    auth.login("manager@test.example")

    response = client.post(
        f"/customers/{customer.id}/collector",
        data={"collector_id": str(users["collector_406"].id)},
    )

    assert response.status_code == 400
    db.session.refresh(customer)
    assert customer.collector_id is None
