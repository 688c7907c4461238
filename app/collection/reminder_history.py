"""The earlier reminders a letter may mention: letters stored as sent to the
customer about the invoices it claims.

A stored letter counts when it was sent on or before the new letter's date and
after the due date of at least one invoice that both letters claim. The invoices
of a letter written for a dunning action are the action's invoices. A letter
written by hand does not record its invoices, so it counts when it was sent
after the due date of any invoice the new letter claims. A courtesy reminder,
sent before the due date, therefore never counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select

from app.collection.models import DunningAction, DunningLevel, Letter
from app.collection.models import dunning_action_invoices as action_invoices
from app.extensions import db
from app.timeutil import business_date_of


@dataclasses.dataclass(frozen=True)
class EarlierReminder:
    """A letter sent before, as a new letter refers to it."""

    sent_on: dt.date
    level_name: str  # the dunning level's name, or the subject of a hand letter
    template_key: str
    letter_id: int


def earlier_reminders(
    customer_id: int,
    claimed: Mapping[int, dt.date],
    on: dt.date,
) -> list[EarlierReminder]:
    """Return the stored letters of the customer that a letter dated ``on`` and
    claiming ``claimed`` (invoice id -> due date) may mention, oldest first."""
    if not claimed:
        return []
    rows = db.session.execute(
        select(
            Letter.id,
            Letter.sent_at,
            Letter.template_key,
            Letter.subject,
            Letter.action_id,
            DunningLevel.name,
        )
        .outerjoin(DunningAction, Letter.action_id == DunningAction.id)
        .outerjoin(DunningLevel, DunningAction.level_id == DunningLevel.id)
        .where(Letter.customer_id == customer_id, Letter.sent_at.is_not(None))
        .order_by(Letter.sent_at, Letter.id)
    ).all()
    covered = _invoices_by_action(row.action_id for row in rows if row.action_id)

    reminders = []
    for letter_id, sent_at, template_key, subject, action_id, level_name in rows:
        sent_on = business_date_of(sent_at)
        if sent_on > on:
            continue
        shared = claimed.keys() & covered[action_id] if action_id else claimed.keys()
        if not any(claimed[invoice_id] < sent_on for invoice_id in shared):
            continue
        reminders.append(
            EarlierReminder(sent_on, level_name or subject, template_key, letter_id)
        )
    return reminders


def reminders_from_facts(entries: Sequence[Mapping]) -> list[EarlierReminder]:
    """Return the reminders of a dunning action's facts: dicts of ``level_name``,
    ``sent_on`` (a date or ISO text) and ``letter_id``.

    Entries without a letter, such as a call, are left out, because a letter only
    mentions what the customer received in writing.
    """
    letter_ids = [entry["letter_id"] for entry in entries if entry.get("letter_id")]
    if not letter_ids:
        return []
    template_keys = dict(
        db.session.execute(
            select(Letter.id, Letter.template_key).where(Letter.id.in_(letter_ids))
        ).all()
    )
    reminders = []
    for entry in entries:
        letter_id = entry.get("letter_id")
        if not letter_id or letter_id not in template_keys:
            continue
        sent_on = entry["sent_on"]
        if isinstance(sent_on, str):
            sent_on = dt.date.fromisoformat(sent_on)
        reminders.append(
            EarlierReminder(
                sent_on, str(entry["level_name"]), template_keys[letter_id], letter_id
            )
        )
    return sorted(
        reminders, key=lambda reminder: (reminder.sent_on, reminder.letter_id)
    )


def _invoices_by_action(action_ids: Iterable[int]) -> dict[int, set[int]]:
    ids = set(action_ids)
    covered: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return covered
    rows = db.session.execute(
        select(action_invoices.c.action_id, action_invoices.c.invoice_id).where(
            action_invoices.c.action_id.in_(ids)
        )
    )
    for action_id, invoice_id in rows:
        covered[action_id].add(invoice_id)
    return covered
