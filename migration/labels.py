"""Translated labels of run statuses, run modes and reconciliation figures.

The database, the JSON outputs and the audit log keep the codes (``rolled_back``,
``open_amount``); pages, CSV headers and the command line show these labels.
"""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "loaded": _l("Loaded"),
    "unchanged": _l("Unchanged"),
    "rejected": _l("Rejected, nothing loaded"),
    "failed": _l("Failed, nothing loaded"),
    "dry_run": _l("Dry run, nothing written"),
    "rolled_back": _l("Rolled back"),
    "running": _l("Running"),
}
MODE_LABELS = {
    "full": _l("Full"),
    "wave": _l("Wave"),
    "cutover": _l("Cutover"),
}
METRIC_LABELS = {
    "open_invoices": _l("Open invoices"),
    "open_amount": _l("Open amount"),
    "paid_invoices": _l("Paid invoices"),
    "paid_amount": _l("Paid amount"),
    "open_credits": _l("Open credits"),
    "credit_amount": _l("Credit amount"),
    "balance": _l("Balance"),
    "missing_in_cadence": _l("Customer missing in Cadence"),
}
# States of one document in a reconciliation.
DOCUMENT_STATE_LABELS = {
    "open": _l("open"),
    "paid": _l("paid"),
    "credit": _l("open credit"),
    "missing": _l("missing"),
}


def rejection_csv_header() -> list[str]:
    """Return the column headers of a rejection CSV, in the current locale."""
    return [gettext("line"), gettext("field"), gettext("value"), gettext("reason")]

