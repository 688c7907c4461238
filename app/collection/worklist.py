"""The collector's worklist: customers with overdue open invoices, by priority."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select

from app.auth.models import Team, User
from app.extensions import db
from app.ledger.ageing import BUCKETS
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.ledger.money import ZERO, to_money
from app.ledger.services import bucket_expression, scope_customers

# Each 30 days of lateness of the oldest overdue invoice adds the overdue amount
# once more to the score, so an old debt outranks a slightly larger recent one.
AGE_WEIGHT_DAYS = 30


@dataclasses.dataclass
class WorklistRow:
    customer_id: int
    reference: str
    name: str
    team: str | None
    collector: str | None
    overdue_amount: Decimal
    open_amount: Decimal
    oldest_days_past_due: int
    disputed_count: int
    buckets: dict[str, Decimal]

    @property
    def priority(self) -> Decimal:
        factor = 1 + Decimal(self.oldest_days_past_due) / AGE_WEIGHT_DAYS
        return to_money(self.overdue_amount * factor)


def build_worklist(user: User, on: dt.date) -> list[WorklistRow]:
    """Return the user's customers with overdue open invoices, highest priority first."""
    bucket = bucket_expression(on)
    overdue = Invoice.due_date < on
    columns = [
        Customer.id,
        Customer.legacy_id,
        Customer.name,
        Customer.team_id,
        Customer.collector_id,
        func.sum(case((overdue, Invoice.open_amount), else_=0)).label("overdue"),
        func.sum(Invoice.open_amount).label("open"),
        func.min(case((overdue, Invoice.due_date))).label("oldest_due"),
        func.sum(case((Invoice.disputed, 1), else_=0)).label("disputed"),
    ]
    columns += [
        func.sum(case((bucket == name, Invoice.open_amount), else_=0)).label(name)
        for name in BUCKETS
    ]
    query = (
        select(*columns)
        .join(Invoice, Invoice.customer_id == Customer.id)
        .where(Invoice.status == InvoiceStatus.OPEN)
        .group_by(Customer.id)
        .having(func.sum(case((overdue, 1), else_=0)) > 0)
    )
    rows = db.session.execute(scope_customers(query, user)).all()
    teams, collectors = _labels()
    worklist = [
        WorklistRow(
            customer_id=row.id,
            reference=row.legacy_id or str(row.id),
            name=row.name,
            team=teams.get(row.team_id),
            collector=collectors.get(row.collector_id),
            overdue_amount=to_money(row.overdue or ZERO),
            open_amount=to_money(row.open or ZERO),
            oldest_days_past_due=(on - _as_date(row.oldest_due)).days,
            disputed_count=int(row.disputed or 0),
            buckets={name: to_money(getattr(row, name) or ZERO) for name in BUCKETS},
        )
        for row in rows
    ]
    worklist.sort(key=lambda item: (-item.priority, item.reference))
    return worklist


def _as_date(value) -> dt.date:
    # SQLite returns MIN() over a CASE of dates as text.
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _labels() -> tuple[dict[int, str], dict[int, str]]:
    teams = dict(db.session.execute(select(Team.id, Team.code)).all())
    collectors = dict(db.session.execute(select(User.id, User.name)).all())
    return teams, collectors
