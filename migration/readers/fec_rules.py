"""Rules of the FEC reader that both of its ways of checking lines apply.

``migration.readers.fec`` parses lines one by one, and ``fec_columns`` checks
plain lines by whole columns. Both classify opening lines and payments with these
rules, so that they agree.
"""

from __future__ import annotations

import re
import unicodedata

OPENING_JOURNALS = frozenset({"AN", "RAN"})
OPENING_LABEL_PREFIXES = ("a nouveau", "report a nouveau")
# PieceRef values that name the opening entry rather than an invoice: AN, RAN, AN2024.
OPENING_REFERENCE = re.compile(r"R?AN[\W\d_]*", re.IGNORECASE)
BANK_JOURNAL_PREFIXES = ("BQ", "BNK", "CA")
PAYMENT_WORDS = (
    "reglement",
    "virement",
    "cheque",
    "paiement",
    "prelevement",
    "encaissement",
)


def fold(text: str) -> str:
    """Lower-case ``text`` and strip its accents, for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().replace("-", " ").split())


def is_opening(journal_code: str, label: str) -> bool:
    if journal_code.upper() in OPENING_JOURNALS:
        return True
    return is_opening_label(fold(label))


def is_opening_label(folded: str) -> bool:
    return folded.startswith(OPENING_LABEL_PREFIXES)


def has_invoice_reference(piece_ref: str, journal_code: str) -> bool:
    if not piece_ref or piece_ref.casefold() == journal_code.casefold():
        return False
    return OPENING_REFERENCE.fullmatch(piece_ref) is None


def is_payment(journal_code: str, label: str) -> bool:
    """Return whether a credit line is a PAYMENT, else it is a CREDIT_NOTE.

    A bank or cash journal has a code starting with BQ, BNK or CA. A credit whose
    EcritureLib mentions règlement, virement, chèque, paiement, prélèvement or
    encaissement (accents and case ignored) is a payment from any journal.
    """
    if journal_code.upper().startswith(BANK_JOURNAL_PREFIXES):
        return True
    return is_payment_label(fold(label))


def is_payment_label(folded: str) -> bool:
    return any(word in folded for word in PAYMENT_WORDS)


def without_trailing_empty(fields: list[str], count: int) -> list[str]:
    """Drop empty fields beyond ``count``, left by a separator at the end of a line."""
    while len(fields) > count and not fields[-1].strip():
        fields = fields[:-1]
    return fields
