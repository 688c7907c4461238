"""Reader for the FEC (Fichier des Écritures Comptables), the French ledger export.

A FEC file has one line per ledger entry line and the 18 columns of ``FEC_COLUMNS``,
separated by tabs or vertical bars, with decimal-comma amounts and AAAAMMJJ dates. The
reader keeps the lines on receivable accounts (prefix 411 by default) and turns them
into one item per customer document:

- The customer is CompAuxNum (named by CompAuxLib). A receivable line without
  CompAuxNum belongs to the customer CompteNum, named by CompteLib, which fits ledgers
  that give each customer its own 411 account.
- The lines of one customer with one PieceRef on one side form one document. Debit
  lines make an invoice and credit lines a payment or credit note (see
  ``_credit_kind``). Several lines are summed into one document.
- Opening-balance lines (à-nouveaux) without an invoice reference are netted into one
  OPENING item per customer. Opening lines with a PieceRef are ordinary documents.
- Lines booked after the as-of date are skipped, because they were not yet in the
  books on that date. Lines on other accounts are counted and ignored unvalidated.
- A line is settled when it is lettered (EcritureLet) on or before the as-of date,
  and open otherwise (see ``_settled_date``).

Records come out sorted by line once the whole file has been read, because documents,
opening balances and settlement dates can only be built from all the lines.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path

from migration.checks import reject_excess_credits
from migration.messages import ReaderError, reject
from migration.parsing import (
    DEFAULT_YEARS,
    FEC_DATE,
    FEC_NUMBERS,
    ISO_DATE,
    ParseError,
    PaymentTerm,
    checked_lines,
    choose_encoding,
    describe_separator,
    detect_date_format,
    detect_encoding,
    parse_amount,
    parse_date,
    parse_payment_term,
    sniff_separator,
)
from migration.readers import (
    DetectedFormat,
    Detection,
    ReadResult,
    Record,
    join_legacy_id,
)
from migration.records import ItemKind, LegacyItem, Rejection

SOURCE = "fec"
FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
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
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
FEC_SEPARATORS = ("\t", "|")
DUPLICATE_KEY_COLUMNS = (
    "JournalCode",
    "EcritureNum",
    "CompteNum",
    "PieceRef",
    "Debit",
    "Credit",
)
WHOLE_LINE = "(whole line)"  # Rejection.field when no single column is at fault

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
CREDIT_POLICIES = ("allow", "reject")
_SNIFF_LINES = 20


@dataclasses.dataclass
class FecStats:
    """Counters of one FEC read.

    ``lines_read`` equals ``lines_ignored_not_receivable + lines_skipped_after_as_of +
    lines_rejected + lines_accepted``. ``rejections`` can exceed ``lines_rejected``
    because a line gets one rejection per bad field, and documents can be rejected
    after their lines were accepted (due date before issue date, excess credit).
    """

    lines_read: int = 0  # data lines, without the header and blank lines
    lines_blank: int = 0
    lines_ignored_not_receivable: int = 0
    lines_skipped_after_as_of: int = 0
    lines_rejected: int = 0
    lines_accepted: int = 0
    lines_merged: int = (
        0  # accepted lines summed into a document started by another line
    )
    opening_lines: int = 0  # accepted lines netted into a customer's OPENING item
    opening_balances_zero: int = 0  # customers whose opening lines net to zero
    rejections: int = 0
    items: int = 0
    due_dates_from_file: int = 0
    due_dates_from_term: int = 0
    credits_rejected_over_debt: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """One accepted receivable line, parsed."""

    line: int
    journal_code: str
    label: str
    entry_date: dt.date
    customer_id: str
    customer_name: str
    piece_ref: str
    piece_date: dt.date | None
    side: str  # "D" for debit, "C" for credit
    amount: Decimal  # positive
    letter: str
    letter_date: dt.date | None
    is_opening: bool

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.side == "D" else -self.amount


@dataclasses.dataclass
class _Options:
    path: Path
    as_of: dt.date
    account_prefixes: tuple[str, ...]
    payment_term: PaymentTerm
    due_dates: Mapping[str, dt.date]
    team_of: Callable[[str], str | None]
    credit_exceeds_debt: str
    years: tuple[int, int]
    encoding: str
    separator: str
    column_index: dict[str, int]
    column_count: int


@dataclasses.dataclass
class _Ledger:
    """Entries, rejections and lettering dates collected by the first pass."""

    entries: list[_Entry] = dataclasses.field(default_factory=list)
    rejections: list[Rejection] = dataclasses.field(default_factory=list)
    # Latest EcritureDate of each (customer, EcritureLet), over all dated lines.
    letter_dates: dict[tuple[str, str], dt.date] = dataclasses.field(
        default_factory=dict
    )
    first_line_of: dict[tuple, int] = dataclasses.field(default_factory=dict)


def read_fec(
    path: str | Path,
    *,
    as_of: dt.date,
    account_prefix: str | tuple[str, ...] = "411",
    payment_term: str = "30 days",
    due_dates: Mapping[str, dt.date] | str | Path | None = None,
    encoding: str | None = None,
    team_of: Mapping[str, str] | Callable[[str], str | None] | None = None,
    credit_exceeds_debt: str = "allow",
    years: tuple[int, int] = DEFAULT_YEARS,
) -> ReadResult[FecStats]:
    """Read the FEC file ``path`` as the state of the books on ``as_of``.

    ``account_prefix`` selects the receivable accounts. Pass ("411", "416") to include
    doubtful receivables. ``payment_term`` gives invoice due dates unless
    ``due_dates`` (a PieceRef to date mapping, or a PieceRef;DueDate CSV file) has
    the PieceRef. ``encoding`` defaults to detection: UTF-8 with or without BOM, else
    ISO-8859-15, or cp1252 when the file has bytes 0x80-0x9F. ``team_of`` maps a
    customer id to a team. With
    ``credit_exceeds_debt="reject"``, the open credits of a customer whose open
    credits exceed the open debits are rejected. Dates must fall within ``years``.

    Raises ReaderError at once for a bad header, encoding, option or due-dates file.
    Rows are read when the result is first iterated.
    """
    path = Path(path)
    if credit_exceeds_debt not in CREDIT_POLICIES:
        raise ReaderError(
            "option_invalid",
            key="credit_exceeds_debt",
            value=credit_exceeds_debt,
            expected=" or ".join(CREDIT_POLICIES),
        )
    encoding_choice = choose_encoding(path, encoding, fallback="iso-8859-15")
    header, separator = _read_header(path, encoding_choice.encoding)
    column_index = _check_header(path, header)
    options = _Options(
        path=path,
        as_of=as_of,
        account_prefixes=_prefixes(account_prefix),
        payment_term=parse_payment_term(payment_term),
        due_dates=_due_dates_of(due_dates, years),
        team_of=_team_lookup(team_of),
        credit_exceeds_debt=credit_exceeds_debt,
        years=years,
        encoding=encoding_choice.encoding,
        separator=separator,
        column_index=column_index,
        column_count=len(header),
    )
    detected = DetectedFormat(
        path=str(path),
        file_type="fec",
        settings={
            "encoding": Detection(
                encoding_choice.encoding,
                "profile" if encoding else "detected",
                encoding_choice.note,
            ),
            "separator": Detection(describe_separator(separator), "detected"),
        },
        columns=tuple(header),
    )
    stats = FecStats()
    return ReadResult(_read_records(options, stats), stats, detected)


def _prefixes(account_prefix: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(account_prefix, str):
        return (account_prefix,)
    return tuple(account_prefix)


def _team_lookup(
    team_of: Mapping[str, str] | Callable[[str], str | None] | None,
) -> Callable[[str], str | None]:
    if team_of is None:
        return lambda customer_id: None
    if isinstance(team_of, Mapping):
        return team_of.get
    return team_of


# --- Header ------------------------------------------------------------------------


def _read_header(path: Path, encoding: str) -> tuple[list[str], str]:
    """Return the header's column names and the separator."""
    with open(path, encoding=encoding) as handle:
        sample = []
        for text in checked_lines(handle, path, encoding):
            sample.append(text.lstrip("\ufeff") if not sample else text)
            if len(sample) >= _SNIFF_LINES:
                break
    if not sample or not sample[0].strip():
        raise ReaderError("file_empty", path=path)
    separator = sniff_separator(sample, FEC_SEPARATORS, quoted=False)
    if separator is None:
        raise ReaderError(
            "separator_undetected",
            path=path,
            candidates=[describe_separator(candidate) for candidate in FEC_SEPARATORS],
        )
    names = [name.strip() for name in sample[0].rstrip("\r\n").split(separator)]
    while names and not names[-1]:
        names.pop()  # a trailing separator after the last column
    return names, separator


def _check_header(path: Path, names: list[str]) -> dict[str, int]:
    """Return the index of each FEC column, matched case-insensitively.

    Extra columns, such as those of the cash-basis variants of the format, are
    allowed and ignored.
    """
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name.casefold() in index:
            raise ReaderError("header_duplicate", path=path, column=name)
        index[name.casefold()] = position
    missing = [column for column in FEC_COLUMNS if column.casefold() not in index]
    if missing:
        raise ReaderError(
            "header_columns",
            path=path,
            missing=missing,
            expected=FEC_COLUMNS,
            found=names,
        )
    return {column: index[column.casefold()] for column in FEC_COLUMNS}


# --- Due dates file ----------------------------------------------------------------


def _due_dates_of(
    due_dates: Mapping[str, dt.date] | str | Path | None, years: tuple[int, int]
) -> Mapping[str, dt.date]:
    if due_dates is None:
        return {}
    if isinstance(due_dates, Mapping):
        return {str(key).strip(): value for key, value in due_dates.items()}
    return load_due_dates(Path(due_dates), years=years)


def load_due_dates(
    path: Path, *, years: tuple[int, int] = DEFAULT_YEARS
) -> dict[str, dt.date]:
    """Read a CSV of PieceRef and DueDate (header optional) into a dict.

    The separator (; , tab or |), the encoding and the date format (AAAAMMJJ,
    DD/MM/YYYY or ISO) are detected. Raises ReaderError on the first bad line.
    """
    encoding = detect_encoding(path).encoding
    with open(path, encoding=encoding, newline="") as handle:
        lines = list(checked_lines(handle, path, encoding))
    if not any(line.strip() for line in lines):
        raise ReaderError("file_empty", path=path)
    separator = sniff_separator(lines[:_SNIFF_LINES]) or ";"
    rows = [
        (number, fields)
        for number, fields in enumerate(csv.reader(lines, delimiter=separator), start=1)
        if any(field.strip() for field in fields)
    ]
    if rows and rows[0][1][0].strip().casefold() == "pieceref":
        rows = rows[1:]

    detection = detect_date_format(
        (fields[1] for _, fields in rows if len(fields) == 2),
        prefer_day_first=True,
        candidates=(FEC_DATE, "%d/%m/%Y", ISO_DATE),
    )
    date_format = detection.date_format or "%d/%m/%Y"
    result: dict[str, dt.date] = {}
    first_line_of: dict[str, int] = {}
    for number, fields in rows:
        problem = _due_date_problem(number, fields, separator, first_line_of)
        if problem is None:
            try:
                result[fields[0].strip()] = parse_date(fields[1], date_format, years)
            except ParseError as error:
                problem = reject(
                    number, "DueDate", fields[1], error.code, **error.params
                )
        if problem is not None:
            raise ReaderError(
                "due_dates_invalid",
                path=path,
                line=number,
                value=problem.value,
                reason=problem.reason,
            )
        first_line_of[fields[0].strip()] = number
    return result


def _due_date_problem(
    number: int, fields: list[str], separator: str, first_line_of: dict[str, int]
) -> Rejection | None:
    if len(fields) != 2:
        return reject(
            number,
            WHOLE_LINE,
            separator.join(fields),
            "field_count",
            found=len(fields),
            expected=2,
            separator=describe_separator(separator),
        )
    piece_ref = fields[0].strip()
    if not piece_ref:
        return reject(number, "PieceRef", "", "value_missing")
    if piece_ref in first_line_of:
        return reject(
            number,
            "PieceRef",
            piece_ref,
            "duplicate_due_date",
            piece_ref=piece_ref,
            first_line=first_line_of[piece_ref],
        )
    return None


# --- First pass: parse and validate lines ------------------------------------------


def _read_records(options: _Options, stats: FecStats) -> Iterator[Record]:
    ledger = _Ledger()
    with open(options.path, encoding=options.encoding) as handle:
        lines = checked_lines(handle, options.path, options.encoding)
        next(lines)  # the header, checked by read_fec
        for number, text in enumerate(lines, start=2):
            _read_line(number, text, options, ledger, stats)

    items, rejections = _build_items(ledger, options, stats)
    rejections = ledger.rejections + rejections
    stats.rejections = len(rejections)
    stats.items = len(items)
    records: list[Record] = [*rejections, *items]
    yield from sorted(records, key=lambda record: record.line)


def _read_line(
    number: int, text: str, options: _Options, ledger: _Ledger, stats: FecStats
) -> None:
    fields = text.rstrip("\r\n").split(options.separator)
    if not any(field.strip() for field in fields):
        stats.lines_blank += 1
        return
    stats.lines_read += 1

    account_position = options.column_index["CompteNum"]
    account = fields[account_position].strip() if len(fields) > account_position else ""
    if account and not account.startswith(options.account_prefixes):
        stats.lines_ignored_not_receivable += 1
        return

    fields = _without_trailing_empty(fields, options.column_count)
    if len(fields) != options.column_count:
        rejection = reject(
            number,
            WHOLE_LINE,
            text.rstrip("\r\n")[:200],
            "field_count",
            found=len(fields),
            expected=options.column_count,
            separator=describe_separator(options.separator),
        )
        _add_rejections(ledger, stats, [rejection])
        return

    row = {
        column: fields[index].strip() for column, index in options.column_index.items()
    }
    if not account:
        _add_rejections(
            ledger, stats, [reject(number, "CompteNum", "", "value_missing")]
        )
        return
    _read_receivable(number, row, options, ledger, stats)


def _without_trailing_empty(fields: list[str], count: int) -> list[str]:
    """Drop empty fields beyond ``count``, left by a separator at the end of a line."""
    while len(fields) > count and not fields[-1].strip():
        fields = fields[:-1]
    return fields


def _add_rejections(
    ledger: _Ledger, stats: FecStats, rejections: list[Rejection]
) -> None:
    ledger.rejections.extend(rejections)
    stats.lines_rejected += 1


class _RowParser:
    """Field parser for one row that collects a rejection for each bad field."""

    def __init__(
        self, number: int, row: dict[str, str], years: tuple[int, int]
    ) -> None:
        self.number = number
        self.row = row
        self.years = years
        self.rejections: list[Rejection] = []

    def add(self, column: str, code: str, **params: object) -> None:
        self.rejections.append(
            reject(self.number, column, self.row[column], code, **params)
        )

    def date(self, column: str, *, required: bool) -> dt.date | None:
        if not self.row[column] and not required:
            return None
        try:
            return parse_date(self.row[column], FEC_DATE, self.years)
        except ParseError as error:
            self.add(column, error.code, **error.params)
            return None

    def amount(self, column: str) -> Decimal | None:
        """Parse a Debit or Credit amount, reading an empty field as zero."""
        if not self.row[column]:
            return Decimal("0.00")
        try:
            return parse_amount(self.row[column], FEC_NUMBERS)
        except ParseError as error:
            self.add(column, error.code, **error.params)
            return None


def _read_receivable(
    number: int,
    row: dict[str, str],
    options: _Options,
    ledger: _Ledger,
    stats: FecStats,
) -> None:
    parser = _RowParser(number, row, options.years)
    customer_id = row["CompAuxNum"] or row["CompteNum"]
    if row["CompAuxNum"]:
        customer_name = row["CompAuxLib"] or row["CompAuxNum"]
    else:
        customer_name = row["CompteLib"] or row["CompteNum"]

    entry_date = parser.date("EcritureDate", required=True)
    if entry_date is not None and row["EcritureLet"]:
        key = (customer_id, row["EcritureLet"])
        ledger.letter_dates[key] = max(
            entry_date, ledger.letter_dates.get(key, entry_date)
        )
    if entry_date is not None and entry_date > options.as_of:
        stats.lines_skipped_after_as_of += 1
        return

    side_amount = _side_and_amount(parser)
    piece_date = parser.date("PieceDate", required=False)
    letter_date = parser.date("DateLet", required=False)
    if entry_date is not None and letter_date is not None and letter_date < entry_date:
        parser.add(
            "DateLet",
            "date_before",
            other_field="EcritureDate",
            other_value=row["EcritureDate"],
        )
    is_opening = _is_opening(row["JournalCode"], row["EcritureLib"])
    if not is_opening and not row["PieceRef"]:
        parser.add("PieceRef", "value_missing")

    if parser.rejections or entry_date is None or side_amount is None:
        _add_rejections(ledger, stats, parser.rejections)
        return
    duplicate = _duplicate_of(number, row, side_amount, ledger)
    if duplicate is not None:
        _add_rejections(ledger, stats, [duplicate])
        return

    side, amount = side_amount
    entry = _Entry(
        line=number,
        journal_code=row["JournalCode"],
        label=row["EcritureLib"],
        entry_date=entry_date,
        customer_id=customer_id,
        customer_name=customer_name,
        piece_ref=row["PieceRef"],
        piece_date=piece_date,
        side=side,
        amount=amount,
        letter=row["EcritureLet"],
        letter_date=letter_date,
        is_opening=is_opening and not _has_invoice_reference(row),
    )
    ledger.entries.append(entry)
    stats.lines_accepted += 1


def _side_and_amount(parser: _RowParser) -> tuple[str, Decimal] | None:
    """Return ("D" or "C", positive amount), rejecting lines with both or neither.

    A negative amount counts on the other side: a Debit of -100 is a credit of 100,
    as some ledgers write reversals.
    """
    debit = parser.amount("Debit")
    credit = parser.amount("Credit")
    if debit is None or credit is None:
        return None
    if debit != 0 and credit != 0:
        parser.add(
            "Debit",
            "debit_and_credit",
            debit=parser.row["Debit"],
            credit=parser.row["Credit"],
        )
        return None
    net = debit - credit
    if net == 0:
        parser.add("Debit", "no_debit_or_credit")
        return None
    return ("D", net) if net > 0 else ("C", -net)


def _duplicate_of(
    number: int, row: dict[str, str], side_amount: tuple[str, Decimal], ledger: _Ledger
) -> Rejection | None:
    """Reject a line equal to an earlier one on the columns of DUPLICATE_KEY_COLUMNS.

    Amounts are compared by value, so 100,00 and 0100,00 are the same.
    """
    key = (
        row["JournalCode"],
        row["EcritureNum"],
        row["CompteNum"],
        row["PieceRef"],
        side_amount,
    )
    first_line = ledger.first_line_of.setdefault(key, number)
    if first_line == number:
        return None
    return reject(
        number,
        WHOLE_LINE,
        row["EcritureNum"],
        "duplicate_line",
        first_line=first_line,
        key_columns=DUPLICATE_KEY_COLUMNS,
    )


def _fold(text: str) -> str:
    """Lower-case ``text`` and strip its accents, for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().replace("-", " ").split())


def _is_opening(journal_code: str, label: str) -> bool:
    if journal_code.upper() in OPENING_JOURNALS:
        return True
    return _fold(label).startswith(OPENING_LABEL_PREFIXES)


def _has_invoice_reference(row: dict[str, str]) -> bool:
    piece_ref = row["PieceRef"]
    if not piece_ref or piece_ref.casefold() == row["JournalCode"].casefold():
        return False
    return OPENING_REFERENCE.fullmatch(piece_ref) is None


# --- Second pass: documents, opening balances, settlement --------------------------


def _build_items(
    ledger: _Ledger, options: _Options, stats: FecStats
) -> tuple[list[LegacyItem], list[Rejection]]:
    documents: dict[tuple[str, str, str], list[_Entry]] = defaultdict(list)
    openings: dict[str, list[_Entry]] = defaultdict(list)
    for entry in ledger.entries:
        if entry.is_opening:
            openings[entry.customer_id].append(entry)
        else:
            documents[(entry.customer_id, entry.piece_ref, entry.side)].append(entry)

    items: list[LegacyItem] = []
    rejections: list[Rejection] = []
    for entries in documents.values():
        stats.lines_merged += len(entries) - 1
        record = _document_item(entries, ledger, options, stats)
        if isinstance(record, Rejection):
            rejections.append(record)
        else:
            items.append(record)
    for entries in openings.values():
        stats.opening_lines += len(entries)
        item = _opening_item(entries, ledger, options)
        if item is None:
            stats.opening_balances_zero += 1
        else:
            items.append(item)

    if options.credit_exceeds_debt == "reject":
        items, excess = reject_excess_credits(items, field="Credit")
        stats.credits_rejected_over_debt = len(excess)
        rejections += excess
    return items, rejections


def _settled_date(entry: _Entry, ledger: _Ledger, as_of: dt.date) -> dt.date | None:
    """Return the date the line was lettered, or None when it is open on ``as_of``.

    When EcritureLet is set without DateLet, the lettering date is taken as the
    latest EcritureDate among the customer's lines with that letter, including lines
    booked after ``as_of``: the letter closed when its last line was booked.
    NOTE: some ledgers mark partial lettering with lower-case letters. This reader
    does not know that convention and treats such lines as settled.
    """
    if not entry.letter:
        return None
    settled = (
        entry.letter_date or ledger.letter_dates[(entry.customer_id, entry.letter)]
    )
    return settled if settled <= as_of else None


def _open_part(
    entries: list[_Entry], ledger: _Ledger, as_of: dt.date
) -> tuple[Decimal, dt.date | None]:
    """Return the signed amount and settled date of a group of lines on ``as_of``.

    The group is settled when every line is, on the latest of their dates, and then
    counts in full. Otherwise it is open and counts only its open lines, because the
    settled lines were matched against payments that are not open either.
    NOTE: a document with both settled and open lines thus loses the settled part.
    """
    settled_dates = [_settled_date(entry, ledger, as_of) for entry in entries]
    if all(settled_dates):
        total = sum((entry.signed_amount for entry in entries), Decimal("0.00"))
        return total, max(settled_dates)
    open_entries = [
        e for e, settled in zip(entries, settled_dates, strict=True) if not settled
    ]
    return sum((entry.signed_amount for entry in open_entries), Decimal("0.00")), None


def _document_item(
    entries: list[_Entry], ledger: _Ledger, options: _Options, stats: FecStats
) -> LegacyItem | Rejection:
    first = min(entries, key=lambda entry: entry.line)
    issue_date = min(entry.piece_date or entry.entry_date for entry in entries)
    signed_amount, settled_date = _open_part(entries, ledger, options.as_of)
    is_credit = first.side == "C"

    if is_credit:
        kind = _credit_kind(first)
        due_date = issue_date
    else:
        kind = ItemKind.INVOICE
        due_date = _due_date(first.piece_ref, issue_date, options, stats)
        if due_date < issue_date:
            issue_column = "PieceDate" if first.piece_date else "EcritureDate"
            return reject(
                first.line,
                "DueDate",
                f"{due_date:%Y%m%d}",
                "date_before",
                other_field=issue_column,
                other_value=f"{issue_date:%Y%m%d}",
            )

    return LegacyItem(
        line=first.line,
        legacy_id=_legacy_id(first.customer_id, first.piece_ref, first.side),
        customer_legacy_id=first.customer_id,
        customer_name=first.customer_name,
        team=options.team_of(first.customer_id),
        kind=kind,
        document=first.piece_ref,
        issue_date=issue_date,
        due_date=due_date,
        amount=abs(signed_amount),
        settled_date=settled_date,
        is_credit=is_credit,
    )


def _credit_kind(entry: _Entry) -> ItemKind:
    """Classify a credit line: PAYMENT from a bank or cash journal, else CREDIT_NOTE.

    A bank or cash journal has a code starting with BQ, BNK or CA. A credit whose
    EcritureLib mentions règlement, virement, chèque, paiement, prélèvement or
    encaissement (accents and case ignored) is a payment from any journal.
    """
    if entry.journal_code.upper().startswith(BANK_JOURNAL_PREFIXES):
        return ItemKind.PAYMENT
    label = _fold(entry.label)
    if any(word in label for word in PAYMENT_WORDS):
        return ItemKind.PAYMENT
    return ItemKind.CREDIT_NOTE


def _due_date(
    piece_ref: str, issue_date: dt.date, options: _Options, stats: FecStats
) -> dt.date:
    if piece_ref in options.due_dates:
        stats.due_dates_from_file += 1
        return options.due_dates[piece_ref]
    stats.due_dates_from_term += 1
    return options.payment_term.due_date(issue_date)


def _opening_item(
    entries: list[_Entry], ledger: _Ledger, options: _Options
) -> LegacyItem | None:
    """Net a customer's opening lines into one OPENING item, or None when it is zero.

    The item is due on its issue date, the earliest EcritureDate of the lines,
    because the invoices behind an opening balance are older than the balance.
    """
    first = min(entries, key=lambda entry: entry.line)
    issue_date = min(entry.entry_date for entry in entries)
    net, settled_date = _open_part(entries, ledger, options.as_of)
    if net == 0:
        return None
    return LegacyItem(
        line=first.line,
        legacy_id=join_legacy_id(
            SOURCE, first.customer_id, "opening", f"{issue_date:%Y%m%d}"
        ),
        customer_legacy_id=first.customer_id,
        customer_name=first.customer_name,
        team=options.team_of(first.customer_id),
        kind=ItemKind.OPENING,
        document=first.piece_ref or first.journal_code,
        issue_date=issue_date,
        due_date=issue_date,
        amount=abs(net),
        settled_date=settled_date,
        is_credit=net < 0,
    )


def _legacy_id(customer_id: str, piece_ref: str, side: str) -> str:
    """Return ``fec:{customer}:{PieceRef}:{D|C}``.

    EcritureNum is left out on purpose: a document may sum several entries, and an
    invoice carried into the next year's opening entries keeps its PieceRef but not
    its EcritureNum, so this id stays the same across years.
    NOTE: a ledger that restarts PieceRef numbering each year without a year in the
    reference gives two documents the same id across years.
    """
    return join_legacy_id(SOURCE, customer_id, piece_ref, side)
