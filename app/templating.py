"""Template filters and globals: money, dates, flags, the business date."""

import datetime as dt
from decimal import Decimal

from flask import Flask
from babel.dates import format_skeleton
from flask_babel import format_currency, format_decimal, get_locale
from flask_login import current_user

from app.ledger.money import to_money
from app.rollout.flags import is_enabled
from app.timeutil import business_today


def money(value: Decimal | None, currency: str = "EUR") -> str:
    if value is None:
        return ""
    return format_currency(to_money(value), currency)


def short_date(value: dt.date | None) -> str:
    """Format a date with a four-digit year: 30/06/2013 in French, 6/30/2013 in English."""
    if value is None:
        return ""
    return format_skeleton("yMd", value, locale=get_locale())


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
