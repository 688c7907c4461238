"""Small builders of customers, invoices and users for the dunning and letter tests.

Each builder adds its row and flushes, so ids are set; tests commit when a service
under test needs committed data.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from pypdf import PdfReader

from app.auth.models import Team, User
from app.auth.services import create_user, get_or_create_team
from app.collection.models import Dispute, DisputeStatus, Promise, PromiseStatus
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from tests.conftest import IBM_AS_OF, PASSWORD

TODAY = IBM_AS_OF  # 2013-06-30, the business date the tests pin


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def add_team(code: str = "team-a") -> Team:
    team = get_or_create_team(code)
    db.session.flush()
    return team


def add_customer(reference: str, team: Team | None = None, **fields) -> Customer:
    customer = Customer(
        name=fields.pop("name", f"Client {reference}"),
        legacy_source="test",
        legacy_id=reference,
        team=team,
        **fields,
    )
    db.session.add(customer)
    db.session.flush()
    return customer


def add_invoice(
    customer: Customer,
    number: str,
    due_date: dt.date,
    amount: str,
    *,
    open_amount: str | None = None,
    disputed: bool = False,
    status: str = InvoiceStatus.OPEN,
) -> Invoice:
    invoice = Invoice(
        customer=customer,
        number=number,
        issue_date=due_date - dt.timedelta(days=30),
        due_date=due_date,
        amount=Decimal(amount),
        open_amount=Decimal(open_amount if open_amount is not None else amount),
        disputed=disputed,
        status=status,
        legacy_source="test",
        legacy_id=number,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def add_dispute(invoice: Invoice, status: str = DisputeStatus.OPEN) -> Dispute:
    dispute = Dispute(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        reason="pricing",
        status=status,
    )
    db.session.add(dispute)
    db.session.flush()
    return dispute


def add_promise(customer: Customer, status: str = PromiseStatus.PENDING) -> Promise:
    promise = Promise(
        customer_id=customer.id,
        amount=Decimal("10.00"),
        promised_date=TODAY + dt.timedelta(days=7),
        status=status,
    )
    db.session.add(promise)
    db.session.flush()
    return promise


def add_user(email: str, role: str, team_code: str | None = None) -> User:
    return create_user(
        email=email,
        name=email.split("@")[0],
        role=role,
        password=PASSWORD,
        team_code=team_code,
    )


def pdf_text(data: bytes) -> str:
    """Return the text of every page of a PDF, with runs of whitespace as one space.

    French amounts hold no-break spaces, which this turns into plain spaces too.
    """
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
