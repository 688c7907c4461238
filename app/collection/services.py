"""Every write of collection work: activities, promises to pay, disputes, payments
with their allocation, and portfolio assignment.

Each function checks its input, writes, logs and commits, all or nothing. A request
that breaks a rule raises ActionError, whose message is shown to the user.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Collection, Sequence
from decimal import Decimal
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import func, select, update

from app.audit import services as audit
from app.auth.models import ALL_PORTFOLIO_ROLES, Role, User
from app.collection.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Dispute,
    DisputeReason,
    DisputeStatus,
    Promise,
    PromiseStatus,
    promise_invoices,
)
from app.collection.promises import evaluate_promises
from app.extensions import db
from app.ledger.models import (
    Allocation,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
)
from app.ledger.money import ZERO, format_amount, to_money
from app.templating import money
from app.timeutil import business_now, business_today

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 2000
MAX_REFERENCE_LENGTH = 128
# The largest amount a Numeric(14, 2) column stores.
MAX_AMOUNT = Decimal("999999999999.99")
# How many customer references an error message lists before it ends with "...".
MAX_LISTED = 5

# The kinds a person logs by hand. Promises, disputes and payments are not logged
# as activities, because the account history shows those records themselves.
MANUAL_ACTIVITY_KINDS = (
    ActivityKind.CALL,
    ActivityKind.EMAIL,
    ActivityKind.LETTER,
    ActivityKind.NOTE,
)
RECORDABLE_PAYMENT_KINDS = (PaymentKind.PAYMENT, PaymentKind.CREDIT_NOTE)


class ActionError(ValueError):
    """A collection action was rejected.

    ``message`` is a lazy text shown to the user in their language, and ``field``
    names the form field it is about. ``str()`` of the error is English, for logs.
    """

    def __init__(self, message: LazyString, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        with force_locale("en"):
            return str(self.message)


class AllocationMode(StrEnum):
    OLDEST_FIRST = "oldest_first"
    CHOSEN = "chosen"
    UNALLOCATED = "unallocated"


@dataclasses.dataclass(frozen=True)
class PromiseRefresh:
    """How many promises a refresh marked kept, broken, or pending again."""

    kept: int = 0
    broken: int = 0
    # Only an evaluation date earlier than a previous one turns a promise pending.
    reopened: int = 0

    @property
    def changed(self) -> int:
        return self.kept + self.broken + self.reopened


def _lazy_money(value: Decimal) -> LazyString:
    return LazyString(money, value)


def _check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """Return the amount rounded to the cent, or raise when it is not a valid amount."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ActionError(_l("Enter an amount such as 1250.00."), field)
    if amount <= 0:
        raise ActionError(_l("The amount must be greater than zero."), field)
    # Checked before rounding, which fails on numbers too long for the context.
    if amount > MAX_AMOUNT:
        raise ActionError(_l("The amount is too large."), field)
    if amount != to_money(amount):
        raise ActionError(_l("Enter the amount with at most two decimals."), field)
    return to_money(amount)


def _check_text(text: str, field: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ActionError(_l("This field is required."), field)
    if len(text) > MAX_TEXT_LENGTH:
        raise ActionError(
            _l("Enter at most %(count)s characters.", count=MAX_TEXT_LENGTH), field
        )
    return text


def _list_references(values: Sequence[str]) -> str:
    shown = ", ".join(values[:MAX_LISTED])
    return shown + (", ..." if len(values) > MAX_LISTED else "")


def _open_invoices(customer: Customer, *, lock: bool) -> dict[int, Invoice]:
    """Return the customer's open invoices by id, locked for update when ``lock``.

    The lock keeps two payments from allocating the same open amount at once.
    PostgreSQL locks the rows. SQLite has no row locks and reads outside a write
    transaction, so a no-op write first takes the database's write lock: a second
    payment then waits until the first commits and reads its result.
    """
    query = select(Invoice).where(
        Invoice.customer_id == customer.id, Invoice.status == InvoiceStatus.OPEN
    )
    if lock:
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer.id)
                .values(id=Customer.id)
                .execution_options(synchronize_session=False)
            )
        query = query.with_for_update().execution_options(populate_existing=True)
    return {invoice.id: invoice for invoice in db.session.scalars(query)}


def _chosen_invoices(
    open_invoices: dict[int, Invoice], invoice_ids: Collection[int], field: str
) -> list[Invoice]:
    if any(invoice_id not in open_invoices for invoice_id in invoice_ids):
        raise ActionError(_l("Choose among the open invoices of this customer."), field)
    return [open_invoices[i] for i in sorted(set(invoice_ids))]


# --- Activities -------------------------------------------------------------------


def log_activity(
    user: User, customer: Customer, *, kind: str, summary: str, outcome: str = ""
) -> Activity:
    """Log a call, email, letter or note on the customer's account."""
    if kind not in MANUAL_ACTIVITY_KINDS:
        raise ActionError(_l("Choose a call, an email, a letter or a note."), "kind")
    if outcome and outcome not in set(ActivityOutcome):
        raise ActionError(_l("Choose an outcome from the list."), "outcome")
    summary = _check_text(summary, "summary", required=True)

    activity = Activity(
        customer_id=customer.id,
        user_id=user.id,
        kind=kind,
        summary=summary,
        outcome=outcome or "",
        occurred_at=business_now(),
    )
    db.session.add(activity)
    db.session.commit()
    logger.info(
        "logged %s activity %d on customer %d by user %d",
        kind,
        activity.id,
        customer.id,
        user.id,
    )
    return activity


# --- Promises to pay --------------------------------------------------------------


def create_promise(
    user: User,
    customer: Customer,
    *,
    amount: Decimal,
    promised_date: dt.date,
    invoice_ids: Collection[int] = (),
    note: str = "",
) -> Promise:
    """Record the customer's promise to pay ``amount`` by ``promised_date``.

    The amount may not exceed the open total of the chosen invoices, or of the whole
    account when none is chosen. An invoice belongs to one pending promise at a
    time, and an account to one pending promise without invoices.
    """
    today = business_today()
    try:
        amount = _check_amount(amount)
        if promised_date < today:
            raise ActionError(
                _l("The promised date cannot be in the past."), "promised_date"
            )
        note = _check_text(note, "note", required=False)
        open_invoices = _open_invoices(customer, lock=True)
        invoices = _chosen_invoices(open_invoices, invoice_ids, "invoice_ids")
        _check_no_pending_promise(customer, invoices)
        covered = invoices or list(open_invoices.values())
        limit = to_money(sum((i.open_amount for i in covered), ZERO))
        if amount > limit:
            if invoices:
                message = _l(
                    "The amount is above the open total of the chosen invoices, "
                    "%(total)s.",
                    total=_lazy_money(limit),
                )
            else:
                message = _l(
                    "The amount is above the open balance of the account, %(total)s.",
                    total=_lazy_money(limit),
                )
            raise ActionError(message, "amount")

        promise = Promise(
            customer_id=customer.id,
            user_id=user.id,
            amount=amount,
            promised_date=promised_date,
            status=PromiseStatus.PENDING,
            note=note,
            created_at=business_now(),
            invoices=invoices,
        )
        db.session.add(promise)
        db.session.flush()
        # A payment recorded earlier on the day the promise is made already counts.
        _apply_promise_outcomes([promise], today)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "recorded promise %d of customer %d: %s by %s on %d invoices, by user %d",
        promise.id,
        customer.id,
        format_amount(amount),
        promised_date,
        len(invoices),
        user.id,
    )
    return promise


def _check_no_pending_promise(customer: Customer, invoices: list[Invoice]) -> None:
    pending = select(Promise.id).where(
        Promise.customer_id == customer.id, Promise.status == PromiseStatus.PENDING
    )
    if invoices:
        taken = db.session.scalars(
            select(Invoice.number)
            .join(promise_invoices, promise_invoices.c.invoice_id == Invoice.id)
            .where(
                promise_invoices.c.promise_id.in_(pending),
                Invoice.id.in_([i.id for i in invoices]),
            )
            .order_by(Invoice.number)
        ).all()
        if taken:
            raise ActionError(
                _l(
                    "Invoices %(numbers)s already have a pending promise. Cancel it "
                    "first.",
                    numbers=_list_references(taken),
                ),
                "invoice_ids",
            )
        return
    whole_account = pending.where(
        ~Promise.id.in_(select(promise_invoices.c.promise_id))
    )
    if db.session.scalar(select(func.count()).select_from(whole_account.subquery())):
        raise ActionError(
            _l(
                "This account already has a pending promise without chosen "
                "invoices. Cancel it first."
            ),
            "invoice_ids",
        )


def cancel_promise(user: User, promise: Promise) -> Promise:
    """Cancel a pending promise, for example after the customer withdrew it."""
    if promise.status != PromiseStatus.PENDING:
        raise ActionError(_l("Only a pending promise can be cancelled."))
    promise.status = PromiseStatus.CANCELLED
    promise.resolved_on = business_today()
    db.session.commit()
    logger.info("cancelled promise %d by user %d", promise.id, user.id)
    return promise


def refresh_promises(
    on: dt.date, customer_ids: Collection[int] | None = None
) -> PromiseRefresh:
    """Mark promises kept or broken as the payments recorded up to ``on`` decide.

    With ``customer_ids``, every pending or broken promise of those customers is
    evaluated, because a payment received in time but recorded late turns a broken
    promise into a kept one. Without them, only pending promises whose date passed
    are evaluated: elsewhere nothing changed unless a payment was recorded, and
    recording a payment refreshes its customer.
    """
    refresh = _refresh(on, customer_ids)
    if refresh.changed:
        db.session.commit()
    return refresh


def _refresh(on: dt.date, customer_ids: Collection[int] | None) -> PromiseRefresh:
    query = select(Promise)
    if customer_ids is None:
        query = query.where(
            Promise.status == PromiseStatus.PENDING, Promise.promised_date < on
        )
    else:
        query = query.where(
            Promise.customer_id.in_(list(customer_ids)),
            Promise.status.in_([PromiseStatus.PENDING, PromiseStatus.BROKEN]),
        )
    return _apply_promise_outcomes(db.session.scalars(query).all(), on)


def _apply_promise_outcomes(promises: Sequence[Promise], on: dt.date) -> PromiseRefresh:
    outcomes = evaluate_promises(promises, on)
    changes = {status: 0 for status in PromiseStatus}
    for promise in promises:
        outcome = outcomes[promise.id]
        unchanged = outcome.status == promise.status
        if unchanged and outcome.resolved_on == promise.resolved_on:
            continue
        promise.status = outcome.status
        promise.resolved_on = outcome.resolved_on
        changes[outcome.status] += 1
        logger.info(
            "promise %d of customer %d is %s on %s",
            promise.id,
            promise.customer_id,
            outcome.status,
            on,
        )
    return PromiseRefresh(
        kept=changes[PromiseStatus.KEPT],
        broken=changes[PromiseStatus.BROKEN],
        reopened=changes[PromiseStatus.PENDING],
    )


# --- Disputes ---------------------------------------------------------------------


def dispute_owners(customer: Customer) -> list[User]:
    """Return the users who may own a dispute of the customer, by name.

    They are the active admins and managers, and the collectors of its team.
    """
    query = select(User).where(User.active.is_(True))
    roles = User.role.in_(list(ALL_PORTFOLIO_ROLES))
    if customer.team_id is not None:
        team_collector = (User.role == Role.COLLECTOR) & (
            User.team_id == customer.team_id
        )
        roles = roles | team_collector
    return list(db.session.scalars(query.where(roles).order_by(User.name, User.id)))


def open_dispute(
    user: User,
    customer: Customer,
    *,
    invoice_id: int,
    reason: str,
    owner_id: int,
    note: str = "",
) -> Dispute:
    """Open a dispute on one of the customer's open invoices and flag the invoice.

    A disputed invoice is left out of dunning until its last open dispute is resolved.
    """
    try:
        if reason not in set(DisputeReason):
            raise ActionError(_l("Choose a reason from the list."), "reason")
        owner = next((u for u in dispute_owners(customer) if u.id == owner_id), None)
        if owner is None:
            raise ActionError(
                _l(
                    "Choose an owner among the managers and the collectors of the "
                    "customer's team."
                ),
                "owner_id",
            )
        note = _check_text(note, "note", required=False)
        open_invoices = _open_invoices(customer, lock=True)
        [invoice] = _chosen_invoices(open_invoices, [invoice_id], "invoice_id")

        dispute = Dispute(
            invoice_id=invoice.id,
            customer_id=customer.id,
            reason=reason,
            owner_id=owner.id,
            status=DisputeStatus.OPEN,
            opened_at=business_now(),
            note=note,
        )
        invoice.disputed = True
        db.session.add(dispute)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "opened dispute %d on invoice %d of customer %d (%s), owner %d, by user %d",
        dispute.id,
        invoice.id,
        customer.id,
        reason,
        owner.id,
        user.id,
    )
    return dispute


def resolve_dispute(user: User, dispute: Dispute, *, resolution: str) -> Dispute:
    """Resolve an open dispute. The invoice stays disputed while another one is open."""
    if dispute.status != DisputeStatus.OPEN:
        raise ActionError(_l("This dispute is already resolved."))
    resolution = _check_text(resolution, "resolution", required=True)

    dispute.status = DisputeStatus.RESOLVED
    dispute.resolved_at = business_now()
    dispute.resolution = resolution
    still_open = db.session.scalar(
        select(func.count(Dispute.id)).where(
            Dispute.invoice_id == dispute.invoice_id,
            Dispute.status == DisputeStatus.OPEN,
            Dispute.id != dispute.id,
        )
    )
    if not still_open:
        dispute.invoice.disputed = False
    db.session.commit()
    logger.info(
        "resolved dispute %d on invoice %d by user %d, invoice still disputed: %s",
        dispute.id,
        dispute.invoice_id,
        user.id,
        bool(still_open),
    )
    return dispute


# --- Payments and credit notes ----------------------------------------------------


def record_payment(
    user: User,
    customer: Customer,
    *,
    kind: str,
    received_on: dt.date,
    amount: Decimal,
    reference: str = "",
    allocation: AllocationMode = AllocationMode.OLDEST_FIRST,
    lines: Sequence[tuple[int, Decimal]] = (),
) -> Payment:
    """Record a payment or credit note and allocate it to the customer's invoices.

    ``allocation`` picks the invoices. OLDEST_FIRST fills the undisputed open
    invoices by due date, oldest first. CHOSEN applies the (invoice id, amount)
    ``lines``. UNALLOCATED applies nothing. An allocation never exceeds an invoice's
    open amount nor, in total, the payment. What is left stays on the account as
    unallocated cash. The payment, its allocations, the invoices' open amounts, the
    promise statuses and the audit entry commit together.
    """
    today = business_today()
    try:
        if kind not in RECORDABLE_PAYMENT_KINDS:
            raise ActionError(_l("Choose a payment or a credit note."), "kind")
        amount = _check_amount(amount)
        if received_on > today:
            raise ActionError(_l("The date cannot be later than today."), "received_on")
        reference = (reference or "").strip()
        if len(reference) > MAX_REFERENCE_LENGTH:
            raise ActionError(
                _l("Enter at most %(count)s characters.", count=MAX_REFERENCE_LENGTH),
                "reference",
            )
        open_invoices = _open_invoices(customer, lock=True)
        plan = _plan_allocation(amount, open_invoices, allocation, lines)

        payment = Payment(
            kind=kind,
            customer_id=customer.id,
            received_on=received_on,
            amount=amount,
            currency=customer.currency,
            reference=reference,
        )
        for invoice, applied in plan:
            payment.allocations.append(Allocation(invoice=invoice, amount=applied))
            invoice.open_amount = to_money(invoice.open_amount - applied)
            if invoice.open_amount == ZERO:
                invoice.status = InvoiceStatus.PAID
        db.session.add(payment)
        db.session.flush()
        allocated = to_money(sum((applied for _, applied in plan), ZERO))
        audit.record(
            "payment.record",
            actor=user,
            target=f"customer {customer.reference}",
            after={
                "payment_id": payment.id,
                "kind": kind,
                "received_on": received_on.isoformat(),
                "amount": format_amount(amount),
                "reference": reference,
                "allocations": [
                    {"invoice": invoice.number, "amount": format_amount(applied)}
                    for invoice, applied in plan
                ],
                "unallocated": format_amount(amount - allocated),
            },
        )
        _refresh(today, [customer.id])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "recorded %s %d of %s for customer %d by user %d: %s allocated to %d invoices",
        kind,
        payment.id,
        format_amount(amount),
        customer.id,
        user.id,
        format_amount(allocated),
        len(plan),
    )
    return payment


def _plan_allocation(
    amount: Decimal,
    open_invoices: dict[int, Invoice],
    allocation: AllocationMode,
    lines: Sequence[tuple[int, Decimal]],
) -> list[tuple[Invoice, Decimal]]:
    """Return the (invoice, amount) pairs to allocate, or raise ActionError."""
    if allocation == AllocationMode.UNALLOCATED:
        return []
    if allocation == AllocationMode.OLDEST_FIRST:
        return _oldest_first(amount, open_invoices.values())
    if allocation != AllocationMode.CHOSEN:
        raise ActionError(_l("Choose how to allocate the amount."), "allocation")
    if not lines:
        raise ActionError(
            _l("Enter the amount to allocate to at least one invoice."), "allocations"
        )

    plan: list[tuple[Invoice, Decimal]] = []
    seen: set[int] = set()
    for invoice_id, applied in lines:
        if invoice_id in seen or invoice_id not in open_invoices:
            raise ActionError(
                _l("Choose among the open invoices of this customer."), "allocations"
            )
        seen.add(invoice_id)
        invoice = open_invoices[invoice_id]
        applied = _check_amount(applied, "allocations")
        if applied > invoice.open_amount:
            raise ActionError(
                _l(
                    "Invoice %(number)s has only %(open)s open.",
                    number=invoice.number,
                    open=_lazy_money(invoice.open_amount),
                ),
                "allocations",
            )
        plan.append((invoice, applied))
    total = sum((applied for _, applied in plan), ZERO)
    if total > amount:
        raise ActionError(
            _l(
                "The allocations add up to %(total)s, more than the amount received.",
                total=_lazy_money(total),
            ),
            "allocations",
        )
    return plan


def _oldest_first(amount: Decimal, invoices) -> list[tuple[Invoice, Decimal]]:
    # Disputed invoices are skipped, because a customer who contests an invoice has
    # not paid it. The collector can still choose one explicitly.
    candidates = sorted(
        (i for i in invoices if not i.disputed),
        key=lambda i: (i.due_date, i.issue_date, i.number, i.id),
    )
    plan = []
    left = amount
    for invoice in candidates:
        if left <= 0:
            break
        applied = min(left, invoice.open_amount)
        plan.append((invoice, applied))
        left -= applied
    return plan


# --- Portfolios -------------------------------------------------------------------


def assign_customers(
    actor: User, customer_ids: Collection[int], collector_id: int | None
) -> int:
    """Give customers to a collector of their team, or unassign them with None.

    Only admins and managers assign. Every customer must belong to the collector's
    team, or nothing changes. Each change is audited. Returns how many customers
    changed collector.
    """
    if actor.role not in ALL_PORTFOLIO_ROLES:
        raise ActionError(_l("Only managers and admins assign portfolios."))
    ids = sorted(set(customer_ids))
    if not ids:
        raise ActionError(_l("Choose at least one customer."), "customer_ids")
    customers = list(
        db.session.scalars(
            select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)
        )
    )
    if len(customers) != len(ids):
        raise ActionError(_l("Some chosen customers do not exist."), "customer_ids")

    collector = None
    if collector_id is not None:
        collector = db.session.get(User, collector_id)
        is_collector = collector is not None and collector.role == Role.COLLECTOR
        if not is_collector or not collector.active:
            raise ActionError(_l("Choose an active collector."), "collector_id")
        outside = [c.reference for c in customers if c.team_id != collector.team_id]
        if outside:
            raise ActionError(
                _l(
                    "%(collector)s is not in the team of %(customers)s.",
                    collector=collector.name,
                    customers=_list_references(outside),
                ),
                "customer_ids",
            )

    changed = 0
    for customer in customers:
        if customer.collector_id == collector_id:
            continue
        before = customer.collector.email if customer.collector else None
        customer.collector = collector
        audit.record(
            "portfolio.assign",
            actor=actor,
            target=f"customer {customer.reference}",
            before={"collector": before},
            after={"collector": collector.email if collector else None},
        )
        changed += 1
    db.session.commit()
    logger.info(
        "assigned %d of %d customers to collector %s by user %d",
        changed,
        len(customers),
        collector_id,
        actor.id,
    )
    return changed
