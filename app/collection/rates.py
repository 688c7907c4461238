"""The rate tables in use, and the banner admins see while one lacks a semester.

The tables are the files named by ``ECB_RATES_FILE`` and ``LEGAL_RATES_FILE``, or
the ones shipped in ``data/``. Late-payment interest cannot be computed for a
semester missing from the ECB table, so letters fail from the first day of a new
semester until an admin adds its rate. The banner warns admins from that day.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth.models import Role
from app.collection.penalty import (
    ECB_RATES_PATH,
    LEGAL_RATES_PATH,
    RateTable,
    RateTableError,
    load_legal_rate_table,
    load_rate_table,
    missing_current_semester,
)
from app.timeutil import business_today


def ecb_rates_path() -> str:
    return _configured("ECB_RATES_FILE") or str(ECB_RATES_PATH)


def legal_rates_path() -> str:
    return _configured("LEGAL_RATES_FILE") or str(LEGAL_RATES_PATH)


def _configured(key: str) -> str:
    """Return the app's setting, or "" outside an app (the penalty command alone)."""
    return current_app.config.get(key, "") if has_app_context() else ""


def ecb_rates() -> RateTable:
    return load_rate_table(ecb_rates_path())


def legal_rates() -> RateTable:
    return load_legal_rate_table(legal_rates_path())


def rate_table_problems(today) -> list:
    """Return what admins must fix in the rate tables for ``today``, translated."""
    problems = []
    for load, path, name in (
        (ecb_rates, ecb_rates_path(), _l("ECB main refinancing rates")),
        (legal_rates, legal_rates_path(), _l("legal interest rates")),
    ):
        try:
            table = load()
        except (OSError, RateTableError) as error:
            problems.append(
                _l(
                    "The table of %(name)s (%(path)s) cannot be read: %(error)s",
                    name=name,
                    path=path,
                    error=str(error),
                )
            )
            continue
        semester = missing_current_semester(table, today)
        # The legal rates start in 2015: only a semester after the last one listed
        # means that the table waits for its new entry.
        if semester is not None and (not table.rates or semester > max(table.rates)):
            problems.append(
                _l(
                    "The table of %(name)s (%(path)s) has no rate for %(semester)s, "
                    "the current semester: late-payment interest on its days, and "
                    "the overdue letters that claim it, cannot be computed until "
                    "an admin adds it.",
                    name=name,
                    path=path,
                    semester=str(semester),
                )
            )
    return problems


def inject_rate_table_problems() -> dict:
    """Give admins the rate-table problems of the business date, for the banner."""
    if not current_user.is_authenticated or current_user.role != Role.ADMIN:
        return {}
    return {"rate_table_problems": rate_table_problems(business_today())}
