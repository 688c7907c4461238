"""Records that every legacy reader produces and the loader consumes.

A reader turns one export (IBM CSV, FEC ledger, mapped CSV or Excel) into a stream of
``LegacyItem`` and ``Rejection`` objects. Everything after the reader (validation of the
whole file, loading, reconciliation) works on these records only, so a new export format
needs a new reader and nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

# Added to an invoice's legacy id to make the legacy id of its paid part: the payment
# item a reader derives from a partly paid invoice, which the loader allocates to
# that invoice. Readers percent-encode ":" inside the parts of a legacy id
# (``join_legacy_id``), so no other credit's legacy id ends with it.
PAID_PART_SUFFIX = ":paid"


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
    ``payment_date_assumed`` is true when the export gives no date for the payment
    that the item records, so the reader assumed one: the ``settled_date`` of a paid
    invoice, or the ``issue_date`` of a paid part.
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
    payment_date_assumed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """A row of the legacy file that cannot be loaded, with an actionable reason.

    ``reason`` is the English text. ``code`` and ``params`` name the template of
    ``migration.messages.MESSAGES`` it was built from, so that the reason can be shown
    in another language. They are left out of comparisons, so two rejections with the
    same line, field, value and reason are equal.

    ``customer`` and ``document`` identify the rejected row's document (customer
    legacy id and document number) when the reader could read them, so that the
    loader leaves the rows loaded earlier for that document as they are. Both are
    None when the row cannot be traced, and are also left out of comparisons.
    """

    line: int
    field: str
    value: str
    reason: str
    code: str = dataclasses.field(default="", compare=False)
    params: dict[str, object] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )
    customer: str | None = dataclasses.field(default=None, compare=False)
    document: str | None = dataclasses.field(default=None, compare=False)

    def of_document(self, customer: str | None, document: str | None) -> Rejection:
        """Return a copy that names the customer and document of the rejected row."""
        return dataclasses.replace(self, customer=customer, document=document)

    def __str__(self) -> str:
        return (
            f'line {self.line}, column {self.field}, value "{self.value}": '
            f"{self.reason}"
        )


@dataclasses.dataclass(frozen=True)
class RejectedDocuments:
    """Documents of a file's rejected rows, whose loaded ledger rows a run keeps.

    A run that loads the valid rows and skips the rejected ones must not take a
    rejected document for one the export no longer has: its invoice, paid part and
    credits stay as an earlier run loaded them. A rejected row that names a customer
    but no document keeps every row of that customer, and a row that names no
    customer keeps every row of the source (``unknown``).
    """

    documents: frozenset[tuple[str, str]] = frozenset()  # (customer, document)
    customers: frozenset[str] = frozenset()
    unknown: bool = False

    @classmethod
    def of(cls, rejections: Iterable[Rejection]) -> RejectedDocuments:
        documents: set[tuple[str, str]] = set()
        customers: set[str] = set()
        unknown = False
        for rejection in rejections:
            if rejection.customer is None:
                unknown = True
            elif rejection.document is None:
                customers.add(rejection.customer)
            else:
                documents.add((rejection.customer, rejection.document))
        return cls(frozenset(documents), frozenset(customers), unknown)

    def keeps(self, customer: str | None, document: str | None) -> bool:
        """Return whether the ledger row of ``document`` of ``customer`` is kept."""
        return (
            self.unknown
            or customer in self.customers
            or (customer, document) in self.documents
        )
