"""The feature flags of Cadence, the only names a plan may list under ``flags:``.

The app calls ``is_enabled`` with these names only, so a plan flag outside this list
would have no effect. The descriptions are English message ids. Pages translate them
and show them when the plan gives a flag no description of its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from app.rollout.messages import Message, _
from app.rollout.plan import FlagSpec

FLAG_CATALOGUE: dict[str, str] = {
    "worklist": _("Prioritised worklist of customers with overdue invoices."),
    "activities": _("Calls, emails and notes logged on a customer account."),
    "promises": _("Promises to pay, kept or broken automatically from payments."),
    "disputes": _("Disputes that block dunning on their invoices."),
    "payments": _("Recording and allocating payments and credit notes."),
    "dunning": _("Dunning policies, daily runs and approval of formal notices."),
    "letters": _("Reminder letters and formal notices as HTML and PDF."),
    "kpi_dashboard": _("Manager dashboard with DSO, CEI and trends."),
}
"""Description of each flag, by flag name, in the order the docs list them."""

KNOWN_FLAGS = tuple(FLAG_CATALOGUE)


def describe_flag(spec: FlagSpec, translate: Callable[[str], str] = str) -> str:
    """Return the plan's description of ``spec``, or else the catalogue's, translated.

    The plan's own text is the project lead's and is shown as written.
    """
    if spec.description:
        return spec.description
    catalogue_text = FLAG_CATALOGUE.get(spec.name)
    return translate(catalogue_text) if catalogue_text else ""


def closest_flag(name: str) -> str | None:
    """Return the flag of the catalogue that ``name`` most likely misspells, or None."""
    matches = difflib.get_close_matches(name, KNOWN_FLAGS, n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_flag_message(name: str) -> Message:
    """Return the error for a flag name outside the catalogue, with the closest one."""
    values = {"flag": name, "known": ", ".join(KNOWN_FLAGS)}
    suggestion = closest_flag(name)
    if suggestion:
        template = _(
            "Unknown flag %(flag)s. Did you mean %(suggestion)s? The flags of "
            "Cadence are %(known)s."
        )
        return Message(template, {**values, "suggestion": suggestion})
    template = _("Unknown flag %(flag)s. The flags of Cadence are %(known)s.")
    return Message(template, values)
