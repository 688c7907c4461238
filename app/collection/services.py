"""Every write of collection work: activities, promises to pay, disputes, payments
with their allocation, and portfolio assignment.

Each function checks its input, writes, logs and commits, all or nothing. A request
that breaks a rule raises ActionError, whose message is shown to the user.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Collection, Sequence
from decimal import Decimal
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.audit.models import AuditEntry
from app.auth.models import ALL_PORTFOLIO_ROLES, Role, User
from app.collection.legacy_disputes import closed_by_legacy_export
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
from app.collection.promises import evaluate_promises, latest_promise_date
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
from app.templating import money, short_date
from app.timeutil import business_date_of, business_now, business_today

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
# The reasons a person chooses when opening a dispute. Only a legacy import opens
# disputes with the LEGACY_IMPORT reason.
COLLECTOR_DISPUTE_REASONS = tuple(
    reason for reason in DisputeReason if reason != DisputeReason.LEGACY_IMPORT
)
# A payment like one recorded for the same customer this many minutes ago or less
# needs a confirmation, because a collector who retypes a payment does so within
# minutes.
SIMILAR_PAYMENT_MINUTES = 15
# One-time form keys: URL-safe base64 text, as secrets.token_urlsafe produces.
SUBMISSION_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


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


def _lazy_date(value: dt.date) -> LazyString:
    return LazyString(short_date, value)


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
            _take_sqlite_write_lock(customer)
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

    The promised date runs from today to ``latest_promise_date(today)``. The amount
    may not exceed the open total of the chosen invoices, or of the whole account
    when none is chosen. An invoice belongs to one pending promise at a time, and an
    account to one pending promise without invoices.
    """
    today = business_today()
    try:
        amount = _check_amount(amount)
        _check_promised_date(promised_date, today)
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


def _check_promised_date(promised_date: dt.date, today: dt.date) -> None:
    if promised_date < today:
        raise ActionError(
            _l("The promised date cannot be in the past."), "promised_date"
        )
    latest = latest_promise_date(today)
    if promised_date > latest:
        # A pending promise pauses dunning of the whole account until its date.
        raise ActionError(
            _l(
                "The promised date can be %(days)s days from today at most, so "
                "%(date)s at the latest.",
                days=(latest - today).days,
                date=_lazy_date(latest),
            ),
            "promised_date",
        )


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
    on: dt.date, customer_ids: Collection[int] | None = None, *, commit: bool = True
) -> PromiseRefresh:
    """Mark promises kept or broken as the payments recorded up to ``on`` decide.

    With ``customer_ids``, every pending or broken promise of those customers is
    evaluated, because a payment received in time but recorded late turns a broken
    promise into a kept one. Without them, only pending promises whose date passed
    are evaluated: elsewhere nothing changed unless a payment was recorded, and
    recording a payment refreshes its customer.

    With ``commit=False`` the outcomes stay in the session, for a caller that
    commits or rolls back its own work with them.
    """
    refresh = _refresh(on, customer_ids)
    if refresh.changed and commit:
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
        if reason not in COLLECTOR_DISPUTE_REASONS:
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


class DisputeAlreadyResolved(ActionError):
    """The dispute was resolved before this request, so nothing was recorded."""

    def __init__(self, dispute: Dispute):
        resolved_on = _lazy_date(business_date_of(dispute.resolved_at))
        resolver = dispute_resolver(dispute)
        if resolver is None:
            message = _l(
                "This dispute was already resolved on %(date)s. Nothing was recorded.",
                date=resolved_on,
            )
        else:
            message = _l(
                "This dispute was already resolved on %(date)s by %(name)s. Nothing "
                "was recorded.",
                date=resolved_on,
                name=resolver,
            )
        super().__init__(message)
        self.dispute = dispute


def dispute_resolver(dispute: Dispute) -> str | LazyString | None:
    """Return who resolved the dispute, or None when no record shows it.

    A person's resolution is read from the audit log. Disputes resolved before
    resolutions were audited have no such entry.
    """
    if closed_by_legacy_export(dispute):
        return _l("the legacy export")
    entry = db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.action == "dispute.resolve",
            AuditEntry.target == f"dispute {dispute.id}",
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    if entry is None:
        return None
    user = db.session.get(User, entry.actor_id) if entry.actor_id else None
    return user.name if user is not None else entry.actor_label


def resolve_dispute(user: User, dispute: Dispute, *, resolution: str) -> Dispute:
    """Resolve an open dispute. The invoice stays disputed while another one is open.

    Raises DisputeAlreadyResolved when the dispute is resolved already, also when
    another request resolved it a moment before this one.
    """
    if dispute.status != DisputeStatus.OPEN:
        raise DisputeAlreadyResolved(dispute)
    resolution = _check_text(resolution, "resolution", required=True)

    try:
        # The status condition makes the second of two simultaneous requests
        # update no row, because the first one's row lock (PostgreSQL) or write
        # lock (SQLite) makes it wait and then read the resolved status.
        resolved = db.session.execute(
            update(Dispute)
            .where(Dispute.id == dispute.id, Dispute.status == DisputeStatus.OPEN)
            .values(
                status=DisputeStatus.RESOLVED,
                resolved_at=business_now(),
                resolution=resolution,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(dispute)
        if not resolved:
            raise DisputeAlreadyResolved(dispute)
        still_open = db.session.scalar(
            select(func.count(Dispute.id)).where(
                Dispute.invoice_id == dispute.invoice_id,
                Dispute.status == DisputeStatus.OPEN,
                Dispute.id != dispute.id,
            )
        )
        if not still_open:
            dispute.invoice.disputed = False
        audit.record(
            "dispute.resolve",
            actor=user,
            target=f"dispute {dispute.id}",
            before={"status": DisputeStatus.OPEN.value},
            after={
                "status": DisputeStatus.RESOLVED.value,
                "invoice": dispute.invoice.number,
                "invoice_disputed": bool(still_open),
            },
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "resolved dispute %d on invoice %d by user %d, invoice still disputed: %s",
        dispute.id,
        dispute.invoice_id,
        user.id,
        bool(still_open),
    )
    return dispute


# --- Payments and credit notes ----------------------------------------------------


class PaymentAlreadyRecorded(ActionError):
    """The form submission was already recorded, as ``payment``."""

    def __init__(self, payment: Payment):
        if payment.kind == PaymentKind.CREDIT_NOTE:
            message = _l(
                "This credit note was already recorded: %(amount)s on %(date)s. "
                "Nothing was recorded twice.",
                amount=_lazy_money(payment.amount),
                date=_lazy_date(payment.received_on),
            )
        else:
            message = _l(
                "This payment was already recorded: %(amount)s received on "
                "%(date)s. Nothing was recorded twice.",
                amount=_lazy_money(payment.amount),
                date=_lazy_date(payment.received_on),
            )
        super().__init__(message)
        self.payment = payment


class SimilarPaymentRecorded(ActionError):
    """A payment like the one requested was recorded moments ago, as ``payment``.

    The caller records it anyway by calling again with ``confirm_similar=True``.
    """

    def __init__(self, payment: Payment):
        super().__init__(
            _l(
                "The same amount, %(amount)s, with the same date and reference was "
                "recorded on this account less than %(minutes)s minutes ago. If "
                "this is another payment, tick the box below and record it again.",
                amount=_lazy_money(payment.amount),
                minutes=SIMILAR_PAYMENT_MINUTES,
            ),
            "confirm_similar",
        )
        self.payment = payment


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
    submission_key: str | None = None,
    confirm_similar: bool = False,
) -> Payment:
    """Record a payment or credit note and allocate it to the customer's invoices.

    ``allocation`` picks the invoices. OLDEST_FIRST fills the undisputed open
    invoices by due date, oldest first. CHOSEN applies the (invoice id, amount)
    ``lines``. UNALLOCATED applies nothing. An allocation never exceeds an invoice's
    open amount nor, in total, the payment. What is left stays on the account as
    unallocated cash. The payment, its allocations, the invoices' open amounts, the
    promise statuses and the audit entry commit together.

    ``submission_key`` is the one-time key of the form that sent the request. A
    second request with a key already stored records nothing and raises
    PaymentAlreadyRecorded. Unless ``confirm_similar``, a payment of the same kind,
    amount, receipt date and reference as one recorded for the customer in the last
    SIMILAR_PAYMENT_MINUTES raises SimilarPaymentRecorded. References compare
    without case and surrounding spaces, and an empty reference matches an empty one.
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
        if submission_key is not None:
            _check_submission_key(submission_key)
        # Every payment write of a customer waits here for the one before it, so the
        # checks below see what an earlier request of the same form recorded.
        _lock_customer(customer)
        if submission_key is not None:
            _reject_recorded_submission(customer, submission_key)
        now = _naive_utc_now()
        if not confirm_similar:
            similar = _similar_recent_payment(
                customer, kind, amount, received_on, reference, now
            )
            if similar is not None:
                raise SimilarPaymentRecorded(similar)
        open_invoices = _open_invoices(customer, lock=True)
        plan = _plan_allocation(amount, open_invoices, allocation, lines)

        payment = Payment(
            kind=kind,
            customer_id=customer.id,
            received_on=received_on,
            amount=amount,
            currency=customer.currency,
            reference=reference,
            submission_key=submission_key,
            recorded_at=now,
            recorded_by_id=user.id,
        )
        for invoice, applied in plan:
            payment.allocations.append(Allocation(invoice=invoice, amount=applied))
            _reduce_open_amount(invoice, applied)
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
    except IntegrityError:
        # Two requests with the same key passed the check at the same time. The
        # customer lock prevents that unless they named different customers.
        db.session.rollback()
        if submission_key is not None:
            _reject_recorded_submission(customer, submission_key)
        raise
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


def _naive_utc_now() -> dt.datetime:
    # business_now() stored as UTC without a zone, so that payment and allocation
    # timestamps compare the same way on SQLite and PostgreSQL, whatever the
    # session's time zone.
    return business_now().replace(tzinfo=None)


def _check_submission_key(key: str) -> None:
    if not SUBMISSION_KEY_PATTERN.fullmatch(key):
        raise ActionError(
            _l("This form is incomplete. Reload the page and enter the payment again.")
        )


def _take_sqlite_write_lock(customer: Customer) -> None:
    """Take SQLite's database write lock until commit, with a write that changes
    nothing, since SQLite has no row locks."""
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(id=Customer.id)
        .execution_options(synchronize_session=False)
    )


def _lock_customer(customer: Customer) -> None:
    """Lock the customer row until commit, so payment writes of a customer run one
    at a time.

    PostgreSQL takes FOR NO KEY UPDATE, which still lets other transactions insert
    rows that refer to the customer. SQLite has no row locks, so a no-op write takes
    the database's write lock instead.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        _take_sqlite_write_lock(customer)
        return
    db.session.execute(
        select(Customer.id)
        .where(Customer.id == customer.id)
        .with_for_update(key_share=True)
    )


def _reject_recorded_submission(customer: Customer, key: str) -> None:
    """Raise PaymentAlreadyRecorded when a payment was recorded with ``key``."""
    recorded = db.session.scalar(
        select(Payment)
        .where(Payment.submission_key == key)
        .execution_options(populate_existing=True)
    )
    if recorded is None:
        return
    if recorded.customer_id != customer.id:
        # Only a form altered by hand sends another customer's key. Say nothing of
        # that customer's payment.
        raise ActionError(
            _l(
                "This form was already used. Reload the page and enter the payment "
                "again."
            )
        )
    raise PaymentAlreadyRecorded(recorded)


def _similar_recent_payment(
    customer: Customer,
    kind: str,
    amount: Decimal,
    received_on: dt.date,
    reference: str,
    now: dt.datetime,
) -> Payment | None:
    """Return the latest payment like this one recorded in the last minutes, if any."""
    since = now - dt.timedelta(minutes=SIMILAR_PAYMENT_MINUTES)
    candidates = db.session.scalars(
        select(Payment)
        .where(
            Payment.customer_id == customer.id,
            Payment.kind == kind,
            Payment.amount == amount,
            Payment.received_on == received_on,
            Payment.recorded_at >= since,
        )
        .order_by(Payment.recorded_at.desc(), Payment.id.desc())
    )
    wanted = reference.casefold()
    for payment in candidates:
        if payment.reference.strip().casefold() == wanted:
            return payment
    return None


def _reduce_open_amount(invoice: Invoice, applied: Decimal) -> None:
    invoice.open_amount = to_money(invoice.open_amount - applied)
    if invoice.open_amount == ZERO:
        invoice.status = InvoiceStatus.PAID


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

    plan = _chosen_plan(open_invoices, lines)
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


def _chosen_plan(
    open_invoices: dict[int, Invoice], lines: Sequence[tuple[int, Decimal]]
) -> list[tuple[Invoice, Decimal]]:
    """Check the (invoice id, amount) lines against the open invoices and pair them."""
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


# --- Applying unallocated cash ----------------------------------------------------


def unallocated_cash(customer: Customer) -> list[tuple[Payment, Decimal]]:
    """Return the customer's payments and credit notes with an unallocated rest,
    paired with that rest, oldest received first."""
    allocated = func.coalesce(func.sum(Allocation.amount), 0)
    rows = db.session.execute(
        select(Payment, Payment.amount - allocated)
        .outerjoin(Allocation, Allocation.payment_id == Payment.id)
        .where(Payment.customer_id == customer.id)
        .group_by(Payment.id)
        .having(Payment.amount - allocated > 0)
        .order_by(Payment.received_on, Payment.id)
    ).all()
    return [(payment, to_money(rest)) for payment, rest in rows]


def apply_unallocated_cash(
    user: User,
    customer: Customer,
    *,
    allocation: AllocationMode = AllocationMode.OLDEST_FIRST,
    amount: Decimal | None = None,
    lines: Sequence[tuple[int, Decimal]] = (),
    expected_unallocated: Decimal | None = None,
) -> list[Allocation]:
    """Apply the customer's unallocated cash to open invoices and return the new
    allocations.

    OLDEST_FIRST fills the undisputed open invoices by due date, oldest first, with
    ``amount``, or with all the unallocated cash when ``amount`` is None. CHOSEN
    applies the (invoice id, amount) ``lines``, and may name a disputed invoice. No
    invoice gets more than its open amount, and the total never exceeds the
    unallocated cash. The cash is taken from the oldest payments and credit notes
    first. With ``expected_unallocated``, the request is rejected unless the
    unallocated cash still has that total, which makes a form sent twice apply
    nothing the second time. The allocations, open amounts, promise statuses and
    the audit entry commit together.
    """
    today = business_today()
    try:
        if allocation not in (AllocationMode.OLDEST_FIRST, AllocationMode.CHOSEN):
            raise ActionError(_l("Choose how to apply the cash."), "allocation")
        if amount is not None:
            amount = _check_amount(amount)
        _lock_customer(customer)
        open_invoices = _open_invoices(customer, lock=True)
        sources = unallocated_cash(customer)
        available = to_money(sum((rest for _, rest in sources), ZERO))
        if expected_unallocated is not None and available != expected_unallocated:
            raise ActionError(
                _l(
                    "The unallocated cash changed since this page was shown and is "
                    "now %(total)s. Nothing was applied. Check the account and apply "
                    "the cash again.",
                    total=_lazy_money(available),
                )
            )
        if available == ZERO:
            raise ActionError(_l("This account has no unallocated cash."))
        plan = _plan_application(available, amount, open_invoices, allocation, lines)

        applied_at = _naive_utc_now()
        allocations = _spread_over_sources(plan, sources)
        for new in allocations:
            new.applied_at = applied_at
            new.applied_by_id = user.id
            db.session.add(new)
        for invoice, applied in plan:
            _reduce_open_amount(invoice, applied)
        db.session.flush()
        total = to_money(sum((applied for _, applied in plan), ZERO))
        audit.record(
            "payment.apply",
            actor=user,
            target=f"customer {customer.reference}",
            before={"unallocated": format_amount(available)},
            after={
                "allocations": [
                    {
                        "payment_id": new.payment_id,
                        "invoice": new.invoice.number,
                        "amount": format_amount(new.amount),
                    }
                    for new in allocations
                ],
                "unallocated": format_amount(available - total),
            },
        )
        _refresh(today, [customer.id])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "applied %s of unallocated cash of customer %d to %d invoices by user %d",
        format_amount(total),
        customer.id,
        len(plan),
        user.id,
    )
    return allocations


def _plan_application(
    available: Decimal,
    amount: Decimal | None,
    open_invoices: dict[int, Invoice],
    allocation: AllocationMode,
    lines: Sequence[tuple[int, Decimal]],
) -> list[tuple[Invoice, Decimal]]:
    """Return the (invoice, amount) pairs that apply the cash, or raise ActionError."""
    if allocation == AllocationMode.CHOSEN:
        plan = _chosen_plan(open_invoices, lines)
        total = sum((applied for _, applied in plan), ZERO)
        if total > available:
            raise ActionError(
                _l(
                    "The amounts add up to %(total)s, more than the unallocated "
                    "cash, %(available)s.",
                    total=_lazy_money(total),
                    available=_lazy_money(available),
                ),
                "allocations",
            )
        return plan

    if amount is not None and amount > available:
        raise ActionError(
            _l(
                "The amount is above the unallocated cash, %(available)s.",
                available=_lazy_money(available),
            ),
            "amount",
        )
    limit = available if amount is None else amount
    plan = _oldest_first(limit, open_invoices.values())
    if not plan:
        raise ActionError(
            _l(
                "No undisputed open invoice is left. Choose the invoices to apply "
                "the cash to."
            ),
            "allocation",
        )
    return plan


def _spread_over_sources(
    plan: Sequence[tuple[Invoice, Decimal]], sources: Sequence[tuple[Payment, Decimal]]
) -> list[Allocation]:
    """Split each planned amount over the unallocated payments, oldest first.

    The plan's total must not exceed the sources' total.
    """
    rests = [[payment, rest] for payment, rest in sources]
    allocations: list[Allocation] = []
    index = 0
    for invoice, applied in plan:
        left = applied
        while left > 0:
            payment, rest = rests[index]
            part = min(left, rest)
            allocations.append(
                Allocation(payment=payment, invoice=invoice, amount=part)
            )
            left -= part
            rests[index][1] = rest - part
            if rests[index][1] == 0:
                index += 1
    return allocations


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
