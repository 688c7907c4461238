"""How far dunning has gone for each invoice, and which level comes next.

The dunning run, the customer's dunning page and letters written by hand share
these rules. For an invoice and the levels of its customer's policy, sorted by
days from the due date:

- The invoice's latest level is the highest level of any action covering it,
  whatever that action's status: open (waiting for approval or ready), done or
  cancelled. A letter written by hand from a level's template is stored as a done
  action at that level.
- The next level is the lowest level of the policy above the latest one, so no
  level is ever skipped or repeated. A level before the due date (negative days,
  a courtesy reminder) only counts while the invoice is not yet overdue.
- The next level is due on the later of two dates: the invoice's due date plus
  the level's days, and the date the latest level was carried out plus the gap
  between the two levels' days. A done action was carried out on the Paris date
  of ``done_at``, when its letter was sent or its call logged. A cancelled action
  counts from its run date, so escalation goes on after a manager drops a step.
- While the latest level's action is still open, no next level is due, so a
  letter never follows a reminder that was planned but not sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import select

from app.collection.models import (
    DunningAction,
    DunningActionStatus,
    DunningChannel,
    DunningLevel,
    DunningPolicy,
    Letter,
    dunning_action_invoices,
)
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.ledger.money import ZERO, to_money
from app.timeutil import PARIS, business_date_of

OPEN_STATUSES = (DunningActionStatus.PENDING_APPROVAL, DunningActionStatus.READY)


@dataclasses.dataclass(frozen=True)
class LevelReached:
    """One dunning action covering an invoice, at one level."""

    action_id: int
    level_id: int
    level_name: str
    days_from_due: int
    status: str
    # The date the action was carried out (done) or dropped (cancelled), or None
    # while it is still open.
    carried_out_on: dt.date | None

    @property
    def is_open(self) -> bool:
        return self.carried_out_on is None


@dataclasses.dataclass(frozen=True)
class NextLevel:
    """The level an invoice goes to next, and from which date."""

    level: DunningLevel
    # None while the latest level's action is open: the date depends on when
    # that action is carried out.
    due_on: dt.date | None
    waiting_for: LevelReached | None

    def is_due(self, on: dt.date) -> bool:
        return self.due_on is not None and self.due_on <= on


def timestamp_on(day: dt.date) -> dt.datetime:
    """Return the current Paris wall-clock time on ``day``, as a UTC timestamp.

    Actions carried out on a business date other than the calendar date (a demo
    pinned to 2013-06-30) then get that date, and keep their order within it.
    """
    now = dt.datetime.now(PARIS)
    return dt.datetime.combine(day, now.time(), tzinfo=PARIS).astimezone(dt.UTC)


def carried_out_on(action: DunningAction) -> dt.date | None:
    """Return the date an action was done or dropped, or None while it is open."""
    if action.status == DunningActionStatus.DONE:
        if action.done_at is None:
            return action.run_date
        return business_date_of(action.done_at)
    if action.status == DunningActionStatus.CANCELLED:
        return action.run_date
    return None


def levels_reached(
    *, invoice_ids: Collection[int] | None = None, due_by: dt.date | None = None
) -> dict[int, list[LevelReached]]:
    """Return, per invoice, the dunning actions that covered it.

    Either ``invoice_ids`` selects the invoices, or ``due_by`` selects every open
    invoice due by that date.
    """
    query = (
        select(dunning_action_invoices.c.invoice_id, DunningAction, DunningLevel)
        .join(DunningAction, DunningAction.id == dunning_action_invoices.c.action_id)
        .join(DunningLevel, DunningLevel.id == DunningAction.level_id)
    )
    if invoice_ids is not None:
        query = query.where(dunning_action_invoices.c.invoice_id.in_(invoice_ids))
    if due_by is not None:
        query = query.join(
            Invoice, Invoice.id == dunning_action_invoices.c.invoice_id
        ).where(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date <= due_by)
    reached: dict[int, list[LevelReached]] = defaultdict(list)
    for invoice_id, action, level in db.session.execute(query):
        reached[invoice_id].append(
            LevelReached(
                action_id=action.id,
                level_id=level.id,
                level_name=level.name,
                days_from_due=level.days_from_due,
                status=action.status,
                carried_out_on=carried_out_on(action),
            )
        )
    return reached


def latest_level(history: Iterable[LevelReached]) -> LevelReached | None:
    """Return the highest level reached.

    Among actions at that same level, an open one comes first, because it blocks
    the next level, then the one carried out last.
    """
    return max(
        history,
        key=lambda reached: (
            reached.days_from_due,
            reached.is_open,
            reached.carried_out_on or dt.date.min,
        ),
        default=None,
    )


def next_level(
    levels: Sequence[DunningLevel],
    history: Iterable[LevelReached],
    due_date: dt.date,
    on: dt.date,
) -> NextLevel | None:
    """Return the invoice's next level as seen on ``on``, or None after the last.

    ``levels`` must be sorted by days from the due date.
    """
    latest = latest_level(history)
    floor = latest.days_from_due if latest is not None else None
    overdue = on > due_date
    for level in levels:
        if floor is not None and level.days_from_due <= floor:
            continue
        if overdue and level.days_from_due < 0:
            continue  # a courtesy reminder comes too late once the invoice is overdue
        return NextLevel(level, _due_on(level, latest, due_date), latest)
    return None


def _due_on(
    level: DunningLevel, latest: LevelReached | None, due_date: dt.date
) -> dt.date | None:
    offset_date = due_date + dt.timedelta(days=level.days_from_due)
    if latest is None:
        return offset_date
    if latest.is_open:
        return None
    gap = dt.timedelta(days=level.days_from_due - latest.days_from_due)
    return max(offset_date, latest.carried_out_on + gap)


def earlier_reminders(
    invoice_ids: Collection[int],
    *,
    below_days_from_due: int | None = None,
    exclude_action_id: int | None = None,
) -> list[dict]:
    """Return the dunning levels actually carried out for some of the invoices.

    Each entry is ``{"level_name", "sent_on" (date), "letter_id" (or None for a
    call)}``, oldest first. Only done actions count, not open or cancelled ones.
    ``below_days_from_due`` keeps the levels below a given one, and
    ``exclude_action_id`` leaves out the action being written.
    """
    if not invoice_ids:
        return []
    query = (
        select(DunningAction, DunningLevel)
        .join(DunningLevel, DunningLevel.id == DunningAction.level_id)
        .where(
            DunningAction.status == DunningActionStatus.DONE,
            DunningAction.id.in_(
                select(dunning_action_invoices.c.action_id).where(
                    dunning_action_invoices.c.invoice_id.in_(invoice_ids)
                )
            ),
        )
    )
    if below_days_from_due is not None:
        query = query.where(DunningLevel.days_from_due < below_days_from_due)
    if exclude_action_id is not None:
        query = query.where(DunningAction.id != exclude_action_id)
    rows = db.session.execute(query).all()
    letters = _first_letter_by_action([action.id for action, _level in rows])
    entries = [
        (
            carried_out_on(action),
            level.days_from_due,
            action.id,
            {
                "level_name": level.name,
                "sent_on": carried_out_on(action),
                "letter_id": letters.get(action.id),
            },
        )
        for action, level in rows
    ]
    entries.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in entries]


def _first_letter_by_action(action_ids: list[int]) -> dict[int, int]:
    if not action_ids:
        return {}
    rows = db.session.execute(
        select(Letter.action_id, Letter.id)
        .where(Letter.action_id.in_(action_ids))
        .order_by(Letter.id.desc())
    )
    # Rows come newest first, so the oldest letter of each action is kept last.
    return {action_id: letter_id for action_id, letter_id in rows}


# --- Letters written by hand -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LetterLevel:
    """The dunning level a letter written by hand counts as."""

    level: DunningLevel
    # Claimed invoices that had not reached the level yet. The letter records the
    # level for these only.
    new_invoice_ids: tuple[int, ...]
    # Claimed invoices whose latest level is this one or a lower one, and whose
    # action for it is still open, by invoice id.
    open_actions: dict[int, LevelReached]


def level_of_letter(
    policy: DunningPolicy | None, template_key: str, invoice_ids: Collection[int]
) -> LetterLevel | None:
    """Return the level of ``policy`` that a letter from ``template_key`` counts as.

    When several levels use the template, the letter counts as the lowest of them
    that some of the invoices have not reached yet, else the highest. Returns None
    when no level of the policy uses the template.
    """
    if policy is None:
        return None
    using = [level for level in policy.levels if level.template_key == template_key]
    if not using:
        return None
    using.sort(key=lambda level: level.days_from_due)
    history = levels_reached(invoice_ids=invoice_ids)
    latest = {
        invoice_id: latest_level(history.get(invoice_id, ()))
        for invoice_id in invoice_ids
    }

    chosen, new_ids = using[-1], []
    for level in using:
        new_ids = [
            invoice_id
            for invoice_id in invoice_ids
            if latest[invoice_id] is None
            or latest[invoice_id].days_from_due < level.days_from_due
        ]
        if new_ids:
            chosen = level
            break
    open_actions = {
        invoice_id: reached
        for invoice_id, reached in latest.items()
        if reached is not None
        and reached.is_open
        and reached.days_from_due <= chosen.days_from_due
    }
    return LetterLevel(chosen, tuple(new_ids), open_actions)


def record_level_by_hand(
    customer: Customer,
    level: DunningLevel,
    invoices: Sequence[Invoice],
    on: dt.date,
) -> DunningAction:
    """Store a letter written by hand as a done action at ``level`` covering
    ``invoices``. The caller links the letter to it and commits."""
    now = timestamp_on(on)
    channel = (
        DunningChannel.FORMAL_NOTICE
        if level.channel == DunningChannel.FORMAL_NOTICE
        else DunningChannel.LETTER
    )
    action = DunningAction(
        customer_id=customer.id,
        level_id=level.id,
        run_date=on,
        channel=channel,
        status=DunningActionStatus.DONE,
        amount=to_money(sum((invoice.open_amount for invoice in invoices), ZERO)),
        created_at=now,
        done_at=now,
    )
    action.invoices = list(invoices)
    db.session.add(action)
    db.session.flush()
    return action


# --- A customer's dunning status ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class InvoiceProgress:
    """The latest and next dunning level of one open invoice."""

    invoice: Invoice
    latest: LevelReached | None
    upcoming: NextLevel | None


def customer_progress(
    customer: Customer, policy: DunningPolicy | None, on: dt.date
) -> list[InvoiceProgress]:
    """Return the latest and next level of each open invoice of the customer,
    oldest due first."""
    invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == customer.id,
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount > 0,
            )
            .order_by(Invoice.due_date, Invoice.number)
        )
    )
    history = levels_reached(invoice_ids=[invoice.id for invoice in invoices])
    levels = []
    if policy is not None:
        levels = sorted(policy.levels, key=lambda level: level.days_from_due)
    rows = []
    for invoice in invoices:
        reached = history.get(invoice.id, [])
        rows.append(
            InvoiceProgress(
                invoice=invoice,
                latest=latest_level(reached),
                upcoming=next_level(levels, reached, invoice.due_date, on),
            )
        )
    return rows
