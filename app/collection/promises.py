"""Rules of promises to pay: how far ahead a promise may be made, how long pending
promises pause dunning, and whether a promise was kept or broken.

The rules of kept and broken, applied by ``evaluate_promises`` on an evaluation date:

- Only money the customer paid counts: payments, not credit notes or opening
  balances.
- A promise for chosen invoices counts what payments allocated to those invoices.
  A promise without invoices counts every payment of the customer, allocated or not.
- A payment counts when it was received from the day the promise was made up to and
  including the promised date, and not after the evaluation date.
- The promise is kept once the counted amount reaches the promised amount. It is
  resolved on the receipt date of the payment that completed it.
- It is broken when the evaluation date is after the promised date and it was not
  kept. It is resolved on the day after the promised date.
- Otherwise it is pending. A cancelled promise is never evaluated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app.collection.models import Promise, PromiseStatus, promise_invoices
from app.extensions import db
from app.ledger.models import Allocation, Payment, PaymentKind
from app.ledger.money import ZERO
from app.timeutil import business_date_of

# Ids per IN (...) list, well below SQLite's limit on bound parameters.
ID_BATCH_SIZE = 500


@dataclasses.dataclass(frozen=True)
class PromiseOutcome:
    status: PromiseStatus
    resolved_on: dt.date | None
    paid: Decimal


@dataclasses.dataclass(frozen=True)
class DunningPause:
    """The pending promise that pauses a customer's dunning the longest.

    Dunning skips every invoice of a customer while any of its promises is pending,
    and a promise stays pending at most until its promised date, ``until``.
    """

    until: dt.date
    promise_id: int
    pending_count: int


def latest_promise_date(today: dt.date) -> dt.date:
    """Return the latest promised date that may be recorded on ``today``.

    The horizon is ``PROMISE_MAX_DAYS`` (``CADENCE_PROMISE_MAX_DAYS``) days.
    """
    return today + dt.timedelta(days=current_app.config["PROMISE_MAX_DAYS"])


def dunning_pause(promises: Iterable[Promise]) -> DunningPause | None:
    """Return the pause that a customer's ``promises`` put on its dunning, if any."""
    pending = [
        (promise.promised_date, promise.id)
        for promise in promises
        if promise.status == PromiseStatus.PENDING
    ]
    return pause_of(pending)


def pause_of(pending: Sequence[tuple[dt.date, int]]) -> DunningPause | None:
    """Return the pause of (promised date, promise id) pairs of pending promises."""
    if not pending:
        return None
    until, promise_id = max(pending)
    return DunningPause(until, promise_id, len(pending))


def promise_made_on(promise: Promise) -> dt.date:
    """Return the business date on which the customer made the promise."""
    return business_date_of(promise.created_at)


def evaluate(
    amount: Decimal,
    promised_date: dt.date,
    made_on: dt.date,
    payments: Iterable[tuple[dt.date, Decimal]],
    on: dt.date,
) -> PromiseOutcome:
    """Evaluate one promise on ``on`` from (receipt date, amount) pairs."""
    last_counted = min(promised_date, on)
    counted = sorted(
        (day, paid) for day, paid in payments if made_on <= day <= last_counted
    )
    paid_total = ZERO
    for day, paid in counted:
        paid_total += paid
        if paid_total >= amount:
            return PromiseOutcome(PromiseStatus.KEPT, day, paid_total)
    if on > promised_date:
        broken_on = promised_date + dt.timedelta(days=1)
        return PromiseOutcome(PromiseStatus.BROKEN, broken_on, paid_total)
    return PromiseOutcome(PromiseStatus.PENDING, None, paid_total)


def evaluate_promises(
    promises: Sequence[Promise], on: dt.date
) -> dict[int, PromiseOutcome]:
    """Evaluate each promise on ``on``, by promise id, leaving out cancelled ones.

    The payments are read with two queries per batch of promises.
    """
    active = [p for p in promises if p.status != PromiseStatus.CANCELLED]
    outcomes: dict[int, PromiseOutcome] = {}
    for batch in _batches(active):
        payments = _payments_by_promise(batch, on)
        for promise in batch:
            outcomes[promise.id] = evaluate(
                promise.amount,
                promise.promised_date,
                promise_made_on(promise),
                payments.get(promise.id, ()),
                on,
            )
    return outcomes


def _batches(promises: Sequence[Promise]) -> Iterator[Sequence[Promise]]:
    for start in range(0, len(promises), ID_BATCH_SIZE):
        yield promises[start : start + ID_BATCH_SIZE]


def _payments_by_promise(
    promises: Sequence[Promise], on: dt.date
) -> dict[int, list[tuple[dt.date, Decimal]]]:
    """Return the (receipt date, amount) pairs that may count for each promise."""
    promise_ids = [p.id for p in promises]
    allocated = db.session.execute(
        select(promise_invoices.c.promise_id, Payment.received_on, Allocation.amount)
        .join(Allocation, Allocation.invoice_id == promise_invoices.c.invoice_id)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(
            promise_invoices.c.promise_id.in_(promise_ids),
            Payment.kind == PaymentKind.PAYMENT,
            Payment.received_on <= on,
        )
    ).all()
    with_invoices = set(
        db.session.scalars(
            select(promise_invoices.c.promise_id)
            .where(promise_invoices.c.promise_id.in_(promise_ids))
            .distinct()
        )
    )
    by_promise: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for promise_id, received_on, amount in allocated:
        by_promise[promise_id].append((received_on, amount))

    whole_account = [p for p in promises if p.id not in with_invoices]
    if whole_account:
        by_customer: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        rows = db.session.execute(
            select(Payment.customer_id, Payment.received_on, Payment.amount).where(
                Payment.customer_id.in_({p.customer_id for p in whole_account}),
                Payment.kind == PaymentKind.PAYMENT,
                Payment.received_on <= on,
            )
        )
        for customer_id, received_on, amount in rows:
            by_customer[customer_id].append((received_on, amount))
        for promise in whole_account:
            by_promise[promise.id] = by_customer[promise.customer_id]
    return by_promise
