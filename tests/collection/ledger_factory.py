"""Build small hand-made ledgers for the collection tests.

Two teams, one collector each, a manager, and customers whose invoices are given as
(number, issue date, due date, amount) with every date in 2013.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from flask import session

from app.auth.services import create_user, get_or_create_team
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from tests.conftest import PASSWORD


@dataclasses.dataclass
class SmallLedger:
    manager: object
    admin: object
    collector: object
    other_collector: object
    trainee: object
    customer: Customer
    other_customer: Customer
    invoices: dict[str, Invoice]


def day(text: str) -> dt.date:
    """Return a 2013 date written as MM-DD."""
    return dt.date.fromisoformat(f"2013-{text}")


def add_customer(reference: str, team_code: str, **columns) -> Customer:
    team = get_or_create_team(team_code)
    customer = Customer(
        name=reference,
        legacy_source="test",
        legacy_id=reference,
        team_id=team.id,
        **columns,
    )
    db.session.add(customer)
    db.session.flush()
    return customer


def add_invoice(
    customer: Customer, number: str, issued: str, due: str, amount: str, **columns
) -> Invoice:
    invoice = Invoice(
        customer_id=customer.id,
        number=number,
        issue_date=day(issued),
        due_date=day(due),
        amount=Decimal(amount),
        open_amount=Decimal(columns.pop("open_amount", amount)),
        status=columns.pop("status", InvoiceStatus.OPEN),
        **columns,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def build_small_ledger() -> SmallLedger:
    """Create the people, and customer A-1 of team-a with four open invoices.

    Invoice  issued  due    amount  on 2013-06-30
    A-101    03-01   03-31  100.00  91 days late
    A-102    04-15   05-15  250.00  46 days late
    A-103    05-20   06-19  400.00  11 days late
    A-104    06-10   07-10  600.00  not due

    Customer B-1 of team-b has one open invoice, B-201 (05-01, 05-31, 80.00).
    """
    get_or_create_team("team-a")
    get_or_create_team("team-b")
    people = {
        "manager": ("manager@small.example", "manager", None),
        "admin": ("admin@small.example", "admin", None),
        "collector": ("collector-a@small.example", "collector", "team-a"),
        "other_collector": ("collector-b@small.example", "collector", "team-b"),
        "trainee": ("trainee@small.example", "trainee", "team-a"),
    }
    users = {
        key: create_user(
            email=email,
            name=key.replace("_", " ").title(),
            role=role,
            password=PASSWORD,
            team_code=team,
        )
        for key, (email, role, team) in people.items()
    }
    customer = add_customer("A-1", "team-a")
    other = add_customer("B-1", "team-b")
    invoices = {
        "A-101": add_invoice(customer, "A-101", "03-01", "03-31", "100.00"),
        "A-102": add_invoice(customer, "A-102", "04-15", "05-15", "250.00"),
        "A-103": add_invoice(customer, "A-103", "05-20", "06-19", "400.00"),
        "A-104": add_invoice(customer, "A-104", "06-10", "07-10", "600.00"),
        "B-201": add_invoice(other, "B-201", "05-01", "05-31", "80.00"),
    }
    db.session.commit()
    return SmallLedger(
        customer=customer, other_customer=other, invoices=invoices, **users
    )


@pytest.fixture
def english(app):
    """A request context in English, where lazy messages can be read as text."""
    with app.test_request_context():
        session["locale"] = "en"
        yield
