"""Read a team's portfolio: its customers, their collector and balances, a page at
a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.auth.models import Team
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.ledger.money import ZERO, to_money

PAGE_SIZE = 200


@dataclasses.dataclass
class PortfolioRow:
    customer: Customer
    open_amount: Decimal
    overdue_amount: Decimal


@dataclasses.dataclass
class PortfolioPage:
    rows: list[PortfolioRow]
    page: int
    pages: int
    total: int
    unassigned: int


def teams_with_customers() -> list[Team]:
    """Return the teams that have at least one customer, by code."""
    has_customers = select(Customer.team_id).where(Customer.team_id.is_not(None))
    return list(
        db.session.scalars(
            select(Team).where(Team.id.in_(has_customers)).order_by(Team.code)
        )
    )


def team_portfolio(team: Team, on: dt.date, page: int) -> PortfolioPage:
    """Return one page of the team's customers by reference, with their balances.

    A page number out of range is clamped to the first or last page.
    """
    total, unassigned = db.session.execute(
        select(
            func.count(Customer.id),
            func.sum(case((Customer.collector_id.is_(None), 1), else_=0)),
        ).where(Customer.team_id == team.id)
    ).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)

    customers = list(
        db.session.scalars(
            select(Customer)
            .where(Customer.team_id == team.id)
            .options(selectinload(Customer.collector))
            .order_by(Customer.legacy_id, Customer.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    balances = {
        customer_id: (open_amount, overdue)
        for customer_id, open_amount, overdue in db.session.execute(
            select(
                Invoice.customer_id,
                func.sum(Invoice.open_amount),
                func.sum(case((Invoice.due_date < on, Invoice.open_amount), else_=0)),
            )
            .where(
                Invoice.customer_id.in_([c.id for c in customers]),
                Invoice.status == InvoiceStatus.OPEN,
            )
            .group_by(Invoice.customer_id)
        )
    }
    rows = []
    for customer in customers:
        open_amount, overdue = balances.get(customer.id, (ZERO, ZERO))
        rows.append(
            PortfolioRow(
                customer, to_money(open_amount or ZERO), to_money(overdue or ZERO)
            )
        )
    return PortfolioPage(
        rows=rows, page=page, pages=pages, total=total, unassigned=int(unassigned or 0)
    )
