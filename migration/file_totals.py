"""Counts and totals per customer, read straight from the raw cells of an export.

This is the file side of a reconciliation, and it does not use the readers. Each
profile has a short reading of its own, with pandas or the csv module, that applies
the documented rules (as-of date, settlement, documents, credits) to the raw text.
So a bug in a reader or in the loader shows up as a difference instead of being
repeated. Amounts are summed as integer cents, never as floats.

The rows a run rejected are left out, because they were not loaded on purpose.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import unicodedata
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from app.ledger.ageing import BUCKETS
from migration.parsing import parse_payment_term

FEC_DAY = "%Y%m%d"
_FEC_OPENING_JOURNALS = ("AN", "RAN")
_FEC_OPENING_LABELS = ("a nouveau", "report a nouveau")
_FEC_OPENING_REFERENCE = r"(?i)R?AN[\W\d_]*"
# ASCII first characters of a label that the opening-label pattern cannot match.
_RULED_OUT_FIRST = np.zeros(128, dtype=bool)
_RULED_OUT_FIRST[
    [ord(c) for c in "bcdefghijklmnopqstuvwxyzBCDEFGHIJKLMNOPQSTUVWXYZ0123456789"]
] = True


@dataclasses.dataclass
class Figures:
    """Counts and amounts (in cents) of one customer, or of a whole file."""

    open_count: int = 0
    open_cents: int = 0
    paid_count: int = 0
    paid_cents: int = 0
    credit_count: int = 0
    credit_cents: int = 0

    @property
    def balance_cents(self) -> int:
        return self.open_cents - self.credit_cents

    def add(self, other: Figures) -> None:
        for field in dataclasses.fields(self):
            name = field.name
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclasses.dataclass
class Totals:
    """Figures per customer legacy id, customer names, and the open invoices.

    ``open_items`` has the columns due and cents, for the ageing, and either
    customer (one row per invoice) or count (the invoices a row sums).
    """

    customers: dict[str, Figures]
    names: dict[str, str]
    open_items: pd.DataFrame
    # One row per document (customer, document, state, cents) for the profiles whose
    # documents a reconciliation can match one by one, else None.
    documents: pd.DataFrame | None = None

    def ageing(self, as_of: dt.date) -> dict[str, dict[str, int]]:
        items = self.open_items
        count = items["count"] if "count" in items else None
        return ageing_of(items["due"], items["cents"], as_of, count)


@dataclasses.dataclass(frozen=True)
class Excluded:
    """Rows of the file that a run did not load on purpose."""

    lines: frozenset[int] = frozenset()
    document_lines: frozenset[int] = frozenset()  # rejected with their whole document


def empty_ageing() -> dict[str, dict[str, int]]:
    return {bucket: {"count": 0, "cents": 0} for bucket in BUCKETS}


def ageing_of(
    due: pd.Series, cents: pd.Series, as_of: dt.date, count: pd.Series | None = None
) -> dict:
    """Return the count and cents of open items per ageing bucket on ``as_of``.

    ``count`` gives the number of items each row sums. By default a row is one item.
    """
    ageing = empty_ageing()
    if due.empty:
        return ageing
    days = (pd.Timestamp(as_of) - pd.to_datetime(due)).dt.days
    buckets = pd.cut(
        days,
        bins=[-(10**9), 0, 30, 60, 90, 10**9],
        labels=list(BUCKETS),
    )
    if count is None:
        count = cents.notna().astype("int64")
    grouped = pd.DataFrame(
        {"bucket": buckets, "cents": cents, "count": count.to_numpy()}
    ).groupby("bucket", observed=True)
    for bucket, total in grouped["count"].sum().items():
        ageing[str(bucket)]["count"] = int(total)
    for bucket, total in grouped["cents"].sum().items():
        ageing[str(bucket)]["cents"] = int(total)
    return ageing


def cents_of(texts: pd.Series, decimal: str = ",", thousands: str | None = None):
    """Return amounts in integer cents, or <NA> where a text is not an amount.

    Accepts a leading + or -, a trailing -, zero padding and, when ``thousands`` is
    set, that separator (spaces of any kind when it is a space). An empty text is 0.
    """
    text = texts.astype(object).where(texts.notna(), "")
    cents, plain = _plain_cents(text.to_numpy(dtype=object), decimal)
    result = pd.Series(cents, index=texts.index, dtype="Int64")
    if not plain.all():
        result[~plain] = _any_cents(text[~plain], decimal, thousands)
    return result


# Plain amounts: up to 15 integer digits, then optionally the decimal mark and one or
# two decimals, far below 2**63 cents.
_PLAIN_DIGITS = 15
_PLAIN_WIDTH = _PLAIN_DIGITS + 4  # digits, mark, two decimals and one byte to spare


def _plain_cents(texts: np.ndarray, decimal: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the cents of the plain amounts among ``texts``, and which are plain.

    Plain is "" or ASCII digits with at most one ``decimal`` mark followed by one
    or two digits, which ``_any_cents`` reads the same way. Working on the bytes
    of whole columns is much faster than string methods.
    """
    if pd.api.types.infer_dtype(texts, skipna=False) != "string":
        return np.zeros(len(texts), dtype=np.int64), np.zeros(len(texts), dtype=bool)
    try:
        raw = texts.astype(f"S{_PLAIN_WIDTH}")
    except UnicodeEncodeError:
        is_ascii = np.array([text.isascii() for text in texts], dtype=bool)
        raw = np.where(is_ascii, texts, "?").astype(f"S{_PLAIN_WIDTH}")
    octets = raw.view(np.uint8).reshape(len(texts), _PLAIN_WIDTH)
    number = np.zeros(len(texts), dtype=np.int64)  # all the digits as one integer
    whole = np.zeros(len(texts), dtype=np.int64)  # digits before the mark
    decimals = np.zeros(len(texts), dtype=np.int64)
    marks = np.zeros(len(texts), dtype=np.int64)
    plain = (octets[:, -1] == 0) & ~_has_nul(texts)
    # numpy pads short texts with NUL bytes. Each pass reads one character
    # position of every text.
    for position in range(_PLAIN_WIDTH):
        octet = octets[:, position]
        is_digit = (octet >= ord("0")) & (octet <= ord("9"))
        is_mark = octet == ord(decimal)
        plain &= is_digit | is_mark | (octet == 0)
        number = np.where(is_digit, number * 10 + (octet - ord("0")), number)
        whole += is_digit & (marks == 0)
        decimals += is_digit & (marks > 0)
        marks += is_mark
    plain &= (marks <= 1) & (whole <= _PLAIN_DIGITS) & (decimals <= 2)
    plain &= (marks == 0) | ((whole >= 1) & (decimals >= 1))
    cents = number * 10 ** (2 - np.minimum(decimals, 2))
    return np.where(plain, cents, 0), plain


def _has_nul(texts: np.ndarray) -> np.ndarray:
    """Return which texts contain a NUL, which numpy's fixed-width bytes would drop."""
    if "\x00" not in "".join(texts):
        return np.zeros(len(texts), dtype=bool)
    return np.array(["\x00" in text for text in texts], dtype=bool)


def _any_cents(text: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """Read every form of amount that ``cents_of`` accepts."""
    text = text.str.strip()
    text = text.str.replace("\u2212", "-", regex=False)
    if thousands:
        marks = " \u00a0\u202f" if thousands in " \u00a0\u202f" else thousands
        for mark in marks:
            text = text.str.replace(mark, "", regex=False)
    negative = text.str.startswith("-") | text.str.endswith("-")
    body = text.str.strip("+-")
    parts = body.str.partition(decimal)
    integer, fraction = parts[0], parts[2]
    valid = (
        (integer.str.isdigit() | integer.eq(""))
        & (fraction.str.isdigit() | fraction.eq(""))
        & ((integer != "") | (fraction != "") | text.eq(""))
        & (parts[1].eq("") | fraction.ne(""))
        & ~fraction.str[2:].str.strip("0").ne("")
    )
    integer = integer.where(valid & integer.ne(""), "0")
    fraction = fraction.where(valid, "").str[:2].str.ljust(2, "0")
    cents = integer.astype("int64") * 100 + fraction.astype("int64")
    cents = cents.where(~negative, -cents).astype("Int64")
    return cents.where(valid, pd.NA)


def _dates(texts: pd.Series, date_format: str) -> pd.Series:
    """Parse stripped date texts, NaT where unreadable.

    Each distinct text is parsed once, because a ledger repeats few dates.
    """
    codes, distinct = pd.factorize(texts, use_na_sentinel=False)
    parsed = pd.to_datetime(
        pd.Series(distinct, dtype=object).str.strip(),
        format=date_format,
        errors="coerce",
    )
    return pd.Series(parsed.to_numpy()[codes], index=texts.index)


def _due_from_term(issue: pd.Series, term_text: str) -> pd.Series:
    term = parse_payment_term(term_text)
    due = issue + pd.to_timedelta(term.days, unit="D")
    if term.end_of_month:
        due = due + pd.offsets.MonthEnd(0)
    return due


def _group_codes(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Number the groups of ``keys`` in order of appearance, with -1 for NaN keys.

    One integer key groups much faster than several text keys, and gives the same
    groups as ``groupby(keys, sort=False)``, which also leaves out NaN keys.
    """
    group = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for key in keys:
        codes, distinct = pd.factorize(frame[key])
        missing |= codes < 0
        group = group * (len(distinct) + 1) + codes
    return np.where(missing, -1, pd.factorize(group)[0])


def _group_figures(frame: pd.DataFrame) -> dict[str, Figures]:
    """Sum a frame of documents (customer, state, cents) into Figures per customer.

    ``state`` is open, paid or credit; other states are not counted.
    """
    figures: dict[str, Figures] = {}
    if frame.empty:
        return figures
    groups = _group_codes(frame, ["customer", "state"])
    documents = frame[groups >= 0].assign(group=groups[groups >= 0])
    grouped = documents.groupby("group", sort=False)
    sums = grouped.agg(
        customer=("customer", "first"),
        state=("state", "first"),
        count=("cents", "count"),
        total=("cents", "sum"),
    )
    for customer, state, count, total in sums.itertuples(index=False):
        entry = figures.setdefault(str(customer), Figures())
        if state in ("open", "paid", "credit"):
            setattr(entry, f"{state}_count", int(count))
            setattr(entry, f"{state}_cents", int(total))
    return figures


def _open_items(documents: pd.DataFrame) -> pd.DataFrame:
    open_documents = documents[documents["state"] == "open"]
    return open_documents[["customer", "due", "cents"]].reset_index(drop=True)


# --- IBM -----------------------------------------------------------------------------


def ibm_totals(path: Path, as_of: dt.date, excluded: Excluded) -> Totals:
    """Invoices issued by ``as_of``: paid when settled by then, open otherwise."""
    frame = pd.read_csv(
        path, dtype=str, keep_default_na=False, encoding="utf-8-sig"
    ).rename(columns=str.strip)
    frame["line"] = frame.index + 2
    frame = frame[~frame["line"].isin(excluded.lines)]
    issued = _dates(frame["InvoiceDate"].str.strip(), "%m/%d/%Y")
    settled = _dates(frame["SettledDate"].str.strip(), "%m/%d/%Y")
    frame = frame.assign(
        customer=frame["customerID"].str.strip(),
        cents=cents_of(frame["InvoiceAmount"], "."),
        due=_dates(frame["DueDate"].str.strip(), "%m/%d/%Y"),
        issued=issued,
        settled=settled,
    )
    frame = frame[frame["issued"] <= pd.Timestamp(as_of)]
    is_paid = frame["settled"] <= pd.Timestamp(as_of)
    frame = frame.assign(state=is_paid.map({True: "paid", False: "open"}))
    return Totals(
        customers=_group_figures(frame),
        names={customer: customer for customer in frame["customer"].unique()},
        open_items=_open_items(frame),
        documents=frame.assign(document=frame["invoiceNumber"].str.strip())[
            ["customer", "document", "state", "cents"]
        ],
    )


# --- FEC -----------------------------------------------------------------------------

_FEC_NEEDED = (
    "JournalCode",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
)


def _fec_rows(
    path: Path, encoding: str, separator: str, prefixes: tuple[str, ...]
) -> pd.DataFrame:
    """Return the receivable lines of a FEC file as text columns, with line numbers.

    pandas' C parser reads the file when every line has the header's field count.
    Otherwise the lines are split one by one, and lines of the wrong width are left
    out, as the reader rejects them. CompteNum is stripped. The other columns keep
    their surrounding whitespace, for the caller to strip where it matters, because
    stripping every cell costs more than reading the file.
    """
    with open(path, encoding=encoding, newline="") as handle:
        header = handle.readline().lstrip("\ufeff").rstrip("\r\n").split(separator)
    names = [name.strip() for name in header]
    while names and not names[-1]:
        names.pop()
    folded = [name.casefold() for name in names]
    wanted = {folded.index(name.casefold()): name for name in _FEC_NEEDED}
    try:
        frame = pd.read_csv(
            path,
            sep=separator,
            header=None,
            skiprows=1,
            names=range(len(header)),
            usecols=sorted(wanted),
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            encoding=encoding,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        # ValueError: the first line has more fields than the header.
        frame = _fec_rows_one_by_one(path, encoding, separator, len(names), wanted)
    else:
        frame = frame.rename(columns=wanted)
        frame["line"] = frame.index + 2
    codes, accounts = pd.factorize(frame["CompteNum"], use_na_sentinel=False)
    accounts = pd.Series(accounts, dtype=object).str.strip()
    account = pd.Series(accounts.to_numpy()[codes], index=frame.index, dtype=object)
    is_receivable = (accounts.ne("") & accounts.str.startswith(prefixes)).to_numpy()
    receivable = is_receivable[codes]
    frame = frame[receivable].reset_index(drop=True)
    frame["CompteNum"] = account[receivable].to_numpy()
    return frame


def _stripped(texts: pd.Series) -> pd.Series:
    """Strip ``texts``, each distinct text once: most FEC columns repeat few values."""
    codes, distinct = pd.factorize(texts, use_na_sentinel=False)
    stripped = pd.Series(distinct, dtype=object).str.strip().to_numpy()
    return pd.Series(stripped[codes], index=texts.index, dtype=object)


def _fec_rows_one_by_one(
    path: Path, encoding: str, separator: str, width: int, wanted: dict[int, str]
) -> pd.DataFrame:
    columns: dict[str, list[str]] = {name: [] for name in wanted.values()}
    lines: list[int] = []
    with open(path, encoding=encoding, newline="") as handle:
        handle.readline()
        for number, text in enumerate(handle, start=2):
            fields = text.rstrip("\r\n").split(separator)
            while len(fields) > width and not fields[-1].strip():
                fields.pop()
            if len(fields) != width:
                continue
            lines.append(number)
            for position, name in wanted.items():
                columns[name].append(fields[position])
    frame = pd.DataFrame(columns, dtype=object)
    frame["line"] = lines
    return frame


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().replace("-", " ").split())


def _fec_opening(frame: pd.DataFrame) -> pd.Series:
    """Return which lines are opening balances without an invoice reference.

    ``frame`` has JournalCode unstripped, and PieceRef stripped.
    """
    codes, distinct = pd.factorize(frame["JournalCode"], use_na_sentinel=False)
    journal_codes = pd.Series(distinct, dtype=object).str.strip()
    in_journal = journal_codes.str.upper().isin(_FEC_OPENING_JOURNALS).to_numpy()
    by_journal = pd.Series(in_journal[codes], index=frame.index)
    label = frame["EcritureLib"]
    # Only these labels can fold to "a nouveau..." or "report a nouveau...". The
    # leading \s* also skips the whitespace that the reader strips. Most labels
    # start with a letter that rules them out, which one whole-column test finds.
    first = label.to_numpy(dtype=object).astype("U1").view(np.uint32)
    ruled_out = np.zeros(len(first), dtype=bool)
    is_ascii = first < len(_RULED_OUT_FIRST)
    ruled_out[is_ascii] = _RULED_OUT_FIRST[first[is_ascii]]
    may_start = ~by_journal.to_numpy() & ~ruled_out
    maybe = pd.Series(False, index=frame.index)
    maybe[may_start] = label[may_start].str.match(
        r"(?i)\s*(?:[aàáâãäå][\s-]*n|r[eéè]port)", na=False
    )
    by_label = pd.Series(False, index=frame.index)
    by_label[maybe] = label[maybe].map(_fold).str.startswith(_FEC_OPENING_LABELS)
    opening = by_journal | by_label
    # Whether the reference names the opening entry, checked on opening lines only.
    reference = frame.loc[opening, "PieceRef"]
    journal = frame.loc[opening, "JournalCode"].str.strip()
    names_opening = (
        reference.eq("")
        | reference.str.casefold().eq(journal.str.casefold())
        | reference.str.fullmatch(_FEC_OPENING_REFERENCE, na=False)
    )
    opening[opening] = names_opening
    return opening


def _letter_closing(lines: pd.DataFrame, keys: pd.DataFrame) -> pd.Series:
    """Return the latest EcritureDate of each (customer, EcritureLet) of ``keys``.

    ``lines`` are all the receivable lines, those after the as-of date included.
    """
    lettered = lines[(lines["EcritureLet"] != "") & lines["entry_date"].notna()]
    closing = lettered.groupby(["customer", "EcritureLet"])["entry_date"].max()
    found = closing.reindex(pd.MultiIndex.from_frame(keys))
    return pd.Series(found.to_numpy(), index=keys.index)


def _fec_names(first: pd.DataFrame) -> dict[str, str]:
    """Return each customer's name, from its first line (CompAuxLib, else CompteLib)."""
    has_aux = first["CompAuxNum"].str.strip() != ""
    name = first["CompAuxLib"].where(has_aux, first["CompteLib"]).str.strip()
    name = name.where(name != "", first["customer"])
    return dict(zip(first["customer"], name, strict=True))


def fec_totals(
    path: Path, as_of: dt.date, settings: dict[str, Any], excluded: Excluded
) -> Totals:
    """Documents of the receivable lines booked by ``as_of``, as the FEC reader defines.

    A line is settled when lettered on or before ``as_of`` (DateLet, else the latest
    EcritureDate of its letter). A document (customer, PieceRef, side) is paid when
    all its lines are settled, else open for its open lines. Opening lines without an
    invoice reference net into one balance per customer.
    """
    prefixes = tuple(settings.get("account_prefixes") or ["411"])
    lines = _fec_rows(path, settings["encoding"], settings["separator"], prefixes)
    aux = _stripped(lines["CompAuxNum"])
    lines["customer"] = aux.where(aux != "", lines["CompteNum"])
    lines["entry_date"] = _dates(lines["EcritureDate"], FEC_DAY)
    lines["EcritureLet"] = _stripped(lines["EcritureLet"])

    limit = pd.Timestamp(as_of)
    frame = lines[~lines["line"].isin(excluded.lines) & (lines["entry_date"] <= limit)]
    frame["signed"] = cents_of(frame["Debit"]) - cents_of(frame["Credit"])
    frame["side"] = frame["signed"].gt(0).map({True: "D", False: "C"})
    letter_date = _dates(frame["DateLet"], FEC_DAY)
    # A letter without DateLet closes on the latest date of its lines.
    undated = (frame["EcritureLet"] != "") & letter_date.isna()
    if undated.any():
        keys = frame.loc[undated, ["customer", "EcritureLet"]]
        letter_date = letter_date.fillna(_letter_closing(lines, keys))
    frame["settled"] = (frame["EcritureLet"] != "") & (letter_date <= limit)
    frame["PieceRef"] = frame["PieceRef"].str.strip()
    frame["opening"] = _fec_opening(frame)
    frame["document"] = frame["PieceRef"].where(~frame["opening"], "\x00opening")
    frame["side"] = frame["side"].where(~frame["opening"], "")
    piece_date = _dates(frame["PieceDate"], FEC_DAY)
    frame["issue"] = piece_date.where(~frame["opening"]).fillna(frame["entry_date"])

    keys = ["customer", "document", "side"]
    if excluded.document_lines:
        dropped = frame.loc[frame["line"].isin(excluded.document_lines), keys]
        frame = frame.merge(
            dropped.drop_duplicates(), on=keys, how="left", indicator=True
        )
        frame = frame[frame["_merge"] == "left_only"].drop(columns="_merge")

    frame["open_signed"] = frame["signed"].where(~frame["settled"], 0)
    frame["document_key"] = _group_codes(frame, keys)
    grouped = frame[frame["document_key"] >= 0].groupby("document_key", sort=False)
    documents = grouped.agg(
        **{key: (key, "first") for key in keys},
        all_settled=("settled", "all"),
        signed=("signed", "sum"),
        open_signed=("open_signed", "sum"),
        issue=("issue", "min"),
        first_line=("line", "min"),
    )
    documents = documents.reset_index(drop=True)
    net = documents["signed"].where(documents["all_settled"], documents["open_signed"])
    documents["cents"] = net.abs()
    is_debit = net > 0
    documents["state"] = "none"
    documents.loc[is_debit & documents["all_settled"], "state"] = "paid"
    documents.loc[is_debit & ~documents["all_settled"], "state"] = "open"
    documents.loc[(net < 0) & ~documents["all_settled"], "state"] = "credit"

    due_dates = {
        ref: pd.Timestamp(dt.datetime.strptime(text, FEC_DAY))
        for ref, text in (settings.get("due_dates") or {}).items()
    }
    due = _due_from_term(documents["issue"], settings.get("payment_term") or "30 days")
    if due_dates:
        from_file = documents["document"].map(due_dates)
        due = from_file.where(from_file.notna(), due)
    documents["due"] = due.where(
        documents["document"] != "\x00opening", documents["issue"]
    )
    # Opening balances are left out of the document list: the loader names them
    # after their first line, which this reading does not reproduce.
    listed = (documents["document"] != "\x00opening") & (documents["state"] != "none")
    return Totals(
        customers=_group_figures(documents),
        names=_fec_names(frame.drop_duplicates("customer")),
        open_items=_open_items(documents),
        documents=documents.loc[listed, ["customer", "document", "state", "cents"]],
    )


# --- Mapped CSV and Excel ------------------------------------------------------------


def _mapped_cells(path: Path, settings: dict[str, Any]) -> Iterator[tuple[int, list]]:
    """Yield (line, cells) for the header and each row, as the file stores them."""
    mapping = settings["mapping"]
    skip = int(mapping.get("skip_rows") or 0)
    if settings["file_type"] == "xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = mapping.get("sheet")
            if sheet is None:
                worksheet = workbook.worksheets[0]
            elif isinstance(sheet, int):
                worksheet = workbook.worksheets[sheet - 1]
            else:
                worksheet = workbook[sheet]
            for number, values in enumerate(worksheet.iter_rows(values_only=True), 1):
                if number > skip:
                    yield number, list(values)
        finally:
            workbook.close()
        return
    with open(path, encoding=settings["encoding"], newline="") as handle:
        for _ in range(skip):
            handle.readline()
        reader = csv.reader(handle, delimiter=settings["separator"])
        previous_end = 0
        for cells in reader:
            yield skip + previous_end + 1, cells
            previous_end = reader.line_num


def _key(text: object) -> str:
    return " ".join(str(text or "").split()).casefold()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def mapped_totals(
    path: Path, as_of: dt.date, settings: dict[str, Any], excluded: Excluded
) -> Totals:
    """Rows issued by ``as_of``, read through the mapping's columns.

    The settled date is the date of the last payment. A row is partly paid when
    0 < open amount < amount and that date is empty or on or before ``as_of``. A
    debit row is paid when its open amount is 0 and its date is empty or on or
    before ``as_of``, or when it has no open amount and a date by ``as_of``.
    Otherwise it is an open invoice, for its open amount when partly paid (the paid
    part is allocated to it) and for its full amount when not. A credit row (credit
    note, payment, negative opening) that is not settled is a credit for its open
    amount.
    """
    mapping = settings["mapping"]
    columns = {
        ("document" if field == "invoice_number" else field): _key(column)
        for field, column in mapping["columns"].items()
    }
    kind_values = {
        _key(value): kind for value, kind in (mapping.get("kind_values") or {}).items()
    }
    if not mapping.get("kind_values"):
        kind_values = {
            kind: kind for kind in ("invoice", "credit_note", "payment", "opening")
        }
    rows = _mapped_cells(path, settings)
    _, header = next(rows)
    position = {_key(name): index for index, name in enumerate(header)}
    index = {field: position[column] for field, column in columns.items()}

    records: list[dict] = []
    for line, cells in rows:
        texts = [_cell_text(cell) for cell in cells]
        if not any(texts) or line in excluded.lines:
            continue
        record = {"line": line}
        for field, at in index.items():
            record[field] = cells[at] if at < len(cells) else None
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=["line", *index.keys()])
    return _mapped_figures(frame, as_of, settings, kind_values)


def _mapped_dates(values: pd.Series, date_format: str | None) -> pd.Series:
    def one(value: object):
        if isinstance(value, dt.datetime):
            return pd.Timestamp(value.date())
        if isinstance(value, dt.date):
            return pd.Timestamp(value)
        text = _cell_text(value)
        if not text or date_format is None:
            return pd.NaT
        try:
            return pd.Timestamp(
                dt.datetime.strptime(text[:10] if "T" in text else text, date_format)
            )
        except ValueError:
            return pd.NaT

    return pd.to_datetime(values.map(one))


def _mapped_amounts(values: pd.Series, settings: dict[str, Any]) -> pd.Series:
    def text(value: object) -> str:
        if isinstance(value, float | int) and not isinstance(value, bool):
            return f"{value:.2f}".replace(".", settings.get("decimal") or ",")
        return _cell_text(value)

    return cents_of(
        values.map(text), settings.get("decimal") or ",", settings.get("thousands")
    )


def _mapped_figures(
    frame: pd.DataFrame, as_of: dt.date, settings: dict[str, Any], kinds: dict
) -> Totals:
    limit = pd.Timestamp(as_of)
    date_format = settings.get("date_format")
    frame = frame.assign(
        customer=frame["customer_id"].map(_cell_text),
        issue=_mapped_dates(frame["issue_date"], date_format),
        amount=_mapped_amounts(frame["amount"], settings),
    )
    frame = frame[frame["issue"] <= limit]
    has_open = "open_amount" in frame
    has_settled = "settled_date" in frame
    open_amount = (
        _mapped_amounts(frame["open_amount"], settings).abs() if has_open else None
    )
    settled_date = (
        _mapped_dates(frame["settled_date"], date_format)
        if has_settled
        else pd.Series(pd.NaT, index=frame.index)
    )
    amount = frame["amount"].abs()
    if "kind" in frame:
        kind = frame["kind"].map(lambda value: kinds.get(_key(value)))
        credit = kind.isin(["credit_note", "payment"]) | (
            kind.eq("opening") & frame["amount"].lt(0)
        )
    else:
        credit = frame["amount"].lt(0)
    no_settled_date = settled_date.isna()
    if has_open:
        dated = ~no_settled_date & (settled_date <= limit)
        partial = (no_settled_date | dated) & open_amount.gt(0) & open_amount.lt(amount)
        settled = (dated & ~partial) | (no_settled_date & open_amount.eq(0))
    else:
        settled = ~no_settled_date & (settled_date <= limit)
        partial = pd.Series(False, index=frame.index)
    settled = settled.fillna(False).astype(bool)
    partial = partial.fillna(False).astype(bool)

    if "due_date" in frame:
        due = _mapped_dates(frame["due_date"], date_format)
    else:
        due = pd.Series(pd.NaT, index=frame.index)
    term = settings.get("payment_term")
    if term:
        due = due.fillna(_due_from_term(frame["issue"], term))

    documents = []
    debit = ~credit
    debit_cents = open_amount.where(partial, amount) if has_open else amount
    documents.append(
        pd.DataFrame(
            {
                "customer": frame["customer"],
                "state": settled.map({True: "paid", False: "open"}),
                "cents": debit_cents.where(~settled, amount),
            }
        )[debit]
    )
    credit_cents = open_amount.where(partial, amount) if has_open else amount
    documents.append(
        pd.DataFrame(
            {"customer": frame["customer"], "state": "credit", "cents": credit_cents}
        )[credit & ~settled]
    )
    all_documents = pd.concat(documents, ignore_index=True)
    is_open = debit & ~settled
    names = {customer: customer for customer in frame["customer"].unique()}
    if "customer_name" in frame:
        for customer, name in zip(
            frame["customer"], frame["customer_name"], strict=True
        ):
            if _cell_text(name):
                names.setdefault(customer, customer)
                if names[customer] == customer:
                    names[customer] = _cell_text(name)
    open_items = pd.DataFrame(
        {
            "customer": frame["customer"],
            "due": due,
            "cents": debit_cents,
            "state": "open",
        }
    )[is_open]
    return Totals(
        customers=_group_figures(all_documents),
        names=names,
        open_items=_open_items(open_items),
    )


def file_totals(
    profile: str,
    path: Path,
    as_of: dt.date,
    settings: dict[str, Any],
    excluded: Excluded,
    customers: Collection[str] | None = None,
) -> Totals:
    """Return the totals of the export ``path`` read with ``profile``'s rules.

    ``customers`` limits them to those customer legacy ids (a wave run).
    """
    if profile == "ibm-ar":
        totals = ibm_totals(path, as_of, excluded)
    elif profile == "fec":
        totals = fec_totals(path, as_of, settings, excluded)
    else:
        totals = mapped_totals(path, as_of, settings, excluded)
    if customers is not None:
        wanted = set(customers)
        totals.customers = {
            key: value for key, value in totals.customers.items() if key in wanted
        }
        items = totals.open_items
        totals.open_items = items[items["customer"].isin(wanted)]
        if totals.documents is not None:
            documents = totals.documents
            totals.documents = documents[documents["customer"].isin(wanted)]
    return totals
