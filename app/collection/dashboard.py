"""Database queries behind the KPIs: the manager dashboard and ``cadence kpi``.

``load_kpi_facts`` turns invoices and their allocations into the plain records that
app.collection.kpi computes on. A settlement is an allocation, dated by its payment's
receipt date, whatever the payment's kind. Unallocated cash does not lower AR.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from app.auth.models import Role, Team, User
from app.collection.kpi import (
    COUNTBACK_MAX_MONTHS,
    SALES_WINDOW_DAYS,
    InvoiceFact,
    KpiResult,
    PromiseFact,
    compute_kpis,
    monthly_trend,
)
from app.collection.kpi import PromiseStatus as FactStatus
from app.collection.models import Activity, ActivityKind, Promise, PromiseStatus
from app.collection.promises import evaluate_promises
from app.extensions import db
from app.ledger.ageing import BUCKETS, empty_ageing
from app.ledger.models import Allocation, Customer, Invoice, InvoiceStatus, Payment
from app.ledger.money import ZERO, to_money
from app.ledger.services import bucket_expression
from app.timeutil import start_of_business_day

TREND_MONTHS = 12
ACTIVITY_WINDOW_DAYS = 30

# Names and one-sentence definitions shown with each KPI. The definitions are the
# English texts of app.collection.kpi.KPI_DEFINITIONS, repeated here so that they
# can be translated. A test keeps both in step.
KPI_LABELS = {
    "total_ar": _l("Total AR"),
    "current_ar": _l("Current AR"),
    "sales_90": _l("Sales (90 days)"),
    "dso": _l("DSO"),
    "best_possible_dso": _l("Best possible DSO"),
    "add": _l("Average days delinquent"),
    "countback_dso": _l("Countback DSO"),
    "cei": _l("Collection effectiveness index"),
    "promise_kept_rate": _l("Promise-kept rate"),
}
KPI_TRANSLATED_DEFINITIONS = {
    "total_ar": _l(
        "Total AR is the sum of the amounts still open on all issued invoices at the "
        "end of the as-of date."
    ),
    "current_ar": _l(
        "Current AR is the part of total AR on invoices that are due on or after the "
        "as-of date."
    ),
    "sales_90": _l(
        "Sales (90 days) is the total amount of the invoices issued in the 90 days "
        "ending on the as-of date, both ends included."
    ),
    "dso": _l(
        "DSO is total AR divided by the sales of the last 90 days, times 90 days."
    ),
    "best_possible_dso": _l(
        "Best possible DSO is current AR divided by the sales of the last 90 days, "
        "times 90 days."
    ),
    "add": _l(
        "Average days delinquent (ADD) is DSO minus best possible DSO, each rounded to "
        "one decimal first."
    ),
    "countback_dso": _l(
        "Countback DSO is the number of days of the latest sales, counted back month "
        "by month from the as-of date, that add up to total AR, where months without "
        "sales count in full and the count stops after 24 months."
    ),
    "cei": _l(
        "Collection effectiveness index (CEI) is AR 30 days ago plus the last 30 days' "
        "sales minus AR now, divided by AR 30 days ago plus those sales minus current "
        "AR now, as a percentage."
    ),
    "promise_kept_rate": _l(
        "Promise-kept rate is the number of kept promises divided by the number of "
        "kept or broken ones, among promises due in the 30 days ending on the as-of "
        "date, as a percentage."
    ),
}
KPI_UNITS = {
    "total_ar": "money",
    "current_ar": "money",
    "sales_90": "money",
    "dso": "days",
    "best_possible_dso": "days",
    "add": "days",
    "countback_dso": "days",
    "cei": "percent",
    "promise_kept_rate": "percent",
}


@dataclasses.dataclass(frozen=True)
class KpiScope:
    """Customers the KPIs cover: all, one team's, one collector's, or both filters."""

    team_id: int | None = None
    collector_id: int | None = None

    def conditions(self) -> list:
        found = []
        if self.team_id is not None:
            found.append(Customer.team_id == self.team_id)
        if self.collector_id is not None:
            found.append(Customer.collector_id == self.collector_id)
        return found


@dataclasses.dataclass
class KpiFacts:
    """Invoice and promise facts, each with its customer's team id."""

    invoices: list[tuple[int | None, InvoiceFact]]
    promises: list[tuple[int | None, PromiseFact]]

    def for_team(self, team_id: int | None = None, *, every_team: bool = False):
        """Return (invoices, promises) of one team, or of all teams."""
        invoices = [f for t, f in self.invoices if every_team or t == team_id]
        promises = [f for t, f in self.promises if every_team or t == team_id]
        return invoices, promises


def facts_horizon(first: dt.date) -> dt.date:
    """Return the earliest date any KPI at ``first`` or later looks at.

    Countback DSO reads the sales of the 24 months ending with the as-of month, and
    sales, CEI and the promise-kept rate read at most 90 days back. An invoice
    issued before this date and fully settled before it changes no KPI.
    """
    countback_start = _month_start_before(first, COUNTBACK_MAX_MONTHS - 1)
    return min(countback_start, first - dt.timedelta(days=SALES_WINDOW_DAYS))


def _month_start_before(day: dt.date, months: int) -> dt.date:
    """Return the first day of the month ``months`` months before ``day``'s month."""
    month_start = day.replace(day=1)
    for _ in range(months):
        month_start = (month_start - dt.timedelta(days=1)).replace(day=1)
    return month_start


def load_kpi_facts(scope: KpiScope, first: dt.date, last: dt.date) -> KpiFacts:
    """Read the facts for KPIs at any date from ``first`` to ``last``.

    Promise statuses are evaluated on ``last`` from the recorded payments.
    NOTE: every invoice open or issued since the horizon is read into memory. That
    is quick on the IBM sample but was not measured at a million invoices.
    """
    horizon = facts_horizon(first)
    settled_since_horizon = (
        select(Allocation.invoice_id)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Payment.received_on >= horizon)
    )
    relevant = and_(
        *scope.conditions(),
        Invoice.issue_date <= last,
        or_(
            Invoice.issue_date >= horizon,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.id.in_(settled_since_horizon),
        ),
    )
    invoice_rows = db.session.execute(
        select(
            Invoice.id,
            Customer.team_id,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.amount,
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(relevant)
    ).all()
    settlements: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    settlement_rows = db.session.execute(
        select(Allocation.invoice_id, Payment.received_on, func.sum(Allocation.amount))
        .join(Payment, Payment.id == Allocation.payment_id)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(relevant)
        .group_by(Allocation.invoice_id, Payment.received_on)
        .order_by(Allocation.invoice_id, Payment.received_on)
    )
    for invoice_id, received_on, amount in settlement_rows:
        settlements[invoice_id].append((received_on, to_money(amount)))

    invoices = [
        (
            team_id,
            InvoiceFact(
                issue_date=issue_date,
                due_date=due_date,
                amount=amount,
                settlements=tuple(settlements.get(invoice_id, ())),
            ),
        )
        for invoice_id, team_id, issue_date, due_date, amount in invoice_rows
    ]
    return KpiFacts(invoices, _promise_facts(scope, first, last))


def _promise_facts(
    scope: KpiScope, first: dt.date, last: dt.date
) -> list[tuple[int | None, PromiseFact]]:
    earliest_due = first - dt.timedelta(days=SALES_WINDOW_DAYS)
    promises = db.session.scalars(
        select(Promise)
        .join(Customer, Customer.id == Promise.customer_id)
        .where(
            *scope.conditions(),
            Promise.status != PromiseStatus.CANCELLED,
            Promise.promised_date >= earliest_due,
            Promise.promised_date <= last,
        )
    ).all()
    outcomes = evaluate_promises(promises, last)
    teams = dict(
        db.session.execute(
            select(Customer.id, Customer.team_id).where(
                Customer.id.in_({p.customer_id for p in promises})
            )
        ).all()
    )
    return [
        (
            teams.get(promise.customer_id),
            PromiseFact(
                due_date=promise.promised_date,
                amount=promise.amount,
                status=FactStatus(outcomes[promise.id].status.value),
            ),
        )
        for promise in promises
    ]


def kpis_for(scope: KpiScope, as_of: dt.date) -> KpiResult:
    """Compute every KPI of the scope at the end of ``as_of``."""
    facts = load_kpi_facts(scope, as_of, as_of)
    invoices, promises = facts.for_team(every_team=True)
    return compute_kpis(invoices, promises, as_of)


# --- Dashboard ----------------------------------------------------------------------


@dataclasses.dataclass
class TeamKpis:
    """KPIs of one team, of the customers without a team, or of all customers."""

    team: Team | None
    kpis: KpiResult
    is_total: bool = False

    @property
    def overdue(self) -> Decimal:
        return self.kpis.total_ar - self.kpis.current_ar


@dataclasses.dataclass
class TrendPoint:
    month_end: dt.date
    dso: Decimal | None
    overdue: Decimal


@dataclasses.dataclass
class CollectorActivity:
    user: User
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclasses.dataclass
class Dashboard:
    as_of: dt.date
    team: Team | None
    kpis: KpiResult
    teams: list[TeamKpis]
    trend: list[TrendPoint]
    overdue_buckets: dict[str, dict]
    activity: list[CollectorActivity]
    activity_since: dt.date


def build_dashboard(teams: list[Team], team: Team | None, as_of: dt.date) -> Dashboard:
    """Compute the dashboard of one team, or of all ``teams`` when ``team`` is None.

    ``teams`` are the teams the viewer may see. Each gets a row of KPIs, and so
    does their total when there are several.
    """
    # The first trend point is the end of this month, so facts from its start on
    # cover every point.
    first_month = _month_start_before(as_of, TREND_MONTHS - 1)
    scope = KpiScope(team_id=team.id) if team else KpiScope()
    facts = load_kpi_facts(scope, first_month, as_of)

    selected = facts.for_team(team.id) if team else facts.for_team(every_team=True)
    selected_kpis = compute_kpis(*selected, as_of)
    trend = [
        TrendPoint(point.as_of, point.dso, point.total_ar - point.current_ar)
        for point in monthly_trend(*selected, TREND_MONTHS, as_of)
    ]
    if team is None:
        team_rows = _team_rows(facts, teams, as_of)
        if len(team_rows) > 1:
            team_rows.append(TeamKpis(None, selected_kpis, is_total=True))
    else:
        team_rows = [TeamKpis(team, selected_kpis)]

    activity_since = as_of - dt.timedelta(days=ACTIVITY_WINDOW_DAYS - 1)
    return Dashboard(
        as_of=as_of,
        team=team,
        kpis=selected_kpis,
        teams=team_rows,
        trend=trend,
        overdue_buckets=overdue_by_bucket(scope, as_of),
        activity=collector_activity([team] if team else teams, activity_since, as_of),
        activity_since=activity_since,
    )


def _team_rows(facts: KpiFacts, teams: list[Team], as_of: dt.date) -> list[TeamKpis]:
    """Return a row per team, and one for customers without a team if there are any.

    The amounts of these rows add up to the total row.
    """
    rows = [
        TeamKpis(team, compute_kpis(*facts.for_team(team.id), as_of)) for team in teams
    ]
    invoices, promises = facts.for_team(None)
    if invoices or promises:
        rows.append(TeamKpis(None, compute_kpis(invoices, promises, as_of)))
    return rows


def overdue_by_bucket(scope: KpiScope, on: dt.date) -> dict[str, dict]:
    """Return count and open amount of the scope's overdue invoices per bucket."""
    bucket = bucket_expression(on).label("bucket")
    query = (
        select(bucket, func.count(Invoice.id), func.sum(Invoice.open_amount))
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(*scope.conditions(), Invoice.status == InvoiceStatus.OPEN)
        .group_by(bucket)
    )
    ageing = empty_ageing()
    for name, count, amount in db.session.execute(query):
        ageing[name] = {"count": count, "amount": to_money(amount or ZERO)}
    return {name: ageing[name] for name in BUCKETS if name != "not_due"}


def collector_activity(
    teams: list[Team], first: dt.date, last: dt.date
) -> list[CollectorActivity]:
    """Count the activities each user logged on the teams' customers, by kind.

    Every active collector of the teams is listed, with zeros when idle, and so is
    any other user who logged an activity. Days are business days in Paris.
    """
    team_ids = [team.id for team in teams]
    kinds = [kind.value for kind in ActivityKind]
    counts = [
        func.sum(case((Activity.kind == kind, 1), else_=0)).label(kind)
        for kind in kinds
    ]
    rows = db.session.execute(
        select(Activity.user_id, *counts)
        .join(Customer, Customer.id == Activity.customer_id)
        .where(
            Customer.team_id.in_(team_ids),
            Activity.user_id.is_not(None),
            Activity.occurred_at >= start_of_business_day(first),
            Activity.occurred_at < start_of_business_day(last + dt.timedelta(days=1)),
        )
        .group_by(Activity.user_id)
    ).all()
    by_user = {
        row.user_id: {kind: int(getattr(row, kind) or 0) for kind in kinds}
        for row in rows
    }

    collectors = db.session.scalars(
        select(User).where(
            or_(
                and_(
                    User.role == Role.COLLECTOR,
                    User.active.is_(True),
                    User.team_id.in_(team_ids),
                ),
                User.id.in_(list(by_user)),
            )
        )
    ).all()
    result = [
        CollectorActivity(user, by_user.get(user.id, dict.fromkeys(kinds, 0)))
        for user in collectors
    ]
    result.sort(key=lambda item: (-item.total, item.user.name, item.user.id))
    return result
