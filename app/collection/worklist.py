"""The collector's worklist: customers with overdue open invoices, by priority, and
what falls due today.

Priority = overdue amount x (1 + weighted days / 30), where weighted days are the
days the oldest overdue invoice is late, plus 15 for each promise broken in the
last 90 days, plus 10 for each dunning level reached. The dunning level is the
position of the level of the customer's latest done dunning action (0 if none).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.auth.models import Team, User
from app.collection.models import (
    DunningAction,
    DunningActionStatus,
    DunningLevel,
    Promise,
    PromiseStatus,
)
from app.extensions import db
from app.ledger.ageing import BUCKETS
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.ledger.money import ZERO, to_money
from app.ledger.services import bucket_expression, scope_customers

# Each 30 weighted days add the overdue amount once more to the score, so an old
# debt outranks a slightly larger recent one.
AGE_WEIGHT_DAYS = 30
# A broken promise weighs like 15 more days late, a dunning level like 10.
BROKEN_PROMISE_DAYS = 15
DUNNING_LEVEL_DAYS = 10
BROKEN_PROMISE_WINDOW_DAYS = 90


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
    broken_promises: int = 0
    dunning_level: int = 0

    @property
    def weighted_days(self) -> int:
        return (
            self.oldest_days_past_due
            + BROKEN_PROMISE_DAYS * self.broken_promises
            + DUNNING_LEVEL_DAYS * self.dunning_level
        )

    @property
    def priority(self) -> Decimal:
        factor = 1 + Decimal(self.weighted_days) / AGE_WEIGHT_DAYS
        return to_money(self.overdue_amount * factor)


@dataclasses.dataclass
class TodayItems:
    """Dunning actions to carry out and promises falling due on the business date."""

    dunning_actions: list[DunningAction]
    promises: list[Promise]


def build_worklist(user: User, on: dt.date) -> list[WorklistRow]:
    """Return the user's customers with overdue invoices, highest priority first."""
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
    broken = _broken_promise_counts(user, on)
    levels = _dunning_levels(user, on)
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
            broken_promises=broken.get(row.id, 0),
            dunning_level=levels.get(row.id, 0),
        )
        for row in rows
    ]
    worklist.sort(key=lambda item: (-item.priority, item.reference))
    return worklist


def _broken_promise_counts(user: User, on: dt.date) -> dict[int, int]:
    """Return the number of promises broken in the window, by customer id."""
    first_due = on - dt.timedelta(days=BROKEN_PROMISE_WINDOW_DAYS)
    query = (
        select(Promise.customer_id, func.count(Promise.id))
        .join(Customer, Customer.id == Promise.customer_id)
        .where(
            Promise.status == PromiseStatus.BROKEN,
            Promise.promised_date >= first_due,
            Promise.promised_date < on,
        )
        .group_by(Promise.customer_id)
    )
    return dict(db.session.execute(scope_customers(query, user)).all())


def _dunning_levels(user: User, on: dt.date) -> dict[int, int]:
    """Return the level position of each customer's latest done dunning action."""
    latest_first = func.row_number().over(
        partition_by=DunningAction.customer_id,
        order_by=(DunningAction.run_date.desc(), DunningAction.id.desc()),
    )
    ranked = scope_customers(
        select(
            DunningAction.customer_id,
            DunningLevel.position,
            latest_first.label("rank"),
        )
        .join(DunningLevel, DunningLevel.id == DunningAction.level_id)
        .join(Customer, Customer.id == DunningAction.customer_id)
        .where(
            DunningAction.status == DunningActionStatus.DONE,
            DunningAction.run_date <= on,
        ),
        user,
    ).subquery()
    query = select(ranked.c.customer_id, ranked.c.position).where(ranked.c.rank == 1)
    return dict(db.session.execute(query).all())


def today_items(user: User, on: dt.date) -> TodayItems:
    """Return the user's dunning actions to carry out and promises due on ``on``."""
    actions = scope_customers(
        select(DunningAction)
        .join(Customer, Customer.id == DunningAction.customer_id)
        .where(
            DunningAction.run_date == on,
            DunningAction.status.in_(
                [DunningActionStatus.READY, DunningActionStatus.PENDING_APPROVAL]
            ),
        )
        .options(
            selectinload(DunningAction.customer), selectinload(DunningAction.level)
        )
        .order_by(Customer.name, DunningAction.id),
        user,
    )
    promises = scope_customers(
        select(Promise)
        .join(Customer, Customer.id == Promise.customer_id)
        .where(Promise.status == PromiseStatus.PENDING, Promise.promised_date == on)
        .options(selectinload(Promise.customer))
        .order_by(Customer.name, Promise.id),
        user,
    )
    return TodayItems(
        dunning_actions=list(db.session.scalars(actions)),
        promises=list(db.session.scalars(promises)),
    )


def _as_date(value) -> dt.date:
    # SQLite returns MIN() over a CASE of dates as text.
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _labels() -> tuple[dict[int, str], dict[int, str]]:
    teams = dict(db.session.execute(select(Team.id, Team.code)).all())
    collectors = dict(db.session.execute(select(User.id, User.name)).all())
    return teams, collectors
