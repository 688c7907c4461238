"""Reader for any CSV or Excel export, described by a YAML column mapping.

The mapping names the file's column for each field of ``FIELDS`` and may set how the
file is written (encoding, separator, decimal mark, thousands separator, date format,
rows to skip, sheet). Every setting it leaves out is detected from the file, and
``detect_format`` returns what was chosen so that the operator can check it before
an import. ``migration/profiles/example-mapping.yaml`` shows every key.

Each row is one document. How a row becomes items:

- Kind comes from the kind column through ``kind_values``. Without a kind column, a
  negative amount is a credit note and any other amount an invoice.
- Credit notes and payments are credits (``is_credit``), whatever the sign of their
  amount. An opening balance is a credit when its amount is negative. An invoice with
  a negative amount is rejected when a kind column exists.
- Rows issued after the as-of date are skipped, because they did not exist yet.
- The open amount is taken as the open amount on the as-of date.
- The settled date column is read as the date of the row's last payment, because
  exports usually have one such column ("date du dernier règlement") for paid and
  partly paid documents alike. A row is settled when its open amount is 0 (or not
  mapped) and that date is on or before the as-of date. A row with nothing paid
  (open amount equal to the amount) and such a date is rejected.
- A row whose date is after the as-of date is open for its full amount on the as-of
  date, whatever its open amount, because the export does not show how much of it
  was paid by then.
- A partly paid invoice (0 < open amount < amount) gives the invoice for its full
  amount plus a PAYMENT item for the paid part, with the same document number and
  the legacy id suffix ``PAID_PART_SUFFIX``. The paid part is dated on the row's
  date. The loader allocates it to the invoice, so the invoice's open amount in
  Cadence is the export's open amount. A partly used credit note or payment is
  emitted for its open amount only.
- A payment the export does not date (a row with open amount 0, or a paid part,
  without a date) is dated on the mapping's ``assumed_payment_date``: ``as_of``
  (the default) or ``due_date``. Its item has ``payment_date_assumed`` set, and
  ``MappedStats`` counts them, so that the run report can show how many dates
  were assumed. See ``ASSUMED_PAYMENT_DATES`` for why ``as_of`` is the default.
- A rejected row's rejections name its customer and document (``Rejection.customer``
  and ``Rejection.document``) when their cells are not empty, so that a run that
  accepts rejections leaves that document's ledger rows as they are.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import yaml

from migration.messages import ReaderError, reject
from migration.parsing import (
    CENT,
    CENT_PLACES,
    DEFAULT_YEARS,
    SEPARATOR_CANDIDATES,
    THOUSANDS_MARKS,
    NumberFormat,
    ParseError,
    PaymentTerm,
    check_date_range,
    checked_lines,
    choose_encoding,
    describe_date_format,
    describe_separator,
    detect_date_format,
    detect_number_format,
    normalize_date_format,
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
from migration.records import PAID_PART_SUFFIX, ItemKind, LegacyItem, Rejection

DEFAULT_SOURCE = "mapped"
FIELDS = (
    "customer_id",
    "customer_name",
    "team",
    "country",
    "document",
    "kind",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "settled_date",
    "disputed",
    "currency",
)
FIELD_ALIASES = {"invoice_number": "document"}
REQUIRED_FIELDS = ("customer_id", "document", "issue_date", "amount")
AMOUNT_FIELDS = ("amount", "open_amount")
DATE_FIELDS = ("issue_date", "due_date", "settled_date")
MAPPING_KEYS = (
    "columns",
    "kind_values",
    "disputed_values",
    "encoding",
    "separator",
    "decimal",
    "thousands",
    "date_format",
    "skip_rows",
    "sheet",
    "payment_term",
    "source",
    "date_range",
    "customers",
    "credit_exceeds_debt",
    "assumed_payment_date",
)
# Values of assumed_payment_date: the date given to a payment that the export does
# not date. The as-of date is the default because it is the latest date the payment
# can have, so the assumption never makes a customer look like a faster payer than
# it was. The due date suits exports of customers who mostly pay on time. It is
# capped at the as-of date, because no payment is later than the export.
ASSUMED_PAYMENT_DATES = ("as_of", "due_date")
# Values of the customers key: any customer, or only customers already in Cadence.
CUSTOMER_POLICIES = ("any", "existing_only")
CREDIT_POLICIES = ("allow", "reject")
SEPARATOR_ALIASES = {
    "tab": "\t",
    "\\t": "\t",
    "pipe": "|",
    "semicolon": ";",
    "comma": ",",
}
DEFAULT_DISPUTED_VALUES = ("1", "true", "yes", "y", "x", "oui", "o", "vrai")
CREDIT_KINDS = (ItemKind.CREDIT_NOTE, ItemKind.PAYMENT)
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# Amount-like and date-like texts, used to find those columns when there is no mapping.
_AMOUNT_LIKE = re.compile(
    r"[+\-\u2212]?[\d .,'\u2019\u00a0\u202f]*\d[\d .,'\u2019\u00a0\u202f]*-?"
)
_SNIFF_LINES = 20
# Float noise tolerated when an Excel number cell is read as cents, e.g. 0.1 + 0.2.
_FLOAT_NOISE = Decimal("0.000001")


@dataclasses.dataclass(frozen=True)
class ExportMapping:
    """A validated mapping: file columns per field and the reading settings given."""

    columns: dict[str, str]
    kind_values: dict[str, ItemKind]  # file value, as the mapping writes it, to kind
    disputed_values: frozenset[str]  # case-folded file values meaning disputed
    encoding: str | None = None
    separator: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    thousands_given: bool = False  # True when the mapping sets thousands, even to none
    date_format: str | None = None
    skip_rows: int = 0
    sheet: str | int | None = None  # a sheet name, or its position from 1
    payment_term: PaymentTerm | None = None
    source: str = DEFAULT_SOURCE
    years: tuple[int, int] = DEFAULT_YEARS
    # Checked by the importer against the database and the whole file, not per row.
    customers: str = "any"
    credit_exceeds_debt: str = "allow"
    assumed_payment_date: str = "as_of"  # one of ASSUMED_PAYMENT_DATES

    def kind_of(self, value: str) -> ItemKind | None:
        """Return the kind of a kind-column value, ignoring case."""
        folded = value.casefold()
        for file_value, kind in self.kind_values.items():
            if file_value.casefold() == folded:
                return kind
        return None


@dataclasses.dataclass
class MappedStats:
    """Counters of one mapped read.

    ``lines_read`` equals ``lines_skipped_after_as_of + lines_rejected +
    lines_accepted``. ``items`` can exceed ``lines_accepted`` by the partial payments.
    ``settled_dates_assumed`` counts the settled rows without a date, and
    ``paid_part_dates_assumed`` the paid parts without one.
    """

    lines_read: int = 0  # data rows, without the header, skipped rows and blank rows
    lines_blank: int = 0
    lines_skipped_after_as_of: int = 0
    lines_rejected: int = 0
    lines_accepted: int = 0
    rejections: int = 0
    items: int = 0
    partial_payments: int = 0
    settled_dates_assumed: int = 0
    paid_part_dates_assumed: int = 0
    due_dates_from_term: int = 0


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Reading settings of one file: the mapping's settings completed by detection."""

    file_type: str
    encoding: str | None
    separator: str | None
    number_format: NumberFormat
    date_format: str | None
    columns: tuple[str, ...]


# --- Mapping -----------------------------------------------------------------------


def load_mapping(
    mapping: ExportMapping | Mapping[str, Any] | str | Path,
) -> ExportMapping:
    """Validate a mapping given as a dict or as a YAML file path.

    Raises ReaderError naming the first unknown key, unknown field, missing required
    field or invalid setting. An ExportMapping is returned as it is.
    """
    if isinstance(mapping, ExportMapping):
        return mapping
    if isinstance(mapping, str | Path):
        mapping = _load_yaml(Path(mapping))
    if not isinstance(mapping, Mapping) or "columns" not in mapping:
        raise ReaderError("mapping_not_a_dict", found=type(mapping).__name__)
    for key in mapping:
        if key not in MAPPING_KEYS:
            raise ReaderError("mapping_key_unknown", key=key, allowed=MAPPING_KEYS)

    columns = _columns_of(mapping["columns"])
    payment_term = None
    if mapping.get("payment_term") is not None:
        payment_term = parse_payment_term(str(mapping["payment_term"]))
    if "due_date" not in columns and payment_term is None:
        raise ReaderError("mapping_due_date_source")
    thousands = _thousands_of(mapping)
    return ExportMapping(
        columns=columns,
        kind_values=_kind_values_of(mapping.get("kind_values")),
        disputed_values=_disputed_values_of(mapping.get("disputed_values")),
        encoding=_optional_text(mapping, "encoding"),
        separator=_separator_of(mapping.get("separator")),
        decimal=_decimal_of(mapping.get("decimal")),
        thousands=thousands,
        thousands_given="thousands" in mapping,
        date_format=_date_format_of(mapping.get("date_format")),
        skip_rows=_skip_rows_of(mapping.get("skip_rows", 0)),
        sheet=mapping.get("sheet"),
        payment_term=payment_term,
        source=_optional_text(mapping, "source") or DEFAULT_SOURCE,
        years=_years_of(mapping.get("date_range", DEFAULT_YEARS)),
        customers=_choice_of(mapping, "customers", CUSTOMER_POLICIES),
        credit_exceeds_debt=_choice_of(mapping, "credit_exceeds_debt", CREDIT_POLICIES),
        assumed_payment_date=_choice_of(
            mapping, "assumed_payment_date", ASSUMED_PAYMENT_DATES
        ),
    )


def _choice_of(mapping: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    """Return the value of ``key``, one of ``choices``; the first one by default."""
    value = mapping.get(key, choices[0])
    if value not in choices:
        raise _invalid(key, value, " or ".join(choices))
    return value


def _load_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ReaderError("mapping_unreadable", path=path, problem=error) from None


def _invalid(key: str, value: object, expected: str) -> ReaderError:
    return ReaderError("option_invalid", key=key, value=repr(value), expected=expected)


def _columns_of(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise _invalid("columns", raw, "a mapping of field names to column names")
    columns: dict[str, str] = {}
    for key, column in raw.items():
        field = FIELD_ALIASES.get(key, key)
        if field not in FIELDS:
            allowed = [*FIELDS, *FIELD_ALIASES]
            raise ReaderError("mapping_field_unknown", field=key, allowed=allowed)
        if not isinstance(column, str | int) or not str(column).strip():
            raise _invalid(f"columns.{key}", column, "a column name")
        columns[field] = str(column).strip()
    for field in REQUIRED_FIELDS:
        if field not in columns:
            raise ReaderError(
                "mapping_field_required", field=field, required=REQUIRED_FIELDS
            )
    return columns


def _kind_values_of(raw: object) -> dict[str, ItemKind]:
    """Map file values to kinds; by default the kind names map to themselves."""
    if raw is None:
        return {kind.value: kind for kind in ItemKind}
    if not isinstance(raw, Mapping):
        raise _invalid("kind_values", raw, "a mapping of file values to kinds")
    allowed = [kind.value for kind in ItemKind]
    result: dict[str, ItemKind] = {}
    for value, kind in raw.items():
        if kind not in allowed:
            raise ReaderError(
                "mapping_kind_unknown", value=value, kind=kind, allowed=allowed
            )
        result[str(value).strip()] = ItemKind(kind)
    return result


def _disputed_values_of(raw: object) -> frozenset[str]:
    if raw is None:
        return frozenset(DEFAULT_DISPUTED_VALUES)
    if not isinstance(raw, list):
        raise _invalid("disputed_values", raw, "a list of values meaning disputed")
    return frozenset(str(value).strip().casefold() for value in raw)


def _optional_text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(key, value, "a non-empty text")
    return value.strip()


def _separator_of(raw: object) -> str | None:
    if raw is None:
        return None
    separator = SEPARATOR_ALIASES.get(str(raw).lower(), raw)
    if not isinstance(separator, str) or len(separator) != 1:
        raise _invalid("separator", raw, "one character, or tab")
    return separator


def _decimal_of(raw: object) -> str | None:
    if raw is not None and raw not in (",", "."):
        raise _invalid("decimal", raw, ", or .")
    return raw


def _thousands_of(mapping: Mapping[str, Any]) -> str | None:
    raw = mapping.get("thousands")
    if raw in (None, ""):
        return None
    if raw not in THOUSANDS_MARKS or raw == mapping.get("decimal"):
        marks = " ".join(repr(mark) for mark in THOUSANDS_MARKS)
        raise _invalid("thousands", raw, f"one of {marks} other than decimal, or none")
    return raw


def _date_format_of(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _invalid("date_format", raw, "a pattern such as JJ/MM/AAAA or %d/%m/%Y")
    return normalize_date_format(raw)


def _skip_rows_of(raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise _invalid("skip_rows", raw, "a whole number of rows, 0 or more")
    return raw


def _years_of(raw: object) -> tuple[int, int]:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(year, int) for year in raw)
        or raw[0] > raw[1]
    ):
        raise _invalid("date_range", raw, "two years such as [1990, 2100]")
    return (raw[0], raw[1])


# --- Reading rows ------------------------------------------------------------------


def _file_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise ReaderError("file_type_unsupported", path=path, suffix=suffix or "(none)")


def _csv_rows(
    path: Path, encoding: str, separator: str, skip_rows: int
) -> Iterator[tuple[int, list[object]]]:
    """Yield (first physical line, cells) for the header and each record after it."""
    with open(path, encoding=encoding, newline="") as handle:
        lines = checked_lines(handle, path, encoding)
        for _ in range(skip_rows):
            next(lines, None)
        reader = csv.reader(lines, delimiter=separator)
        end_of_previous = 0  # physical lines consumed by the reader so far
        for cells in reader:
            yield skip_rows + end_of_previous + 1, list(cells)
            end_of_previous = reader.line_num


def _xlsx_rows(
    path: Path, sheet: str | int | None, skip_rows: int
) -> Iterator[tuple[int, list[object]]]:
    """Yield (row number, cell values) for the header and each row after it."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = _worksheet(workbook, path, sheet)
        rows = worksheet.iter_rows(values_only=True)
        for number, values in enumerate(rows, start=1):
            if number > skip_rows:
                yield number, list(values)
    finally:
        workbook.close()


def _worksheet(workbook: Any, path: Path, sheet: str | int | None) -> Any:
    names = workbook.sheetnames
    if sheet is None:
        return workbook.worksheets[0]
    if isinstance(sheet, int) and 1 <= sheet <= len(names):
        return workbook.worksheets[sheet - 1]
    if isinstance(sheet, str) and sheet in names:
        return workbook[sheet]
    raise ReaderError("sheet_missing", path=path, sheet=sheet, sheets=names)


def _table_rows(
    path: Path, mapping: ExportMapping, settings: _Settings
) -> Iterator[tuple[int, list[object]]]:
    if settings.file_type == "xlsx":
        return _xlsx_rows(path, mapping.sheet, mapping.skip_rows)
    assert settings.encoding is not None, "a CSV file always has a chosen encoding"
    assert settings.separator is not None, "a CSV file always has a chosen separator"
    return _csv_rows(path, settings.encoding, settings.separator, mapping.skip_rows)


def _cell_text(value: object) -> str:
    """Return a cell value as display text, as a spreadsheet would show it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return (
            value.date().isoformat() if value.time() == dt.time() else value.isoformat()
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_blank(cells: list[object]) -> bool:
    return all(_cell_text(cell) == "" for cell in cells)


# --- Detection ---------------------------------------------------------------------


def detect_format(
    path: str | Path, mapping: Mapping[str, Any] | str | Path | None = None
) -> DetectedFormat:
    """Detect how ``path`` is written, using the mapping's settings where it has them.

    Without a mapping, amount and date columns are recognised by their values.
    Ambiguous dates (every day 12 or less) are read day-first when amounts use a
    decimal comma or the file is ;-separated, and month-first otherwise.
    Raises ReaderError when the file or the mapping cannot be read, or when a mapped
    column is missing from the file.
    """
    path = Path(path)
    export_mapping = load_mapping(mapping) if mapping is not None else None
    settings, detected = _detect(path, export_mapping)
    if export_mapping is not None:
        _resolve_columns(path, export_mapping, settings.columns)
    return detected


def _detect(
    path: Path, mapping: ExportMapping | None
) -> tuple[_Settings, DetectedFormat]:
    file_type = _file_type(path)
    base = mapping or ExportMapping(
        columns={}, kind_values={}, disputed_values=frozenset()
    )
    details: dict[str, Detection] = {}

    encoding = separator = None
    if file_type == "csv":
        encoding, separator = _detect_csv_layout(path, base, details)
    else:
        details["sheet"] = Detection(
            str(base.sheet) if base.sheet is not None else None,
            "profile" if base.sheet is not None else "detected",
            None if base.sheet is not None else "first sheet",
        )
    provisional = _Settings(file_type, encoding, separator, NumberFormat(), None, ())
    rows = _table_rows(path, base, provisional)
    header = next(rows, None)
    if header is None:
        raise ReaderError("file_empty", path=path)
    columns = tuple(_cell_text(cell) for cell in header[1])
    values = _column_values(columns, rows)

    number_format = _detect_numbers(base, separator, columns, values, details)
    french = number_format.decimal == "," or separator == ";"
    date_format = _detect_dates(base, columns, values, french, details)
    settings = _Settings(
        file_type, encoding, separator, number_format, date_format, columns
    )
    detected = DetectedFormat(
        path=str(path), file_type=file_type, settings=details, columns=columns
    )
    return settings, detected


def _detect_csv_layout(
    path: Path, mapping: ExportMapping, details: dict[str, Detection]
) -> tuple[str, str]:
    choice = choose_encoding(path, mapping.encoding, fallback="cp1252")
    details["encoding"] = Detection(
        choice.encoding, "profile" if mapping.encoding else "detected", choice.note
    )
    if mapping.separator is not None:
        details["separator"] = Detection(
            describe_separator(mapping.separator), "profile"
        )
        return choice.encoding, mapping.separator

    with open(path, encoding=choice.encoding, newline="") as handle:
        sample = []
        for line in checked_lines(handle, path, choice.encoding):
            sample.append(line)
            if len(sample) >= mapping.skip_rows + _SNIFF_LINES:
                break
    sample = sample[mapping.skip_rows :]
    if not sample:
        raise ReaderError("file_empty", path=path)
    separator = sniff_separator(sample)
    if separator is None:
        names = [describe_separator(candidate) for candidate in SEPARATOR_CANDIDATES]
        raise ReaderError("separator_undetected", path=path, candidates=names)
    details["separator"] = Detection(describe_separator(separator), "detected")
    return choice.encoding, separator


def _column_values(
    columns: tuple[str, ...], rows: Iterator[tuple[int, list[object]]]
) -> list[list[object]]:
    """Return the non-empty values of each column."""
    values: list[list[object]] = [[] for _ in columns]
    for _, cells in rows:
        for index, cell in enumerate(cells[: len(columns)]):
            if _cell_text(cell):
                values[index].append(cell)
    return values


def _detect_numbers(
    mapping: ExportMapping,
    separator: str | None,
    columns: tuple[str, ...],
    values: list[list[object]],
    details: dict[str, Detection],
) -> NumberFormat:
    indexes = _mapped_indexes(mapping, columns, AMOUNT_FIELDS)
    if not mapping.columns:
        indexes = [i for i, column in enumerate(values) if _looks_like_amounts(column)]
    texts = [cell for i in indexes for cell in values[i] if isinstance(cell, str)]
    default_decimal = "." if separator == "," else ","
    detection = detect_number_format(texts, default_decimal=default_decimal)

    decimal = mapping.decimal or detection.number_format.decimal
    if mapping.thousands_given:
        thousands = mapping.thousands
    else:
        thousands = detection.number_format.thousands
        if thousands == decimal:
            thousands = None
    decimal_note = None if texts else "no amount text, so the default for this file"
    details["decimal"] = Detection(
        decimal,
        "profile" if mapping.decimal else "detected",
        None if mapping.decimal else (detection.note or decimal_note),
    )
    details["thousands"] = Detection(
        thousands, "profile" if mapping.thousands_given else "detected"
    )
    return NumberFormat(decimal=decimal, thousands=thousands)


def _detect_dates(
    mapping: ExportMapping,
    columns: tuple[str, ...],
    values: list[list[object]],
    french: bool,
    details: dict[str, Detection],
) -> str | None:
    if mapping.date_format is not None:
        details["date_format"] = Detection(mapping.date_format, "profile")
        return mapping.date_format
    indexes = _mapped_indexes(mapping, columns, DATE_FIELDS)
    if not mapping.columns:
        indexes = [i for i, column in enumerate(values) if _looks_like_dates(column)]
    texts = [
        _cell_text(cell)
        for i in indexes
        for cell in values[i]
        if not isinstance(cell, dt.date)
    ]
    if not texts:
        details["date_format"] = Detection(
            None, "detected", "dates are spreadsheet date cells or absent"
        )
        return None
    detection = detect_date_format(texts, prefer_day_first=french)
    details["date_format"] = Detection(
        detection.date_format, "detected", detection.note
    )
    return detection.date_format


def _mapped_indexes(
    mapping: ExportMapping, columns: tuple[str, ...], fields: tuple[str, ...]
) -> list[int]:
    """Return the positions of the mapped ``fields`` found in ``columns``."""
    keys = [_column_key(column) for column in columns]
    mapped_keys = {
        _column_key(mapping.columns[field])
        for field in fields
        if field in mapping.columns
    }
    return [index for index, key in enumerate(keys) if key in mapped_keys]


def _looks_like_amounts(cells: list[object]) -> bool:
    texts = [cell for cell in cells if isinstance(cell, str)]
    return (
        bool(texts)
        and all(_AMOUNT_LIKE.fullmatch(text.strip()) for text in texts)
        and any("," in text or "." in text for text in texts)
    )


def _looks_like_dates(cells: list[object]) -> bool:
    texts = [_cell_text(cell) for cell in cells if not isinstance(cell, dt.date)]
    if not texts:
        return False
    detection = detect_date_format(texts, prefer_day_first=True)
    return detection.date_format is not None and detection.unmatched == 0


# --- Row parsing -------------------------------------------------------------------


def read_mapped(
    path: str | Path,
    mapping: ExportMapping | Mapping[str, Any] | str | Path,
    *,
    as_of: dt.date,
) -> ReadResult[MappedStats]:
    """Read the export ``path`` described by ``mapping`` as its state on ``as_of``.

    Raises ReaderError at once for an invalid mapping, an unreadable file or a mapped
    column missing from the file. Rows are read when the result is first iterated.
    """
    path = Path(path)
    export_mapping = load_mapping(mapping)
    settings, detected = _detect(path, export_mapping)
    column_index = _resolve_columns(path, export_mapping, settings.columns)
    stats = MappedStats()
    context = _RowContext(export_mapping, settings, column_index, as_of)
    records = _read_records(path, context, stats)
    return ReadResult(records, stats, detected)


def _column_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _resolve_columns(
    path: Path, mapping: ExportMapping, columns: tuple[str, ...]
) -> dict[str, int]:
    """Return each mapped field's column position, matching names case-insensitively."""
    keys = [_column_key(column) for column in columns]
    index: dict[str, int] = {}
    for field, column in mapping.columns.items():
        positions = [i for i, key in enumerate(keys) if key == _column_key(column)]
        if not positions:
            raise ReaderError(
                "column_missing", column=column, field=field, columns=columns
            )
        if len(positions) > 1:
            raise ReaderError("column_ambiguous", column=column, field=field)
        index[field] = positions[0]
    return index


@dataclasses.dataclass(frozen=True)
class _RowContext:
    mapping: ExportMapping
    settings: _Settings
    column_index: dict[str, int]
    as_of: dt.date

    def column(self, field: str) -> str:
        return self.settings.columns[self.column_index[field]]


@dataclasses.dataclass(frozen=True)
class _Row:
    """The validated fields of one row."""

    line: int
    customer_id: str
    customer_name: str
    team: str | None
    country: str | None
    document: str
    kind: ItemKind | None
    issue_date: dt.date
    due_date: dt.date | None
    amount: Decimal
    open_amount: Decimal | None
    settled_date: dt.date | None
    disputed: bool
    currency: str


def _read_records(
    path: Path, context: _RowContext, stats: MappedStats
) -> Iterator[Record]:
    first_line_of: dict[tuple[str, str, str], int] = {}
    rows = _table_rows(path, context.mapping, context.settings)
    next(rows)  # the header, read by _detect
    for line, cells in rows:
        if _is_blank(cells):
            stats.lines_blank += 1
            continue
        stats.lines_read += 1
        records = _read_row(line, cells, context, first_line_of, stats)
        if records is None:
            stats.lines_skipped_after_as_of += 1
            continue
        if any(isinstance(record, Rejection) for record in records):
            stats.lines_rejected += 1
            stats.rejections += len(records)
            records = _with_document(records, cells, context)
        else:
            stats.lines_accepted += 1
            stats.items += len(records)
        yield from records


def _with_document(
    rejections: list[Record], cells: list[object], context: _RowContext
) -> list[Record]:
    """Name the rejected row's customer and document in its rejections.

    The cells are taken as text, as ``_CellParser.text`` reads them, so they match
    the legacy ids of the rows that an earlier import loaded for the document.
    """
    parser = _CellParser(0, cells, context)
    customer = parser.text("customer_id")
    document = parser.text("document")
    return [
        record.of_document(customer, document)
        for record in rejections
        if isinstance(record, Rejection)
    ]


class _CellParser:
    """Cell parser for one row that collects a rejection for each bad cell."""

    def __init__(self, line: int, cells: list[object], context: _RowContext) -> None:
        self.line = line
        self.cells = cells
        self.context = context
        self.rejections: list[Rejection] = []

    def is_mapped(self, field: str) -> bool:
        return field in self.context.column_index

    def raw(self, field: str) -> object:
        if not self.is_mapped(field):
            return None
        position = self.context.column_index[field]
        return self.cells[position] if position < len(self.cells) else None

    def add(self, field: str, code: str, **params: object) -> None:
        column = self.context.column(field)
        value = _cell_text(self.raw(field))
        self.rejections.append(reject(self.line, column, value, code, **params))

    def text(self, field: str, *, required: bool = False) -> str | None:
        value = _cell_text(self.raw(field))
        if not value:
            if required:
                self.add(field, "value_missing")
            return None
        return value

    def amount(self, field: str, *, required: bool) -> Decimal | None:
        raw = self.raw(field)
        number_format = self.context.settings.number_format
        try:
            return _cell_amount(raw, number_format)
        except ParseError as error:
            if error.code != "value_missing" or required:
                self.add(field, error.code, **error.params)
            return None

    def date(self, field: str, *, required: bool) -> dt.date | None:
        raw = self.raw(field)
        try:
            return _cell_date(
                raw, self.context.settings.date_format, self.context.mapping.years
            )
        except ParseError as error:
            if error.code != "value_missing" or required:
                self.add(field, error.code, **error.params)
            return None

    def kind(self) -> ItemKind | None:
        value = self.text("kind", required=True)
        if value is None:
            return None
        kind = self.context.mapping.kind_of(value)
        if kind is None:
            expected = list(self.context.mapping.kind_values)
            self.add("kind", "kind_unknown", expected=expected)
        return kind

    def disputed(self) -> bool:
        raw = self.raw("disputed")
        if isinstance(raw, bool):
            return raw
        return _cell_text(raw).casefold() in self.context.mapping.disputed_values

    def currency(self) -> str:
        value = self.text("currency")
        if value is None:
            return "EUR"
        if CURRENCY_CODE.fullmatch(value.upper()) is None:
            self.add("currency", "currency_invalid")
        return value.upper()


def _cell_amount(raw: object, number_format: NumberFormat) -> Decimal:
    """Parse an amount cell: text in the file's number format, or an Excel number.

    An Excel number is a binary float, so it is read through its shortest decimal
    text and rounded to cents when it is within float noise of a cent.
    """
    if isinstance(raw, bool):
        raise ParseError("amount_unreadable", example=number_format.example)
    if isinstance(raw, int):
        return Decimal(raw).quantize(CENT)
    if isinstance(raw, float):
        value = Decimal(repr(raw))
        cents = value.quantize(CENT)
        if abs(value - cents) > _FLOAT_NOISE:
            raise ParseError(
                "amount_too_precise", places=CENT_PLACES, example=number_format.example
            )
        return cents
    return parse_amount(_cell_text(raw), number_format)


def _cell_date(raw: object, date_format: str | None, years: tuple[int, int]) -> dt.date:
    """Parse a date cell: an Excel date, or text in the detected or mapped format."""
    if isinstance(raw, dt.datetime):
        return check_date_range(raw.date(), years)
    if isinstance(raw, dt.date):
        return check_date_range(raw, years)
    text = _cell_text(raw)
    if not text:
        raise ParseError("value_missing")
    if date_format is None:
        # Detection found no date text, so the message shows ISO as the expected format.
        raise ParseError(
            "date_unreadable",
            format=describe_date_format("%Y-%m-%d"),
            example="2024-01-31",
        )
    return parse_date(text, date_format, years)


def _parse_row(
    line: int, cells: list[object], context: _RowContext
) -> _Row | list[Rejection] | None:
    """Return the row's fields, its rejections, or None when issued after as_of."""
    parser = _CellParser(line, cells, context)
    issue_date = parser.date("issue_date", required=True)
    if issue_date is not None and issue_date > context.as_of:
        return None

    customer_id = parser.text("customer_id", required=True)
    customer_name = parser.text("customer_name")
    document = parser.text("document", required=True)
    amount = parser.amount("amount", required=True)
    kind = parser.kind() if parser.is_mapped("kind") else None
    due_date = parser.date("due_date", required=False)
    open_amount = parser.amount("open_amount", required=parser.is_mapped("open_amount"))
    settled_date = parser.date("settled_date", required=False)
    team = parser.text("team")
    country = parser.text("country")
    disputed = parser.disputed()
    currency = parser.currency()
    if parser.rejections:
        return parser.rejections

    # The checks above rejected the row if any of these were missing.
    assert customer_id is not None
    assert document is not None
    assert issue_date is not None
    assert amount is not None
    return _Row(
        line=line,
        customer_id=customer_id,
        customer_name=customer_name or customer_id,
        team=team,
        country=country,
        document=document,
        kind=kind,
        issue_date=issue_date,
        due_date=due_date,
        amount=amount,
        open_amount=open_amount,
        settled_date=settled_date,
        disputed=disputed,
        currency=currency,
    )


def _read_row(
    line: int,
    cells: list[object],
    context: _RowContext,
    first_line_of: dict[tuple[str, str, str], int],
    stats: MappedStats,
) -> list[Record] | None:
    """Return the row's items or rejections, or None when issued after as_of."""
    parsed = _parse_row(line, cells, context)
    if parsed is None or isinstance(parsed, list):
        return parsed
    parser = _CellParser(line, cells, context)
    kind, is_credit = _kind_and_side(parsed, parser)
    due_date = _due_date(parsed, is_credit, parser, stats)
    _check_dates(parsed, due_date, parser)
    _check_open_amount(parsed, parser)
    if parser.rejections:
        return list(parser.rejections)

    key = (parsed.customer_id, kind.value, parsed.document)
    first_line = first_line_of.setdefault(key, line)
    if first_line != line:
        parser.add(
            "document",
            "duplicate_document",
            document=parsed.document,
            customer=parsed.customer_id,
            first_line=first_line,
        )
        return list(parser.rejections)
    assert due_date is not None
    return _items_of(parsed, kind, is_credit, due_date, context, stats)


def _kind_and_side(row: _Row, parser: _CellParser) -> tuple[ItemKind, bool]:
    """Return the row's kind and whether it is a credit, rejecting bad amounts.

    A zero amount is rejected, and so is a negative invoice when a kind column exists.
    """
    if row.amount == 0:
        parser.add(
            "amount",
            "amount_zero",
            example=parser.context.settings.number_format.example,
        )
    if row.kind is None:
        kind = ItemKind.CREDIT_NOTE if row.amount < 0 else ItemKind.INVOICE
        return kind, row.amount < 0
    if row.kind == ItemKind.INVOICE and row.amount < 0:
        credit_values = [
            value
            for value, kind in parser.context.mapping.kind_values.items()
            if kind in CREDIT_KINDS
        ]
        parser.add("amount", "negative_invoice", credit_values=credit_values)
    if row.kind in CREDIT_KINDS:
        return row.kind, True
    return row.kind, row.kind == ItemKind.OPENING and row.amount < 0


def _due_date(
    row: _Row, is_credit: bool, parser: _CellParser, stats: MappedStats
) -> dt.date | None:
    """Return the due date from the due column or the payment term.

    A credit without a due date is due on its issue date, because nothing is owed.
    """
    if row.due_date is not None:
        return row.due_date
    term = parser.context.mapping.payment_term
    if is_credit:
        return row.issue_date
    if term is not None:
        stats.due_dates_from_term += 1
        return term.due_date(row.issue_date)
    parser.add("due_date", "value_missing")
    return None


def _check_dates(row: _Row, due_date: dt.date | None, parser: _CellParser) -> None:
    issue_column = parser.context.column("issue_date")
    issue_text = _cell_text(parser.raw("issue_date"))
    if row.due_date is not None and due_date is not None and due_date < row.issue_date:
        parser.add(
            "due_date", "date_before", other_field=issue_column, other_value=issue_text
        )
    if row.settled_date is not None and row.settled_date < row.issue_date:
        parser.add(
            "settled_date",
            "date_before",
            other_field=issue_column,
            other_value=issue_text,
        )


def _check_open_amount(row: _Row, parser: _CellParser) -> None:
    if row.open_amount is None or row.amount == 0:
        return
    amount_text = _cell_text(parser.raw("amount"))
    if row.open_amount != 0 and (row.open_amount < 0) != (row.amount < 0):
        parser.add("open_amount", "open_amount_sign", amount=amount_text)
    elif abs(row.open_amount) > abs(row.amount):
        parser.add("open_amount", "open_amount_too_large", amount=amount_text)
    settled = row.settled_date
    nothing_paid = row.open_amount != 0 and row.open_amount == row.amount
    if settled is not None and settled <= parser.context.as_of and nothing_paid:
        parser.add(
            "open_amount",
            "paid_but_fully_open",
            settled_date=_cell_text(parser.raw("settled_date")),
            settled_column=parser.context.column("settled_date"),
        )


def _items_of(
    row: _Row,
    kind: ItemKind,
    is_credit: bool,
    due_date: dt.date,
    context: _RowContext,
    stats: MappedStats,
) -> list[Record]:
    """Build the row's item, plus a PAYMENT item for the paid part of a debit."""
    as_of = context.as_of
    amount = abs(row.amount)
    open_amount = abs(row.open_amount) if row.open_amount is not None else None
    dated = row.settled_date is not None and row.settled_date <= as_of
    paid_after_as_of = row.settled_date is not None and not dated
    is_partial = (
        not paid_after_as_of and open_amount is not None and 0 < open_amount < amount
    )
    assumed_date = _assumed_payment_date(context, due_date)

    settled_date = None
    date_assumed = False
    if dated and not is_partial:
        settled_date = row.settled_date
    elif row.settled_date is None and open_amount == 0:
        settled_date = assumed_date
        date_assumed = True
        stats.settled_dates_assumed += 1

    if is_partial and is_credit:
        amount = open_amount
    legacy_id = join_legacy_id(
        context.mapping.source, row.customer_id, kind.value, row.document
    )
    item = LegacyItem(
        line=row.line,
        legacy_id=legacy_id,
        customer_legacy_id=row.customer_id,
        customer_name=row.customer_name,
        team=row.team,
        kind=kind,
        document=row.document,
        issue_date=row.issue_date,
        due_date=due_date,
        amount=amount,
        settled_date=settled_date,
        disputed=row.disputed,
        is_credit=is_credit,
        country=row.country,
        currency=row.currency,
        payment_date_assumed=date_assumed,
    )
    if not is_partial or is_credit:
        return [item]

    stats.partial_payments += 1
    paid_on = row.settled_date if dated else assumed_date
    if not dated:
        stats.paid_part_dates_assumed += 1
    paid = dataclasses.replace(
        item,
        legacy_id=legacy_id + PAID_PART_SUFFIX,
        kind=ItemKind.PAYMENT,
        issue_date=paid_on,
        due_date=paid_on,
        amount=amount - open_amount,
        disputed=False,
        is_credit=True,
        payment_date_assumed=not dated,
    )
    return [item, paid]


def _assumed_payment_date(context: _RowContext, due_date: dt.date) -> dt.date:
    """Return the date given to a payment that the row does not date."""
    if context.mapping.assumed_payment_date == "due_date":
        return min(due_date, context.as_of)
    return context.as_of
