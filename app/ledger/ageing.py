"""Ageing buckets by days past due on a given date."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.ledger.money import ZERO, format_amount

BUCKETS = ("not_due", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {
    "not_due": _l("Not yet due"),
    "1-30": _l("1-30 days"),
    "31-60": _l("31-60 days"),
    "61-90": _l("61-90 days"),
    "90+": _l("Over 90 days"),
}


def bucket_of(days_past_due: int) -> str:
    """Return the bucket of an item that is ``days_past_due`` days late (<= 0: not due)."""
    if days_past_due <= 0:
        return "not_due"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def empty_ageing() -> dict[str, dict]:
    return {name: {"count": 0, "amount": ZERO} for name in BUCKETS}


def age_items(
    items: Iterable[tuple[dt.date, Decimal]], on: dt.date
) -> dict[str, dict]:
    """Sum (due date, open amount) pairs into buckets as of ``on``."""
    ageing = empty_ageing()
    for due_date, amount in items:
        bucket = ageing[bucket_of((on - due_date).days)]
        bucket["count"] += 1
        bucket["amount"] += amount
    return ageing


def ageing_as_json(ageing: dict[str, dict]) -> dict[str, dict]:
    return {
        name: {"count": values["count"], "amount": format_amount(values["amount"])}
        for name, values in ageing.items()
    }
