"""Template filters and globals: money, dates, flags, the business date."""

import datetime as dt
import functools
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_currency
from flask import Flask
from flask_babel import format_decimal, get_locale
from flask_login import current_user

from app.ledger.money import to_money
from app.rollout.flags import is_enabled
from app.timeutil import business_today

# Long pages format the same amounts and dates many times (zero ageing buckets,
# due dates), so the formatted texts are cached per locale.
FORMAT_CACHE_SIZE = 8192


def money(value: Decimal | None, currency: str = "EUR") -> str:
    if value is None:
        return ""
    # The text of the amount is the key, so 0.00 and -0.00 stay distinct.
    return _format_money(str(to_money(value)), currency, str(get_locale()))


@functools.lru_cache(maxsize=FORMAT_CACHE_SIZE)
def _format_money(amount: str, currency: str, locale: str) -> str:
    return format_currency(Decimal(amount), currency, locale=locale)


def short_date(value: dt.date | None) -> str:
    """Format a date with a four-digit year: 30/06/2013 in French, 6/30/2013 in English."""
    if value is None:
        return ""
    return _format_short_date(value, str(get_locale()))


@functools.lru_cache(maxsize=FORMAT_CACHE_SIZE)
def _format_short_date(value: dt.date, locale: str) -> str:
    return format_skeleton("yMd", value, locale=locale)


def number(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return format_decimal(value, format="#,##0." + "0" * digits)


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(short_date)
    app.add_template_filter(number)

    @app.context_processor
    def inject_helpers() -> dict:
        return {
            "feature_enabled": lambda flag: is_enabled(flag, current_user),
            "business_today": business_today(),
            "current_locale": str(get_locale()),
        }
