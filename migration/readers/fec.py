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
  ``_is_payment``). Several lines are summed into one document.
- Opening-balance lines (à-nouveaux) without an invoice reference are netted into one
  OPENING item per customer. Opening lines with a PieceRef are ordinary documents.
- Lines booked after the as-of date are skipped, because they were not yet in the
  books on that date. Lines on other accounts are counted and ignored unvalidated.
- A line is settled when it is lettered (EcritureLet) on or before the as-of date,
  and open otherwise (see ``fec_documents.settled_dates``).

Records come out sorted by line once the whole file has been read, because documents,
opening balances and settlement dates can only be built from all the lines.

The first pass reads the file in blocks (``fec_text``) and checks the plain lines
with whole-column operations (``_check_columns``). A line those checks cannot vouch
for, such as a line with a bad field, an unusual amount or the wrong field count,
goes through the line-by-line parser ``_read_line``, which gives the rejections. The
second pass (``fec_documents``) builds the documents.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import numpy as np
import pandas as pd

from migration.checks import reject_excess_credits
from migration.item_table import ItemTable
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
from migration.readers import DetectedFormat, Detection, ReadResult
from migration.readers.fec_columns import (
    READ_COLUMNS,
    BlockCheck,
    BlockRules,
    check_block,
)
from migration.readers.fec_documents import SOURCE, DocumentRules, build_items
from migration.readers.fec_rules import (
    has_invoice_reference,
    is_opening,
    is_payment,
    without_trailing_empty,
)
from migration.readers.fec_text import TextBlock, read_blocks, supports_encoding
from migration.records import Rejection

__all__ = ["SOURCE", "FecStats", "load_due_dates", "read_fec"]

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
    """One receivable line accepted by the line-by-line parser."""

    line: int
    journal_code: str
    ecriture_num: str
    account: str
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
    is_payment: bool


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
    """Entries, rejections and lettering of the lines parsed one by one."""

    entries: list[_Entry] = dataclasses.field(default_factory=list)
    rejections: list[Rejection] = dataclasses.field(default_factory=list)
    # (customer, EcritureLet, EcritureDate) of each dated lettered line.
    letters: list[tuple[str, str, dt.date]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Lines:
    """Lines kept by the first pass, and its counters."""

    stats: FecStats = dataclasses.field(default_factory=FecStats)
    ledger: _Ledger = dataclasses.field(default_factory=_Ledger)
    entry_frames: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    letter_frames: list[pd.DataFrame] = dataclasses.field(default_factory=list)

    def add(self, check: BlockCheck) -> None:
        """Add what ``check_block`` handled in one block."""
        self.stats.lines_read += check.lines_read
        self.stats.lines_ignored_not_receivable += check.lines_ignored
        self.stats.lines_skipped_after_as_of += check.lines_skipped
        if check.entries is not None:
            self.entry_frames.append(check.entries)
        if check.letters is not None:
            self.letter_frames.append(check.letters)

    def entries(self) -> pd.DataFrame:
        """Return the accepted lines in line order, with ``fec_documents`` columns.

        The columns ecriture_num and account serve the duplicate check.
        """
        frames = [*self.entry_frames, _entry_frame(self.ledger.entries)]
        entries = pd.concat(frames, ignore_index=True)
        if self.ledger.entries:
            entries = entries.sort_values("line", kind="stable", ignore_index=True)
        entries["customer_code"] = pd.factorize(entries["customer_id"])[0]
        entries["piece_code"] = pd.factorize(entries["piece_ref"])[0]
        return entries

    def letters(self) -> pd.DataFrame:
        """Return (customer_id, letter, entry_date) of every dated lettered line."""
        letters = self.ledger.letters
        parsed = pd.DataFrame(
            {
                "customer_id": pd.Series([row[0] for row in letters], dtype=object),
                "letter": pd.Series([row[1] for row in letters], dtype=object),
                "entry_date": np.array(
                    [row[2] for row in letters], dtype="datetime64[D]"
                ),
            }
        )
        return pd.concat([*self.letter_frames, parsed], ignore_index=True)


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
    return ReadResult(
        None, stats, detected, read_table=lambda: _read_table(options, stats)
    )


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


def _read_table(
    options: _Options, stats: FecStats
) -> tuple[ItemTable, list[Rejection]]:
    """Read the whole file: the items and the rejections, each in line order."""
    lines = _first_pass(options)
    entries, duplicates = _without_duplicates(lines.entries())
    rules = DocumentRules(
        as_of=options.as_of,
        payment_term=options.payment_term,
        due_dates=options.due_dates,
        team_of=options.team_of,
    )
    items, rejections, counts = build_items(entries, lines.letters(), rules)
    for name, value in dataclasses.asdict(counts).items():
        setattr(lines.stats, name, value)
    if options.credit_exceeds_debt == "reject":
        allowed, excess = reject_excess_credits(items.to_items(), field="Credit")
        items = ItemTable.from_items(allowed)
        lines.stats.credits_rejected_over_debt = len(excess)
        rejections += excess

    lines.stats.lines_rejected += len(duplicates)
    lines.stats.lines_accepted = len(entries)
    lines.stats.rejections = len(lines.ledger.rejections + duplicates + rejections)
    lines.stats.items = len(items)
    for field in dataclasses.fields(FecStats):
        setattr(stats, field.name, getattr(lines.stats, field.name))
    # Line rejections first, so that a stable sort keeps them before later ones.
    everything = lines.ledger.rejections + duplicates + rejections
    return items, sorted(everything, key=attrgetter("line"))


def _first_pass(options: _Options) -> _Lines:
    """Check every line, by whole columns where the encoding allows, else one by one."""
    if supports_encoding(options.encoding):
        lines = _Lines()
        rules = BlockRules(
            as_of=options.as_of,
            years=options.years,
            account_prefixes=options.account_prefixes,
            width=options.column_count,
            separator=options.separator,
        )
        try:
            blocks = read_blocks(
                options.path,
                encoding=options.encoding,
                separator=options.separator,
                width=options.column_count,
                columns={options.column_index[name]: name for name in READ_COLUMNS},
            )
            for block in blocks:
                _read_block(block, options, rules, lines)
            return lines
        except UnicodeDecodeError:
            pass  # reading line by line raises ReaderError with the line number
    lines = _Lines()
    with open(options.path, encoding=options.encoding) as handle:
        texts = checked_lines(handle, options.path, options.encoding)
        next(texts)  # the header, checked by read_fec
        for number, text in enumerate(texts, start=2):
            _read_line(number, text, options, lines.ledger, lines.stats)
    return lines


def _read_block(
    block: TextBlock, options: _Options, rules: BlockRules, lines: _Lines
) -> None:
    in_python = np.ones(len(block.lines), dtype=bool)
    if block.frame is not None:
        check = check_block(block, rules)
        lines.add(check)
        in_python = ~check.handled
    for index in np.flatnonzero(in_python).tolist():
        number = block.first_line + index
        _read_line(number, block.text(index), options, lines.ledger, lines.stats)


# --- First pass line by line -------------------------------------------------------


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

    fields = without_trailing_empty(fields, options.column_count)
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
    """Parse a receivable line into an entry, or record its rejections.

    Duplicate lines are rejected later, over all accepted lines.
    """
    parser = _RowParser(number, row, options.years)
    customer_id = row["CompAuxNum"] or row["CompteNum"]
    if row["CompAuxNum"]:
        customer_name = row["CompAuxLib"] or row["CompAuxNum"]
    else:
        customer_name = row["CompteLib"] or row["CompteNum"]

    entry_date = parser.date("EcritureDate", required=True)
    if entry_date is not None and row["EcritureLet"]:
        ledger.letters.append((customer_id, row["EcritureLet"], entry_date))
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
    opening = is_opening(row["JournalCode"], row["EcritureLib"])
    if not opening and not row["PieceRef"]:
        parser.add("PieceRef", "value_missing")

    if parser.rejections or entry_date is None or side_amount is None:
        _add_rejections(ledger, stats, parser.rejections)
        return

    side, amount = side_amount
    has_reference = has_invoice_reference(row["PieceRef"], row["JournalCode"])
    entry = _Entry(
        line=number,
        journal_code=row["JournalCode"],
        ecriture_num=row["EcritureNum"],
        account=row["CompteNum"],
        entry_date=entry_date,
        customer_id=customer_id,
        customer_name=customer_name,
        piece_ref=row["PieceRef"],
        piece_date=piece_date,
        side=side,
        amount=amount,
        letter=row["EcritureLet"],
        letter_date=letter_date,
        is_opening=opening and not has_reference,
        is_payment=side == "C" and is_payment(row["JournalCode"], row["EcritureLib"]),
    )
    ledger.entries.append(entry)


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


def _entry_frame(entries: list[_Entry]) -> pd.DataFrame:
    """Return entries of the line-by-line parser as columns like ``check_block``'s."""

    def column(name: str) -> list:
        return [getattr(entry, name) for entry in entries]

    cents = [int(entry.amount.scaleb(2)) for entry in entries]
    return pd.DataFrame(
        {
            "line": np.array(column("line"), dtype=np.int64),
            "journal_code": pd.Series(column("journal_code"), dtype=object),
            "ecriture_num": pd.Series(column("ecriture_num"), dtype=object),
            "account": pd.Series(column("account"), dtype=object),
            "customer_id": pd.Series(column("customer_id"), dtype=object),
            "customer_name": pd.Series(column("customer_name"), dtype=object),
            "piece_ref": pd.Series(column("piece_ref"), dtype=object),
            "piece_date": np.array(column("piece_date"), dtype="datetime64[D]"),
            "entry_date": np.array(column("entry_date"), dtype="datetime64[D]"),
            "is_debit": np.array([side == "D" for side in column("side")], dtype=bool),
            "cents": _integers(cents),
            "letter": pd.Series(column("letter"), dtype=object),
            "letter_date": np.array(column("letter_date"), dtype="datetime64[D]"),
            "is_opening": np.array(column("is_opening"), dtype=bool),
            "is_payment": np.array(column("is_payment"), dtype=bool),
        }
    )


def _integers(values: list[int]) -> np.ndarray:
    """Return ``values`` as int64, or as Python ints when one does not fit."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=object)


def _without_duplicates(
    entries: pd.DataFrame,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Reject each line equal to an earlier one on the columns of DUPLICATE_KEY_COLUMNS.

    Amounts are compared by value, so 100,00 and 0100,00 are the same. Only lines
    with the same PieceRef, side and amount can be equal, so the other columns are
    compared for those lines only.
    """
    maybe = entries.duplicated(["piece_code", "is_debit", "cents"], keep=False)
    if not maybe.any():
        return entries, []
    first_line_of: dict[tuple, int] = {}
    rejections: list[Rejection] = []
    repeated: list[int] = []
    key_columns = ["journal_code", "ecriture_num", "account", "piece_ref"]
    candidates = entries.loc[maybe, ["line", *key_columns, "is_debit", "cents"]]
    for index, line, *key in candidates.itertuples(name=None):
        first_line = first_line_of.setdefault(tuple(key), int(line))
        if first_line == line:
            continue
        ecriture_num = key[1]
        rejections.append(
            reject(
                int(line),
                WHOLE_LINE,
                ecriture_num,
                "duplicate_line",
                first_line=first_line,
                key_columns=DUPLICATE_KEY_COLUMNS,
            )
        )
        repeated.append(index)
    return entries.drop(index=repeated).reset_index(drop=True), rejections
