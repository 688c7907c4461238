"""Records that every legacy reader produces and the loader consumes.

A reader turns one export (IBM CSV, FEC ledger, mapped CSV or Excel) into a stream of
``LegacyItem`` and ``Rejection`` objects. Everything after the reader (validation of the
whole file, loading, reconciliation) works on these records only, so a new export format
needs a new reader and nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from enum import StrEnum


class ItemKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    OPENING = "opening"


@dataclasses.dataclass(frozen=True, slots=True)
class LegacyItem:
    """One receivable document of the legacy system, as of the run's as-of date.

    ``amount`` is positive for every kind; ``kind`` shows whether it is owed by the
    customer (invoice, opening debit) or owed to them (payment, credit note, opening
    credit, in which case ``is_credit`` is true). ``settled_date`` is the date the item
    was fully settled, or None when it is still open on the as-of date.
    """

    line: int
    legacy_id: str
    customer_legacy_id: str
    customer_name: str
    team: str | None
    kind: ItemKind
    document: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    settled_date: dt.date | None = None
    disputed: bool = False
    is_credit: bool = False
    country: str | None = None
    currency: str = "EUR"


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """A row of the legacy file that cannot be loaded, with an actionable reason.

    ``reason`` is the English text. ``code`` and ``params`` name the template of
    ``migration.messages.MESSAGES`` it was built from, so that the reason can be shown
    in another language. They are left out of comparisons, so two rejections with the
    same line, field, value and reason are equal.
    """

    line: int
    field: str
    value: str
    reason: str
    code: str = dataclasses.field(default="", compare=False)
    params: dict[str, object] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )

    def __str__(self) -> str:
        return (
            f'line {self.line}, column {self.field}, value "{self.value}": '
            f"{self.reason}"
        )
