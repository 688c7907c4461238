"""Read the ledger within what a user may see: portfolios, ageing, customer history."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from flask import abort
from sqlalchemy import Select, case, false, func, select

from app.auth.models import User
from app.extensions import db
from app.ledger.ageing import empty_ageing
from app.ledger.models import Allocation, Customer, Invoice, InvoiceStatus, Payment
from app.ledger.money import ZERO, to_money


def scope_customers(query: Select, user: User) -> Select:
    """Restrict a query joined to Customer to the user's portfolios."""
    if user.sees_all_portfolios:
        return query
    if not user.reads_ledger or user.team_id is None:
        return query.where(false())
    return query.where(Customer.team_id == user.team_id)


def get_customer_for(user: User, customer_id: int) -> Customer:
    """Return the customer, or 404 when it does not exist or is outside the user's scope."""
    query = scope_customers(select(Customer).where(Customer.id == customer_id), user)
    customer = db.session.scalar(query)
    if customer is None:
        abort(404)
    return customer


def bucket_expression(on: dt.date):
    """Return a SQL CASE giving an open invoice's ageing bucket on ``on``."""
    return case(
        (Invoice.due_date >= on, "not_due"),
        (Invoice.due_date >= on - dt.timedelta(days=30), "1-30"),
        (Invoice.due_date >= on - dt.timedelta(days=60), "31-60"),
        (Invoice.due_date >= on - dt.timedelta(days=90), "61-90"),
        else_="90+",
    )


def ageing_totals(user: User, on: dt.date) -> dict[str, dict]:
    """Return count and open amount per bucket of the user's open invoices."""
    bucket = bucket_expression(on).label("bucket")
    query = (
        select(bucket, func.count(Invoice.id), func.sum(Invoice.open_amount))
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(Invoice.status == InvoiceStatus.OPEN)
        .group_by(bucket)
    )
    ageing = empty_ageing()
    for name, count, amount in db.session.execute(scope_customers(query, user)):
        ageing[name] = {"count": count, "amount": to_money(amount or ZERO)}
    return ageing


# The account page lists this many paid invoices, newest payment first, unless
# opened with ?paid=all: the largest accounts have over a thousand.
PAID_INVOICES_SHOWN = 50


@dataclasses.dataclass
class PaidInvoice:
    number: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    currency: str
    paid_on: dt.date

    @property
    def days_late(self) -> int:
        return max((self.paid_on - self.due_date).days, 0)


@dataclasses.dataclass
class CustomerHistory:
    open_invoices: list[Invoice]
    paid_invoices: list[PaidInvoice]
    paid_count: int
    open_total: Decimal
    overdue_total: Decimal
    average_days_late: Decimal | None


def customer_history(
    customer: Customer, on: dt.date, *, paid_shown: int | None = PAID_INVOICES_SHOWN
) -> CustomerHistory:
    """Return a customer's open invoices and paid history as of ``on``.

    ``paid_invoices`` are the ``paid_shown`` most recently paid (all of them
    when it is None); ``paid_count`` and ``average_days_late`` cover every paid
    invoice.
    """
    open_invoices = db.session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer.id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.number)
    ).all()
    paid_on = func.max(Payment.received_on)
    paid_rows = db.session.execute(
        select(
            Invoice.number,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.amount,
            Invoice.currency,
            paid_on,
        )
        .join(Allocation, Allocation.invoice_id == Invoice.id)
        .join(Payment, Allocation.payment_id == Payment.id)
        .where(Invoice.customer_id == customer.id, Invoice.status == InvoiceStatus.PAID)
        .group_by(Invoice.id)
        .order_by(paid_on.desc(), Invoice.number)
    ).all()
    paid = [PaidInvoice(*row) for row in paid_rows]
    average = None
    if paid:
        total_days = Decimal(sum(item.days_late for item in paid))
        average = (total_days / len(paid)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return CustomerHistory(
        open_invoices=list(open_invoices),
        paid_invoices=paid if paid_shown is None else paid[:paid_shown],
        paid_count=len(paid),
        open_total=to_money(sum((i.open_amount for i in open_invoices), ZERO)),
        overdue_total=to_money(
            sum((i.open_amount for i in open_invoices if i.due_date < on), ZERO)
        ),
        average_days_late=average,
    )
