"""Business dates and timestamps: dates in Europe/Paris, timestamps in UTC."""

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def business_today() -> dt.date:
    """Return today's business date: the configured demo date, else today in Paris."""
    if has_app_context():
        pinned = current_app.config.get("BUSINESS_DATE")
        if pinned:
            return dt.date.fromisoformat(str(pinned))
    return dt.datetime.now(PARIS).date()


def business_now() -> dt.datetime:
    """Return the current UTC timestamp, moved to the business date if one is pinned.

    The Paris wall-clock time is kept, so events recorded on a pinned demo date get
    that date and still sort in the order they were recorded.
    """
    now = dt.datetime.now(PARIS)
    today = business_today()
    if now.date() != today:
        now = dt.datetime.combine(today, now.timetz())
    return now.astimezone(dt.UTC)


def business_date_of(timestamp: dt.datetime) -> dt.date:
    """Return the Paris date of a timestamp. A naive timestamp is taken as UTC."""
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=dt.UTC)
    return timestamp.astimezone(PARIS).date()


def start_of_business_day(day: dt.date) -> dt.datetime:
    """Return midnight in Paris at the start of ``day``, as a UTC timestamp."""
    return dt.datetime.combine(day, dt.time(), tzinfo=PARIS).astimezone(dt.UTC)
