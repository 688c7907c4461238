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
