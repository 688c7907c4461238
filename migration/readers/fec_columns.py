"""Check the plain lines of a FEC block by whole columns.

The FEC reader (``migration.readers.fec``) hands each block of lines to
``check_block``, which handles the lines that need no rejection with pandas and
numpy operations over whole columns. Any other line, such as a line with a bad
field, an unusual amount or the wrong field count, is left to the reader's
line-by-line parser, which gives the rejections. So the column parsers here may
refuse unusual but valid texts, and must never read a text differently from
``parse_amount`` and ``parse_date``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from migration.parsing import FEC_DATE, ParseError, parse_date
from migration.readers.fec_rules import (
    BANK_JOURNAL_PREFIXES,
    OPENING_JOURNALS,
    PAYMENT_WORDS,
    fold,
    has_invoice_reference,
    is_opening_label,
    is_payment_label,
    without_trailing_empty,
)
from migration.readers.fec_text import TextBlock

# The columns the first pass reads. Other columns only count towards a line's fields.
READ_COLUMNS = (
    "JournalCode",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
)


@dataclasses.dataclass(frozen=True)
class BlockRules:
    """The reading options that ``check_block`` applies."""

    as_of: dt.date
    years: tuple[int, int]
    account_prefixes: tuple[str, ...]
    width: int  # the header's field count
    separator: str


@dataclasses.dataclass
class BlockCheck:
    """Outcome of ``check_block`` for the lines of one block.

    ``entries`` has the accepted lines with the columns of
    ``fec_documents.ENTRY_COLUMNS`` but the codes, plus ecriture_num and account
    for the duplicate check. ``letters`` has (customer_id, letter, entry_date) of
    the handled lettered lines.
    """

    handled: np.ndarray  # lines done here, the others need the line-by-line parser
    lines_read: int = 0
    lines_ignored: int = 0
    lines_skipped: int = 0
    entries: pd.DataFrame | None = None
    letters: pd.DataFrame | None = None


def check_block(block: TextBlock, rules: BlockRules) -> BlockCheck:
    """Check the block's plain lines by whole columns, as the module docstring explains.

    Handled here: lines on other accounts, and receivable lines with the right
    field count that are either booked after the as-of date or pass every check.
    The lines left, blank lines among them, need the line-by-line parser.
    """
    frame = block.frame
    if block.padded.any():
        frame = frame.copy()
        frame.loc[block.padded] = frame.loc[block.padded].apply(
            lambda column: column.str.strip()
        )
    # Few distinct accounts: test each once.
    codes, accounts = pd.factorize(frame["CompteNum"])
    receivable = np.array(
        [account.startswith(rules.account_prefixes) for account in accounts],
        dtype=bool,
    )[codes]
    has_account = frame["CompteNum"].to_numpy() != ""
    receivable &= has_account
    ignored = has_account & ~receivable
    check = BlockCheck(handled=ignored.copy(), lines_ignored=int(ignored.sum()))
    check.lines_read = check.lines_ignored

    checked = np.flatnonzero(receivable & _has_width(block, rules))
    if len(checked):
        rows = frame if len(checked) == len(frame) else frame.iloc[checked]
        numbers = block.first_line + checked
        check.handled[checked] = _check_receivable(rows, numbers, rules, check)
    return check


def _has_width(block: TextBlock, rules: BlockRules) -> np.ndarray:
    """Return which lines have the header's field count, once trailing empty fields
    beyond it are dropped."""
    counts = block.field_counts
    width = rules.width
    has_width = counts == width
    for index in np.flatnonzero(counts > width).tolist():
        fields = block.text(index).rstrip("\r\n").split(rules.separator)
        has_width[index] = len(without_trailing_empty(fields, width)) == width
    return has_width


def _check_receivable(
    rows: pd.DataFrame, numbers: np.ndarray, rules: BlockRules, check: BlockCheck
) -> np.ndarray:
    """Record in ``check`` the receivable lines that need no rejection.

    These are the lines booked after the as-of date, which are only counted, and
    the lines whose fields all pass the checks of ``fec._read_receivable``.
    Returns which of ``rows`` they are.
    """
    text = {name: rows[name].to_numpy() for name in READ_COLUMNS}
    entry_date, dated = fec_dates(text["EcritureDate"], rules.years, required=True)
    later = dated & (entry_date > np.datetime64(rules.as_of, "D"))
    debit, debit_read = simple_cents(text["Debit"])
    credit, credit_read = simple_cents(text["Credit"])
    piece_date, piece_date_read = fec_dates(
        text["PieceDate"], rules.years, required=False
    )
    letter_date, letter_date_read = fec_dates(
        text["DateLet"], rules.years, required=False
    )
    journal_opening, bank_journal = _journal_flags(text["JournalCode"])
    opening = journal_opening | _label_flags(
        text["EcritureLib"], is_opening_label, ("nouveau",)
    )
    net = debit - credit
    passes = (
        dated
        & ~later
        & debit_read
        & credit_read
        & ((debit == 0) | (credit == 0))
        & (net != 0)
        & piece_date_read
        & letter_date_read
        & ~(letter_date < entry_date)
        & ((text["PieceRef"] != "") | opening)
    )
    handled = later | passes
    customer_id, customer_name = _customers(text)

    lettered = handled & (text["EcritureLet"] != "")
    check.letters = pd.DataFrame(
        {
            "customer_id": customer_id[lettered],
            "letter": text["EcritureLet"][lettered],
            "entry_date": entry_date[lettered],
        }
    )
    check.lines_read += int(handled.sum())
    check.lines_skipped = int(later.sum())
    if not passes.any():
        return handled

    is_debit = net > 0
    is_opening = opening & passes
    for row in np.flatnonzero(is_opening).tolist():
        if has_invoice_reference(text["PieceRef"][row], text["JournalCode"][row]):
            is_opening[row] = False
    to_label = passes & ~is_debit & ~bank_journal
    is_payment = ~is_debit & bank_journal
    is_payment[to_label] = _label_flags(
        text["EcritureLib"][to_label], is_payment_label, PAYMENT_WORDS
    )
    columns = {
        "line": numbers,
        "journal_code": text["JournalCode"],
        "ecriture_num": text["EcritureNum"],
        "account": text["CompteNum"],
        "customer_id": customer_id,
        "customer_name": customer_name,
        "piece_ref": text["PieceRef"],
        "piece_date": piece_date,
        "entry_date": entry_date,
        "is_debit": is_debit,
        "cents": np.abs(net),
        "letter": text["EcritureLet"],
        "letter_date": letter_date,
        "is_opening": is_opening,
        "is_payment": is_payment,
    }
    check.entries = pd.DataFrame(
        {name: values[passes] for name, values in columns.items()}
    )
    return handled


def _customers(text: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return each line's customer id and name, as the line-by-line parser does."""
    aux, account = text["CompAuxNum"], text["CompteNum"]
    has_aux = aux != ""
    aux_name = np.where(text["CompAuxLib"] != "", text["CompAuxLib"], aux)
    account_name = np.where(text["CompteLib"] != "", text["CompteLib"], account)
    customer_id = np.where(has_aux, aux, account)
    return customer_id, np.where(has_aux, aux_name, account_name)


def _journal_flags(journal_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return which lines are in an opening journal, and which in a bank journal.

    Each distinct journal code is tested once.
    """
    codes, distinct = pd.factorize(journal_codes)
    upper = [code.upper() for code in distinct]
    opening = np.array([code in OPENING_JOURNALS for code in upper], dtype=bool)
    bank = np.array(
        [code.startswith(BANK_JOURNAL_PREFIXES) for code in upper], dtype=bool
    )
    return opening[codes], bank[codes]


def _label_flags(
    labels: np.ndarray, matches: Callable[[str], bool], words: tuple[str, ...]
) -> np.ndarray:
    """Return ``matches(fold(label))`` for each label, folding only where needed.

    Every folded label that ``matches`` accepts must contain one of ``words``
    (lower-case, without spaces or hyphens). For an ASCII label, ``fold`` only
    lower-cases, turns hyphens into spaces and collapses whitespace. So an ASCII
    label whose lower-case text has none of ``words`` does not match, and only
    the other labels are folded.
    """
    flags = np.zeros(len(labels), dtype=bool)
    joined = "\n".join(labels)
    lowered = joined.lower()
    if joined.isascii() and not any(word in lowered for word in words):
        return flags
    series = pd.Series(labels, dtype=object)
    lower = series.str.lower()
    maybe = ~series.str.isascii().to_numpy(dtype=bool)
    for word in words:
        maybe |= lower.str.contains(word, regex=False).to_numpy(dtype=bool)
    rows = np.flatnonzero(maybe)
    folded = {label: matches(fold(label)) for label in set(labels[rows].tolist())}
    flags[rows] = [folded[label] for label in labels[rows].tolist()]
    return flags


# --- Amounts and dates ------------------------------------------------------------

# Amounts read here: up to 15 integer digits, then optionally a decimal comma and one
# or two decimals. 15 digits keep every amount in cents far below 2**63.
_MAX_INTEGER_DIGITS = 15
_MAX_AMOUNT_LENGTH = _MAX_INTEGER_DIGITS + 3
# Cents that one unit of the last digit is worth, by the number of decimals.
_CENTS_PER_UNIT = np.array([100, 10, 1], dtype=np.int64)


def simple_cents(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the amounts of ``texts`` in integer cents, and which texts were read.

    ``texts`` is an object array of stripped strings. Read are "" (zero) and plain
    amounts such as 1200, 1200,5 and 001200,50, which ``parse_amount`` with
    ``FEC_NUMBERS`` reads as the same value. Signs, spaces, more decimals or more
    digits are left to ``parse_amount``.
    """
    count = len(texts)
    width = _MAX_AMOUNT_LENGTH + 1  # one more byte shows that a text is too long
    octets = _ascii_bytes(texts, width).view(np.uint8).reshape(count, width)
    value = np.zeros(count, dtype=np.int64)  # the digits, read as one integer
    integers = np.zeros(count, dtype=np.int64)  # digits before the comma
    decimals = np.zeros(count, dtype=np.int64)  # digits after it
    commas = np.zeros(count, dtype=np.int64)
    readable = octets[:, -1] == 0
    # One pass per character position, over all texts at once. numpy pads
    # shorter texts with NUL bytes.
    for position in range(width):
        octet = octets[:, position]
        digit = octet - ord("0")  # bytes below "0" wrap around to above 9
        is_digit = digit < 10
        is_comma = octet == ord(",")
        readable &= is_digit | is_comma | (octet == 0)
        value = np.where(is_digit, value * 10 + digit, value)
        decimals += is_digit & (commas > 0)
        integers += is_digit & (commas == 0)
        commas += is_comma
    readable &= (commas <= 1) & (integers <= _MAX_INTEGER_DIGITS)
    readable &= (commas == 0) | ((integers >= 1) & (decimals >= 1) & (decimals <= 2))
    cents = value * _CENTS_PER_UNIT[np.minimum(decimals, 2)]
    return np.where(readable, cents, 0), readable


def _ascii_bytes(texts: np.ndarray, width: int) -> np.ndarray:
    """Return ``texts`` as fixed-width ASCII bytes, with "?" for non-ASCII texts."""
    try:
        return texts.astype(f"S{width}")
    except UnicodeEncodeError:
        is_ascii = pd.Series(texts, dtype=object).str.isascii().to_numpy(dtype=bool)
        return np.where(is_ascii, texts, "?").astype(f"S{width}")


def fec_dates(
    texts: np.ndarray, years: tuple[int, int], *, required: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return the AAAAMMJJ dates of ``texts`` (NaT where unread) and which were read.

    Each distinct text is parsed once by ``parse_date``, so the result is the same as
    parsing every line, and a ledger repeats few dates. An empty text is read (as
    NaT) unless ``required``.
    """
    codes, distinct = pd.factorize(texts)
    parsed = np.array(
        [_date_or_nat(text, years) for text in distinct], dtype="datetime64[D]"
    )
    dates = parsed[codes]
    readable = ~np.isnat(dates)
    if not required:
        readable |= texts == ""
    return dates, readable


def _date_or_nat(text: str, years: tuple[int, int]) -> np.datetime64:
    if not text:
        return np.datetime64("NaT", "D")
    try:
        return np.datetime64(parse_date(text, FEC_DATE, years), "D")
    except ParseError:
        return np.datetime64("NaT", "D")
