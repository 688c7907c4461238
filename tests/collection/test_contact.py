"""The contact details page, and what a missing postal address blocks: a formal
notice waits for one, other letters go out with a warning.

Tests that read messages switch the interface to English first, so they check
the messages themselves and not the state of the French catalogue.
"""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.dunning_policies import ensure_default_policy
from app.collection.models import (
    Activity,
    DunningAction,
    DunningActionStatus,
    Letter,
)
from app.extensions import db
from app.ledger.models import Customer
from tests.collection.creditor_files import write_creditor
from tests.collection.dunning_factories import add_invoice, days_ago

OWN = "7209-MDWKR"  # team country-391, the team of collector@test.example
OTHER = "0783-PEPYR"  # team country-406
ADDRESS = "Zone artisanale du Moulin\n12 rue des Tanneurs\n31000 Toulouse"


def _customer(reference: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


def _url(reference: str) -> str:
    return f"/customers/{_customer(reference).id}/contact"


def _login_in_english(client, auth, email: str) -> None:
    auth.login(email)
    client.post("/language/en")


def test_collector_sees_contact_form(client, auth, users):
    auth.login("collector@test.example")

    response = client.get(_url(OWN))

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="contact-form"' in page
    assert 'name="address"' in page
    assert 'name="email"' in page


def test_customer_page_links_contact_form(client, auth, users):
    auth.login("collector@test.example")

    page = client.get(f"/customers/{_customer(OWN).id}").get_data(as_text=True)

    assert f'href="{_url(OWN)}" id="contact-link"' in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_other_team_gets_404(client, auth, users, method):
    auth.login("collector@test.example")

    response = getattr(client, method)(_url(OTHER), data={"address": "x"})

    assert response.status_code == 404
    assert _customer(OTHER).address is None


@pytest.mark.parametrize("email", ["trainee@test.example", "lead@test.example"])
def test_roles_without_ledger_get_403(client, auth, users, email):
    auth.login(email)

    assert client.get(_url(OWN)).status_code == 403


def test_anonymous_is_sent_to_login(client, users):
    response = client.get(_url(OWN))

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_manager_edits_any_team(client, auth, users):
    auth.login("manager@test.example")

    response = client.post(
        _url(OTHER), data={"address": "1 place Bellecour\n69002 Lyon"}
    )

    assert response.status_code == 302
    assert _customer(OTHER).address == "1 place Bellecour\n69002 Lyon"


def test_saving_logs_history_and_audit(client, auth, users):
    _login_in_english(client, auth, "collector@test.example")
    customer_id = _customer(OWN).id

    response = client.post(
        _url(OWN),
        data={
            "address": "  Zone artisanale du Moulin \r\n\r\n12 rue des Tanneurs\r\n"
            "31000 Toulouse  ",
            "email": " compta@moulin.example ",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/customers/{customer_id}")
    customer = _customer(OWN)
    assert customer.address == ADDRESS
    assert customer.email == "compta@moulin.example"
    activity = db.session.scalar(
        select(Activity).where(Activity.customer_id == customer_id)
    )
    assert activity.kind == "note"
    assert activity.user_id == users["collector"].id
    assert activity.summary == (
        "Postal address set to Zone artisanale du Moulin, 12 rue des Tanneurs, "
        "31000 Toulouse. Email set to compta@moulin.example."
    )
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "customer.contact_update")
    )
    assert entry.target == f"customer:{customer_id}"
    assert entry.actor_id == users["collector"].id
    assert entry.before == {"address": "", "email": ""}
    assert entry.after == {"address": ADDRESS, "email": "compta@moulin.example"}


def test_history_shows_change(client, auth, users):
    auth.login("collector@test.example")
    client.post(_url(OWN), data={"address": ADDRESS, "email": ""})

    page = client.get(f"/customers/{_customer(OWN).id}").get_data(as_text=True)

    assert "12 rue des Tanneurs, 31000 Toulouse." in page


def test_removing_address_is_recorded(client, auth, users):
    customer = _customer(OWN)
    customer.address = ADDRESS
    db.session.commit()
    auth.login("collector@test.example")

    client.post(_url(OWN), data={"address": "  \n ", "email": ""})

    assert _customer(OWN).address is None
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "customer.contact_update")
    )
    assert entry.before == {"address": ADDRESS}
    assert entry.after == {"address": ""}


def test_unchanged_details_write_nothing(client, auth, users):
    customer = _customer(OWN)
    customer.address = ADDRESS
    db.session.commit()
    auth.login("collector@test.example")

    response = client.post(_url(OWN), data={"address": ADDRESS, "email": ""})

    assert response.status_code == 302
    assert db.session.scalars(select(Activity)).all() == []
    assert (
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.contact_update")
        ).all()
        == []
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"address": "\n".join(f"line {n}" for n in range(1, 8))},
            "The address has 7 lines. Use at most 6.",
        ),
        (
            {"address": "1 rue Haute\n" + "x" * 61},
            "Line 2 of the address has more than 60 characters.",
        ),
        ({"email": "compta.example"}, "Enter an email address such as"),
        ({"email": "compta @moulin.example"}, "Enter an email address such as"),
        ({"email": "a@" + "b" * 260 + ".fr"}, "254"),
    ],
)
def test_invalid_details_are_rejected(client, auth, users, data, message):
    _login_in_english(client, auth, "collector@test.example")

    response = client.post(_url(OWN), data=data)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    customer = _customer(OWN)
    assert customer.address is None
    assert customer.email is None


def test_post_without_csrf_token_is_rejected(app, client, auth, users):
    auth.login("collector@test.example")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(_url(OWN), data={"address": ADDRESS})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False

    assert response.status_code == 400
    assert _customer(OWN).address is None


# --- What a missing address blocks ------------------------------------------------


@pytest.fixture
def own_creditor(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(write_creditor(tmp_path)))


@pytest.fixture
def pending_notice(users, own_creditor):
    """A formal notice waiting for approval for OWN, which has no address."""
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-OLD", days_ago(60), "300.00")
    level = next(
        level
        for level in ensure_default_policy().levels
        if level.channel == "formal_notice"
    )
    action = DunningAction(
        customer_id=customer.id,
        level_id=level.id,
        run_date=days_ago(1),
        channel=level.channel,
        status=DunningActionStatus.PENDING_APPROVAL,
        amount=invoice.open_amount,
    )
    action.invoices = [invoice]
    db.session.add(action)
    db.session.commit()
    return action


def test_approval_needs_address(client, auth, pending_notice):
    _login_in_english(client, auth, "manager@test.example")

    response = client.post(
        f"/dunning/actions/{pending_notice.id}/approve", follow_redirects=True
    )

    page = response.get_data(as_text=True)
    db.session.refresh(pending_notice)
    assert pending_notice.status == "pending_approval"
    assert (
        "Customer 7209-MDWKR has no postal address, so a formal notice can be "
        "neither approved nor sent." in page
    )
    assert f'href="{_url(OWN)}" id="missing-address-link"' in page


def test_approval_after_address_added(client, auth, pending_notice):
    auth.login("manager@test.example")
    client.post(_url(OWN), data={"address": ADDRESS})

    client.post(f"/dunning/actions/{pending_notice.id}/approve")

    db.session.refresh(pending_notice)
    assert pending_notice.status == "ready"


def test_hand_formal_notice_needs_address(client, auth, users, own_creditor):
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-OLD", days_ago(60), "300.00")
    db.session.commit()
    _login_in_english(client, auth, "manager@test.example")

    response = client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": "letter-form-key-0004",
            "template_key": "formal_notice",
            "language": "en",
            "invoices": [str(invoice.id)],
        },
        follow_redirects=True,
    )

    page = response.get_data(as_text=True)
    assert db.session.scalars(select(Letter)).all() == []
    assert "formal notice can be neither approved nor sent" in page
    assert 'id="missing-address-link"' in page


def test_reminder_without_address_warns(client, auth, users, own_creditor):
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-OLD", days_ago(20), "300.00")
    db.session.commit()
    auth.login("collector@test.example")

    page = client.get(f"/customers/{customer.id}/letters").get_data(as_text=True)
    assert 'id="missing-address"' in page
    assert f'href="{_url(OWN)}" id="missing-address-link"' in page

    response = client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": "letter-form-key-0005",
            "template_key": "first_reminder",
            "language": "fr",
            "invoices": [str(invoice.id)],
        },
    )

    assert response.status_code == 302
    letters = db.session.scalars(select(Letter)).all()
    assert len(letters) == 1
    assert letters[0].pdf is not None


def test_letters_page_warns_about_sample_creditor(
    client, auth, users, app, monkeypatch
):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", "")
    _login_in_english(client, auth, "admin@test.example")
    customer_id = _customer(OWN).id

    page = client.get(f"/customers/{customer_id}/letters").get_data(as_text=True)
    templates = client.get("/letter-templates").get_data(as_text=True)

    for document in (page, templates):
        assert 'id="creditor-warning"' in document
        assert "CADENCE_CREDITOR_FILE" in document
        assert "123 456 782" in document


def test_own_creditor_removes_warning(client, auth, users, own_creditor):
    auth.login("admin@test.example")

    page = client.get(f"/customers/{_customer(OWN).id}/letters").get_data(as_text=True)

    assert 'id="creditor-warning"' not in page


# --- Contract late-payment rate -------------------------------------------------------


def _rate_url(reference: str) -> str:
    return f"/customers/{_customer(reference).id}/contract-rate"


def test_manager_sets_and_removes_contract_rate(client, auth, users):
    _login_in_english(client, auth, "manager@test.example")

    assert 'id="contract-rate-form"' in client.get(_url(OWN)).get_data(as_text=True)
    response = client.post(_rate_url(OWN), data={"contract_rate": "12,5"})

    assert response.status_code == 302
    assert _customer(OWN).contract_rate == Decimal("12.500")
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "customer.contract_rate_update")
    )
    assert (entry.before, entry.after) == (
        {"contract_rate": None},
        {"contract_rate": "12.5"},
    )
    notes = db.session.scalars(
        select(Activity.summary).where(Activity.customer_id == _customer(OWN).id)
    ).all()
    assert notes == ["Contract late-payment rate set to 12.5 %."]

    client.post(_rate_url(OWN), data={"contract_rate": ""})

    assert _customer(OWN).contract_rate is None


def test_unchanged_contract_rate_writes_nothing(client, auth, users):
    _login_in_english(client, auth, "manager@test.example")
    client.post(_rate_url(OWN), data={"contract_rate": "12.5"})

    response = client.post(
        _rate_url(OWN), data={"contract_rate": "12.500"}, follow_redirects=True
    )

    assert "Nothing changed in the contract rate." in response.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "customer.contract_rate_update")
        )
        == 1
    )


@pytest.mark.parametrize(
    "typed, message",
    [
        ("abc", "Enter an amount such as 1250.00."),
        ("0", "Enter a rate above 0 and at most 100, such as 12.5."),
        ("150", "Enter a rate above 0 and at most 100, such as 12.5."),
        ("12.3456", "Give the rate with at most 3 decimals."),
    ],
)
def test_bad_contract_rate_refused(client, auth, users, typed, message):
    _login_in_english(client, auth, "manager@test.example")

    response = client.post(_rate_url(OWN), data={"contract_rate": typed})

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _customer(OWN).contract_rate is None


def test_collector_cannot_set_contract_rate(client, auth, users):
    auth.login("collector@test.example")

    assert 'id="contract-rate-form"' not in client.get(_url(OWN)).get_data(as_text=True)
    assert (
        client.post(_rate_url(OWN), data={"contract_rate": "12.5"}).status_code == 403
    )
    assert (
        client.post(_rate_url(OTHER), data={"contract_rate": "12.5"}).status_code == 404
    )
    assert _customer(OWN).contract_rate is None
