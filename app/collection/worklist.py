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
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import BigInteger, Date, String, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Integer

from app.auth.models import Team, User
from app.collection.models import (
    DunningAction,
    DunningActionStatus,
    DunningLevel,
    Promise,
    PromiseStatus,
)
from app.collection.promises import DunningPause, pause_of
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
# Rows per worklist page. The whole list is ranked in SQL on every request, but
# only this many rows are read in full and rendered.
WORKLIST_PAGE_SIZE = 50


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
    # Shown only: the priority does not depend on it.
    dunning_pause: DunningPause | None = None

    @property
    def weighted_days(self) -> int:
        return (
            self.oldest_days_past_due
            + BROKEN_PROMISE_DAYS * self.broken_promises
            + DUNNING_LEVEL_DAYS * self.dunning_level
        )

    @property
    def priority(self) -> Decimal:
        # Multiplying before dividing keeps the product exact, so the rounding to the
        # cent matches the integer computation that orders the rows in SQL.
        scaled = self.overdue_amount * (AGE_WEIGHT_DAYS + self.weighted_days)
        return to_money(scaled / AGE_WEIGHT_DAYS)


@dataclasses.dataclass
class WorklistPage:
    """One page of the worklist and where it sits in the whole list."""

    rows: list[WorklistRow]
    page: int
    pages: int
    total: int

    @property
    def first_position(self) -> int:
        """Return the position in the whole list of the page's first row, from 1."""
        return (self.page - 1) * WORKLIST_PAGE_SIZE + 1


@dataclasses.dataclass
class TodayItems:
    """Dunning actions to carry out and promises falling due on the business date."""

    dunning_actions: list[DunningAction]
    promises: list[Promise]


def build_worklist(user: User, on: dt.date) -> list[WorklistRow]:
    """Return all the user's customers with overdue invoices, highest priority first."""
    return _worklist_rows(user, on, limit=None, offset=0)[0]


def worklist_page(user: User, on: dt.date, page: int) -> WorklistPage:
    """Return one page of the worklist, in the order of ``build_worklist``.

    A page number out of range is clamped to the first or last page.
    """
    page = max(page, 1)
    rows, total = _worklist_rows(
        user, on, limit=WORKLIST_PAGE_SIZE, offset=(page - 1) * WORKLIST_PAGE_SIZE
    )
    pages = max(1, -(-total // WORKLIST_PAGE_SIZE))
    if page > pages:
        # The window count comes with the rows, so a page past the end has neither.
        total = _ranked_count(user, on)
        pages = max(1, -(-total // WORKLIST_PAGE_SIZE))
        page = pages
        rows, _total = _worklist_rows(
            user, on, limit=WORKLIST_PAGE_SIZE, offset=(page - 1) * WORKLIST_PAGE_SIZE
        )
    return WorklistPage(rows=rows, page=page, pages=pages, total=total)


def _overdue_by_customer(user: User, on: dt.date):
    """Return a subquery of the overdue amount and oldest overdue due date by customer.

    It reads only the open invoices that are overdue, from the covering index
    ``ix_invoices_open_overdue``, and only those of the user's portfolios.
    """
    query = (
        select(
            Invoice.customer_id,
            func.sum(Invoice.open_amount).label("overdue"),
            func.min(Invoice.due_date).label("oldest_due"),
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date < on)
        .group_by(Invoice.customer_id)
    )
    return scope_customers(query, user).subquery("overdue")


def _ranked_query(user: User, on: dt.date):
    """Return the user's worklist customers with their priority, in worklist order.

    The priority is computed in integer cents, rounded half-up like ``to_money``,
    so the database sorts by the same value that ``WorklistRow.priority`` shows.
    """
    overdue = _overdue_by_customer(user, on)
    broken = _broken_promise_counts(user, on)
    levels = _latest_dunning_levels(user, on)
    broken_count = func.coalesce(broken.c.count, 0)
    level = func.coalesce(levels.c.position, 0)
    weighted_days = (
        days_between(overdue.c.oldest_due, literal(on, Date))
        + BROKEN_PROMISE_DAYS * broken_count
        + DUNNING_LEVEL_DAYS * level
    )
    overdue_cents = cast(func.round(overdue.c.overdue * 100), BigInteger)
    scaled = overdue_cents * (AGE_WEIGHT_DAYS + weighted_days)
    # Integer division truncates towards zero in SQLite and PostgreSQL, so adding
    # half the divisor to the magnitude rounds half away from zero, as ROUND_HALF_UP.
    half = AGE_WEIGHT_DAYS // 2
    priority_cents = case(
        (scaled >= 0, (scaled + half) // AGE_WEIGHT_DAYS),
        else_=-((half - scaled) // AGE_WEIGHT_DAYS),
    )
    reference = func.coalesce(Customer.legacy_id, cast(Customer.id, String))
    return (
        select(
            Customer.id,
            Customer.legacy_id,
            Customer.name,
            Customer.team_id,
            Customer.collector_id,
            overdue.c.overdue,
            overdue.c.oldest_due,
            broken_count.label("broken"),
            level.label("level"),
        )
        .select_from(overdue)
        .join(Customer, Customer.id == overdue.c.customer_id)
        .outerjoin(broken, broken.c.customer_id == overdue.c.customer_id)
        .outerjoin(levels, levels.c.customer_id == overdue.c.customer_id)
        .order_by(priority_cents.desc(), code_point_order(reference))
    )


def _ranked_count(user: User, on: dt.date) -> int:
    overdue = _overdue_by_customer(user, on)
    return db.session.scalar(select(func.count()).select_from(overdue))


def _worklist_rows(
    user: User, on: dt.date, limit: int | None, offset: int
) -> tuple[list[WorklistRow], int]:
    """Return the rows from ``offset`` in worklist order, and how many there are."""
    query = _ranked_query(user, on).add_columns(func.count().over().label("total"))
    ranked = db.session.execute(query.limit(limit).offset(offset)).all()
    if not ranked:
        return [], 0

    details = _open_invoice_details([row.id for row in ranked], on)
    teams, collectors = _labels()
    pauses = _dunning_pauses(user)
    rows = []
    for row in ranked:
        detail = details[row.id]
        rows.append(
            WorklistRow(
                customer_id=row.id,
                reference=row.legacy_id or str(row.id),
                name=row.name,
                team=teams.get(row.team_id),
                collector=collectors.get(row.collector_id),
                overdue_amount=to_money(row.overdue or ZERO),
                open_amount=to_money(detail.open or ZERO),
                oldest_days_past_due=(on - _as_date(row.oldest_due)).days,
                disputed_count=int(detail.disputed or 0),
                buckets={
                    name: to_money(getattr(detail, name) or ZERO) for name in BUCKETS
                },
                broken_promises=int(row.broken),
                dunning_level=int(row.level),
                dunning_pause=pauses.get(row.id),
            )
        )
    return rows, ranked[0].total


def _open_invoice_details(customer_ids: list[int], on: dt.date) -> dict:
    """Return the open amount, disputed count and ageing buckets of the customers."""
    bucket = bucket_expression(on)
    columns = [
        Invoice.customer_id,
        func.sum(Invoice.open_amount).label("open"),
        func.sum(case((Invoice.disputed, 1), else_=0)).label("disputed"),
    ]
    columns += [
        func.sum(case((bucket == name, Invoice.open_amount), else_=0)).label(name)
        for name in BUCKETS
    ]
    query = (
        select(*columns)
        .where(
            Invoice.customer_id.in_(customer_ids),
            Invoice.status == InvoiceStatus.OPEN,
        )
        .group_by(Invoice.customer_id)
    )
    return {row.customer_id: row for row in db.session.execute(query)}


def _broken_promise_counts(user: User, on: dt.date):
    """Return a subquery of the promises broken in the window, counted by customer."""
    first_due = on - dt.timedelta(days=BROKEN_PROMISE_WINDOW_DAYS)
    query = (
        select(Promise.customer_id, func.count(Promise.id).label("count"))
        .join(Customer, Customer.id == Promise.customer_id)
        .where(
            Promise.status == PromiseStatus.BROKEN,
            Promise.promised_date >= first_due,
            Promise.promised_date < on,
        )
        .group_by(Promise.customer_id)
    )
    return scope_customers(query, user).subquery("broken")


def _dunning_pauses(user: User) -> dict[int, DunningPause]:
    """Return the pause that pending promises put on dunning, by customer id."""
    query = (
        select(Promise.customer_id, Promise.promised_date, Promise.id)
        .join(Customer, Customer.id == Promise.customer_id)
        .where(Promise.status == PromiseStatus.PENDING)
    )
    pending: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for customer_id, promised_date, promise_id in db.session.execute(
        scope_customers(query, user)
    ):
        pending[customer_id].append((promised_date, promise_id))
    return {customer_id: pause_of(pairs) for customer_id, pairs in pending.items()}


def _latest_dunning_levels(user: User, on: dt.date):
    """Return a subquery of the level position of each customer's latest done
    dunning action."""
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
    ).subquery("ranked_actions")
    return (
        select(ranked.c.customer_id, ranked.c.position)
        .where(ranked.c.rank == 1)
        .subquery("levels")
    )


def today_items(user: User, on: dt.date) -> TodayItems:
    """Return the user's dunning actions to carry out and promises due on ``on``.

    Actions of earlier runs that are still open stay in the list, oldest
    run first, until they are done or cancelled.
    """
    actions = scope_customers(
        select(DunningAction)
        .join(Customer, Customer.id == DunningAction.customer_id)
        .where(
            DunningAction.run_date <= on,
            DunningAction.status.in_(
                [DunningActionStatus.READY, DunningActionStatus.PENDING_APPROVAL]
            ),
        )
        .options(
            selectinload(DunningAction.customer), selectinload(DunningAction.level)
        )
        .order_by(DunningAction.run_date, Customer.name, DunningAction.id),
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


class days_between(FunctionElement):
    """Whole days from the first date expression to the second, in SQL."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return f"({compiler.process(end, **kw)} - {compiler.process(start, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)}) AS INTEGER)"
    )


def code_point_order(expression: ColumnElement) -> ColumnElement:
    """Return ``expression`` ordered by code point, as Python sorts strings."""
    return _CodePointOrder(expression)


class _CodePointOrder(FunctionElement):
    inherit_cache = True


@compiles(_CodePointOrder)
def _code_point_order(element, compiler, **kw) -> str:
    # SQLite's default BINARY collation compares UTF-8 bytes, in code point order.
    return compiler.process(list(element.clauses)[0], **kw)


@compiles(_CodePointOrder, "postgresql")
def _code_point_order_postgresql(element, compiler, **kw) -> str:
    # The database's default collation may follow a language's rules, "C" does not.
    return f'{compiler.process(list(element.clauses)[0], **kw)} COLLATE "C"'


def _as_date(value) -> dt.date:
    # SQLite returns MIN() over a CASE of dates as text.
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _labels() -> tuple[dict[int, str], dict[int, str]]:
    teams = dict(db.session.execute(select(Team.id, Team.code)).all())
    collectors = dict(db.session.execute(select(User.id, User.name)).all())
    return teams, collectors
