"""Collection work on the customer page: the account history and the forms that
add to it.

The history merges activities, promises, disputes and payments, newest first.
Payments and promise resolutions carry a date without a time, so they come after
the timed events of the same day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections import defaultdict
from decimal import Decimal

from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from app.auth.models import ALL_PORTFOLIO_ROLES, Role, User
from app.collection import labels
from app.collection.forms import (
    ActivityForm,
    ApplyCashForm,
    CancelPromiseForm,
    CollectorForm,
    DisputeForm,
    PaymentForm,
    PromiseForm,
    ResolveDisputeForm,
)
from app.collection.models import (
    Activity,
    Dispute,
    DisputeStatus,
    Promise,
    PromiseStatus,
)
from app.collection.services import dispute_owners, unallocated_cash
from app.extensions import db
from app.ledger.models import (
    Allocation,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
)
from app.ledger.money import ZERO, to_money
from app.rollout.flags import is_enabled
from app.templating import money, short_date
from app.timeutil import business_date_of

# Events shown in the history. Older ones are left out with a note.
HISTORY_LIMIT = 100


@dataclasses.dataclass
class HistoryEntry:
    """One event of the account history, whose ``kind`` names what ``item`` is."""

    on: dt.date
    at: dt.datetime | None
    kind: str
    item: object
    user: User | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.on, self.at is not None, self.at or dt.datetime.min)


@dataclasses.dataclass
class UnallocatedPayment:
    payment: Payment
    unallocated: Decimal


@dataclasses.dataclass
class CashApplication:
    """Unallocated cash that a user applied to invoices in one request."""

    allocations: list[Allocation]

    @property
    def total(self) -> Decimal:
        return to_money(sum((a.amount for a in self.allocations), ZERO))

    @property
    def invoice_numbers(self) -> list[str]:
        """Return the numbers of the invoices that got cash, each once, in order."""
        return list(dict.fromkeys(a.invoice.number for a in self.allocations))


@dataclasses.dataclass
class AccountView:
    history: list[HistoryEntry]
    history_truncated: bool
    promises: list[Promise]
    disputes: list[Dispute]
    unallocated_payments: list[UnallocatedPayment]
    unallocated_total: Decimal


def team_collectors(team_id: int | None) -> list[User]:
    """Return the active collectors of a team, by name."""
    if team_id is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == Role.COLLECTOR,
                User.active.is_(True),
                User.team_id == team_id,
            )
            .order_by(User.name, User.id)
        )
    )


def open_invoices_of(customer: Customer) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == customer.id,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.due_date, Invoice.number)
        )
    )


def invoice_choices(invoices: list[Invoice]) -> list[SelectChoice]:
    """Return one choice per invoice, labelled in the request's locale."""
    return [
        SelectChoice(
            invoice.id,
            f"{invoice.number} · {short_date(invoice.due_date)} · "
            f"{money(invoice.open_amount, invoice.currency)}",
        )
        for invoice in invoices
    ]


def prepare_promise_form(form: PromiseForm, invoices: list[Invoice]) -> PromiseForm:
    form.invoice_ids.choices = invoice_choices(invoices)
    return form


def prepare_dispute_form(
    form: DisputeForm, customer: Customer, invoices: list[Invoice]
) -> DisputeForm:
    form.invoice_id.choices = invoice_choices(invoices)
    owners = dispute_owners(customer)
    form.owner_id.choices = [SelectChoice(user.id, user.name) for user in owners]
    if form.owner_id.data is None and current_user.id in {u.id for u in owners}:
        form.owner_id.data = current_user.id
    return form


def new_submission_key() -> str:
    """Return a one-time key for a payment form, which stores it with the payment."""
    return secrets.token_urlsafe(24)


def new_payment_form(invoices: list[Invoice], today: dt.date) -> PaymentForm:
    """Return an empty payment form with one allocation line per open invoice."""
    form = PaymentForm(
        formdata=None, received_on=today, submission_key=new_submission_key()
    )
    for invoice in invoices:
        form.allocations.append_entry({"invoice_id": invoice.id})
    return form


def bound_payment_form(form: PaymentForm) -> PaymentForm:
    """Return a payment form that failed, ready to be shown again.

    It keeps its key, because nothing was recorded with it, unless the key was
    missing or malformed. Such a form gets a new key and an error message.
    """
    if form.submission_key.errors:
        form.form_errors.extend(form.submission_key.errors)
        form.submission_key.data = new_submission_key()
    return form


def new_apply_form(invoices: list[Invoice], unallocated: Decimal) -> ApplyCashForm:
    """Return an empty form that applies ``unallocated`` cash to the invoices."""
    form = ApplyCashForm(formdata=None, expected_unallocated=unallocated)
    for invoice in invoices:
        form.allocations.append_entry({"invoice_id": invoice.id})
    return form


def account_forms(
    customer: Customer,
    today: dt.date,
    invoices: list[Invoice],
    unallocated: Decimal,
    **bound,
) -> dict:
    """Return every form of the customer page, using the ``bound`` ones as given.

    A view that failed to validate one form passes it here, so the page shows the
    user's input with its errors while the other forms start empty.
    """
    forms = {
        "activity_form": bound.get("activity_form") or ActivityForm(formdata=None),
        "promise_form": prepare_promise_form(
            bound.get("promise_form") or PromiseForm(formdata=None), invoices
        ),
        "dispute_form": prepare_dispute_form(
            bound.get("dispute_form") or DisputeForm(formdata=None), customer, invoices
        ),
        "payment_form": (
            bound_payment_form(bound["payment_form"])
            if "payment_form" in bound
            else new_payment_form(invoices, today)
        ),
        "apply_form": bound.get("apply_form") or new_apply_form(invoices, unallocated),
        "cancel_promise_form": CancelPromiseForm(formdata=None),
        "resolve_forms": bound.get("resolve_forms") or {},
    }
    collector_form = bound.get("collector_form") or CollectorForm(
        formdata=None, collector_id=customer.collector_id
    )
    collector_form.set_collectors(team_collectors(customer.team_id))
    forms["collector_form"] = collector_form
    return forms


def resolve_form_for(dispute: Dispute, forms: dict) -> ResolveDisputeForm:
    """Return the resolve form of an open dispute, bound if the user just sent it."""
    return forms.get(dispute.id) or ResolveDisputeForm(
        formdata=None, prefix=f"resolve-{dispute.id}"
    )


def account_context(customer: Customer, user: User, today: dt.date, **bound) -> dict:
    """Return the template context the customer page needs beyond the ledger history."""
    invoices = open_invoices_of(customer)
    view = account_view(customer)
    forms = account_forms(customer, today, invoices, view.unallocated_total, **bound)
    return {
        "account": view,
        "forms": forms,
        "resolve_form_for": lambda dispute: resolve_form_for(
            dispute, forms["resolve_forms"]
        ),
        "invoices_by_id": {invoice.id: invoice for invoice in invoices},
        "can_assign": user.role in ALL_PORTFOLIO_ROLES,
        "enabled": {
            flag: is_enabled(flag, user)
            for flag in ("activities", "promises", "disputes", "payments")
        },
        "labels": labels,
    }


def account_view(customer: Customer) -> AccountView:
    history, truncated = customer_history_events(customer)
    promises = list(
        db.session.scalars(
            select(Promise)
            .where(Promise.customer_id == customer.id)
            .options(selectinload(Promise.invoices), selectinload(Promise.user))
            .order_by(Promise.promised_date.desc(), Promise.id.desc())
        )
    )
    disputes = list(
        db.session.scalars(
            select(Dispute)
            .where(Dispute.customer_id == customer.id)
            .options(selectinload(Dispute.invoice), selectinload(Dispute.owner))
            .order_by(Dispute.status, Dispute.opened_at.desc(), Dispute.id.desc())
        )
    )
    unallocated = unallocated_payments(customer)
    return AccountView(
        history=history,
        history_truncated=truncated,
        promises=promises,
        disputes=disputes,
        unallocated_payments=unallocated,
        unallocated_total=to_money(sum((u.unallocated for u in unallocated), ZERO)),
    )


def unallocated_payments(customer: Customer) -> list[UnallocatedPayment]:
    """Return the customer's payments with an unallocated rest, oldest first."""
    return [
        UnallocatedPayment(payment, rest)
        for payment, rest in unallocated_cash(customer)
    ]


def customer_history_events(
    customer: Customer, limit: int = HISTORY_LIMIT
) -> tuple[list[HistoryEntry], bool]:
    """Return the newest ``limit`` events of the account, and whether there are more.

    Each source is read newest first and cut at ``limit`` + 1 rows, so a long
    history is never read in full.
    """
    fetch = limit + 1
    entries: list[HistoryEntry] = []

    activities = db.session.scalars(
        select(Activity)
        .where(Activity.customer_id == customer.id)
        .options(selectinload(Activity.user))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(fetch)
    )
    for activity in activities:
        entries.append(
            HistoryEntry(
                on=business_date_of(activity.occurred_at),
                at=_naive_utc(activity.occurred_at),
                kind="activity",
                item=activity,
                user=activity.user,
            )
        )

    promises = db.session.scalars(
        select(Promise)
        .where(Promise.customer_id == customer.id)
        .options(selectinload(Promise.invoices), selectinload(Promise.user))
        .order_by(Promise.created_at.desc(), Promise.id.desc())
        .limit(fetch)
    )
    for promise in promises:
        entries.append(
            HistoryEntry(
                on=business_date_of(promise.created_at),
                at=_naive_utc(promise.created_at),
                kind="promise",
                item=promise,
                user=promise.user,
            )
        )
        if promise.status != PromiseStatus.PENDING and promise.resolved_on:
            entries.append(
                HistoryEntry(
                    on=promise.resolved_on,
                    at=None,
                    kind="promise_" + promise.status,
                    item=promise,
                )
            )

    disputes = db.session.scalars(
        select(Dispute)
        .where(Dispute.customer_id == customer.id)
        .options(selectinload(Dispute.invoice), selectinload(Dispute.owner))
        .order_by(Dispute.opened_at.desc(), Dispute.id.desc())
        .limit(fetch)
    )
    for dispute in disputes:
        entries.append(
            HistoryEntry(
                on=business_date_of(dispute.opened_at),
                at=_naive_utc(dispute.opened_at),
                kind="dispute_opened",
                item=dispute,
            )
        )
        if dispute.status == DisputeStatus.RESOLVED and dispute.resolved_at:
            entries.append(
                HistoryEntry(
                    on=business_date_of(dispute.resolved_at),
                    at=_naive_utc(dispute.resolved_at),
                    kind="dispute_resolved",
                    item=dispute,
                )
            )

    payments = db.session.scalars(
        select(Payment)
        .where(Payment.customer_id == customer.id)
        .options(selectinload(Payment.allocations).selectinload(Allocation.invoice))
        .order_by(Payment.received_on.desc(), Payment.id.desc())
        .limit(fetch)
    )
    for payment in payments:
        entries.append(
            HistoryEntry(on=payment.received_on, at=None, kind="payment", item=payment)
        )
    entries.extend(_cash_application_entries(customer, fetch))

    entries.sort(key=lambda entry: entry.sort_key, reverse=True)
    return entries[:limit], len(entries) > limit


def _cash_application_entries(customer: Customer, fetch: int) -> list[HistoryEntry]:
    """Return the newest ``fetch`` applications of unallocated cash, one entry each.

    The allocations of one application share their ``applied_at`` and user.
    """
    applied = (
        select(Allocation.applied_at, Allocation.applied_by_id)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Payment.customer_id == customer.id, Allocation.applied_at.is_not(None))
        .distinct()
        .order_by(Allocation.applied_at.desc())
        .limit(fetch)
    )
    keys = db.session.execute(applied).all()
    if not keys:
        return []
    allocations = db.session.scalars(
        select(Allocation)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(
            Payment.customer_id == customer.id,
            Allocation.applied_at >= min(at for at, _ in keys),
        )
        .options(
            selectinload(Allocation.invoice),
            selectinload(Allocation.applied_by),
        )
        .order_by(Allocation.id)
    )
    groups: dict[tuple, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        groups[(allocation.applied_at, allocation.applied_by_id)].append(allocation)
    return [
        HistoryEntry(
            on=business_date_of(at),
            at=_naive_utc(at),
            kind="cash_applied",
            item=CashApplication(groups[(at, user_id)]),
            user=groups[(at, user_id)][0].applied_by,
        )
        for at, user_id in keys
    ]


def _naive_utc(timestamp: dt.datetime) -> dt.datetime:
    """Return a UTC timestamp without its zone, so stored and new values compare."""
    if timestamp.tzinfo is None:
        return timestamp
    return timestamp.astimezone(dt.UTC).replace(tzinfo=None)
