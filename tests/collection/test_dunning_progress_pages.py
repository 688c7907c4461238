"""Dunning pages: the run date limit, future previews, a customer's dunning
status and letters by hand that would duplicate an open action."""

import re

from sqlalchemy import select

from app.collection.dunning import run_dunning
from app.collection.letters import send_letter
from app.collection.models import DunningAction, Letter
from app.extensions import db
from app.ledger.models import Customer
from tests.collection.dunning_factories import TODAY, add_invoice, days_ago

OWN = "7209-MDWKR"  # team country-391


def _customer(reference: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


def _error_flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-error"[^>]*>(.*?)</p>', html, re.S)


def test_page_rejects_real_run_after_business_date(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post(
        "/dunning/run", data={"on": "2013-07-01"}, follow_redirects=True
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "A real dunning run cannot be for 2013-07-01, which is after today&#39;s "
        "business date 2013-06-30. Choose 2013-06-30 or an earlier date, or tick "
        "the dry run to preview 2013-07-01."
    ) in html
    assert db.session.scalars(select(DunningAction)).all() == []


def test_page_rejects_future_run_in_french(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/fr")

    response = client.post(
        "/dunning/run", data={"on": "2013-07-01"}, follow_redirects=True
    )

    assert response.status_code == 200
    [error] = _error_flashes(response.get_data(as_text=True))
    assert "2013-07-01" in error
    assert "2013-06-30" in error
    assert db.session.scalars(select(DunningAction)).all() == []


def test_page_previews_future_date(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post("/dunning/run", data={"on": "2013-07-10", "dry_run": "y"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    banner = re.search(r'id="dry-run">(.*?)</p>', html).group(1)
    assert banner.startswith(
        "Preview of 7/10/2013, a date after today’s business date 6/30/2013: "
        "nothing was saved."
    )
    assert db.session.scalars(select(DunningAction)).all() == []


def test_customer_status_shows_hand_letter(client, auth, users):
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-1", days_ago(12), "80.00")
    db.session.commit()
    letter = send_letter(
        customer, "first_reminder", "fr", [invoice.id], users["manager"], TODAY
    )
    auth.login("collector@test.example")
    client.post("/language/en")

    html = client.get(f"/customers/{customer.id}/dunning").get_data(as_text=True)

    row = re.search(rf'<tr id="progress-{invoice.id}">(.*?)</tr>', html, re.S).group(1)
    assert f'href="/dunning/actions/{letter.action_id}">Première relance</a>' in row
    assert "(done on 6/30/2013)" in row
    assert "Seconde relance, due from 7/15/2013" in row
    assert f'href="/letters/{letter.id}"' in html


def test_customer_status_shows_waiting_level(client, auth, users):
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-1", days_ago(12), "80.00")
    db.session.commit()
    run_dunning(TODAY)
    auth.login("collector@test.example")
    client.post("/language/en")

    html = client.get(f"/customers/{customer.id}/dunning").get_data(as_text=True)

    row = re.search(rf'<tr id="progress-{invoice.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Première relance</a> (not done yet)" in row
    assert "Seconde relance, once the latest level is done" in row


def test_letter_page_explains_open_action(client, auth, users):
    customer = _customer(OWN)
    invoice = add_invoice(customer, "T-1", days_ago(12), "80.00")
    db.session.commit()
    run_dunning(TODAY)
    auth.login("collector@test.example")
    client.post("/language/en")

    response = client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": "letter-form-key-0001",
            "template_key": "first_reminder",
            "language": "fr",
            "invoices": [invoice.id],
        },
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "The letter was not sent: Invoices T-1 already have a dunning action to "
        "carry out (Première relance)."
    ) in html
    assert db.session.scalars(select(Letter)).all() == []
