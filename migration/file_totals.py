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

import openpyxl
import pandas as pd

from app.ledger.ageing import BUCKETS
from migration.parsing import parse_payment_term

FEC_DAY = "%Y%m%d"
_FEC_OPENING_JOURNALS = ("AN", "RAN")
_FEC_OPENING_LABELS = ("a nouveau", "report a nouveau")
_FEC_OPENING_REFERENCE = r"(?i)R?AN[\W\d_]*"


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

    ``open_items`` has the columns customer, due and cents, for the ageing.
    """

    customers: dict[str, Figures]
    names: dict[str, str]
    open_items: pd.DataFrame

    def ageing(self, as_of: dt.date) -> dict[str, dict[str, int]]:
        return ageing_of(self.open_items["due"], self.open_items["cents"], as_of)


@dataclasses.dataclass(frozen=True)
class Excluded:
    """Rows of the file that a run did not load on purpose."""

    lines: frozenset[int] = frozenset()
    document_lines: frozenset[int] = frozenset()  # rejected with their whole document


def empty_ageing() -> dict[str, dict[str, int]]:
    return {bucket: {"count": 0, "cents": 0} for bucket in BUCKETS}


def ageing_of(due: pd.Series, cents: pd.Series, as_of: dt.date) -> dict:
    """Return the count and cents of open items per ageing bucket on ``as_of``."""
    ageing = empty_ageing()
    if due.empty:
        return ageing
    days = (pd.Timestamp(as_of) - pd.to_datetime(due)).dt.days
    buckets = pd.cut(
        days,
        bins=[-(10**9), 0, 30, 60, 90, 10**9],
        labels=list(BUCKETS),
    )
    grouped = pd.DataFrame({"bucket": buckets, "cents": cents}).groupby(
        "bucket", observed=True
    )["cents"]
    for bucket, count in grouped.count().items():
        ageing[str(bucket)]["count"] = int(count)
    for bucket, total in grouped.sum().items():
        ageing[str(bucket)]["cents"] = int(total)
    return ageing


def cents_of(texts: pd.Series, decimal: str = ",", thousands: str | None = None):
    """Return amounts in integer cents, or <NA> where a text is not an amount.

    Accepts a leading + or -, a trailing -, zero padding and, when ``thousands`` is
    set, that separator (spaces of any kind when it is a space). An empty text is 0.
    """
    text = texts.astype(object).where(texts.notna(), "").str.strip()
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
    return pd.to_datetime(texts, format=date_format, errors="coerce")


def _due_from_term(issue: pd.Series, term_text: str) -> pd.Series:
    term = parse_payment_term(term_text)
    due = issue + pd.to_timedelta(term.days, unit="D")
    if term.end_of_month:
        due = due + pd.offsets.MonthEnd(0)
    return due


def _group_figures(frame: pd.DataFrame) -> dict[str, Figures]:
    """Sum a frame of documents (customer, state, cents) into Figures per customer.

    ``state`` is open, paid or credit; other states are not counted.
    """
    figures: dict[str, Figures] = {}
    if frame.empty:
        return figures
    grouped = frame.groupby(["customer", "state"], sort=False)["cents"]
    for (customer, state), (count, total) in zip(
        grouped.count().index,
        zip(grouped.count(), grouped.sum(), strict=True),
        strict=True,
    ):
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
    out, as the reader rejects them.
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
    except pd.errors.ParserError:
        frame = _fec_rows_one_by_one(path, encoding, separator, len(names), wanted)
    else:
        frame = frame.rename(columns=wanted)
        frame["line"] = frame.index + 2
    frame = frame.apply(
        lambda column: column.str.strip() if column.name != "line" else column
    )
    account = frame["CompteNum"]
    return frame[account.ne("") & account.str.startswith(prefixes)].reset_index(
        drop=True
    )


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
    """Return which lines are opening balances without an invoice reference."""
    journal = frame["JournalCode"].str.upper()
    label = frame["EcritureLib"]
    # Only these labels can fold to "a nouveau..." or "report a nouveau...".
    maybe = label.str.match(
        r"(?i)\s*(?:[aàáâãäå][\s-]*n|r[eéè]port)", na=False
    ) & ~journal.isin(_FEC_OPENING_JOURNALS)
    by_label = pd.Series(False, index=frame.index)
    by_label[maybe] = label[maybe].map(_fold).str.startswith(_FEC_OPENING_LABELS)
    opening = journal.isin(_FEC_OPENING_JOURNALS) | by_label
    reference = frame["PieceRef"]
    names_opening = (
        reference.eq("")
        | reference.str.casefold().eq(frame["JournalCode"].str.casefold())
        | reference.str.fullmatch(_FEC_OPENING_REFERENCE, na=False)
    )
    return opening & names_opening


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
    frame = _fec_rows(path, settings["encoding"], settings["separator"], prefixes)
    frame["customer"] = frame["CompAuxNum"].where(
        frame["CompAuxNum"] != "", frame["CompteNum"]
    )
    frame["name"] = frame["CompAuxLib"].where(
        frame["CompAuxNum"] != "", frame["CompteLib"]
    )
    frame["name"] = frame["name"].where(frame["name"] != "", frame["customer"])
    frame["entry_date"] = _dates(frame["EcritureDate"], FEC_DAY)

    # A letter closes on the latest date of its lines, those after as_of included.
    lettered = frame[(frame["EcritureLet"] != "") & frame["entry_date"].notna()]
    closing = lettered.groupby(["customer", "EcritureLet"])["entry_date"].max()
    closing.name = "letter_closed"
    frame = frame.join(closing, on=["customer", "EcritureLet"])

    frame = frame[
        ~frame["line"].isin(excluded.lines)
        & (frame["entry_date"] <= pd.Timestamp(as_of))
    ].copy()
    frame["signed"] = cents_of(frame["Debit"]) - cents_of(frame["Credit"])
    frame["side"] = frame["signed"].gt(0).map({True: "D", False: "C"})
    letter_date = _dates(frame["DateLet"], FEC_DAY).fillna(frame["letter_closed"])
    frame["settled"] = (frame["EcritureLet"] != "") & (
        letter_date <= pd.Timestamp(as_of)
    )
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
    documents = frame.groupby(keys, sort=False).agg(
        all_settled=("settled", "all"),
        signed=("signed", "sum"),
        open_signed=("open_signed", "sum"),
        issue=("issue", "min"),
        first_line=("line", "min"),
    )
    documents = documents.reset_index()
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
    from_file = documents["document"].map(due_dates)
    due = from_file.where(from_file.notna(), due)
    documents["due"] = due.where(
        documents["document"] != "\x00opening", documents["issue"]
    )
    names = frame.drop_duplicates("customer").set_index("customer")["name"].to_dict()
    return Totals(
        customers=_group_figures(documents),
        names=names,
        open_items=_open_items(documents),
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

    A debit row is paid when settled by ``as_of``, or when its open amount is 0 and
    it has no settled date. Otherwise it is an open invoice for its full amount, and
    the paid part of a partly paid invoice is a credit. A credit row (credit note,
    payment, negative opening) that is not settled is a credit for its open amount.
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
        settled = (~no_settled_date & (settled_date <= limit)) | (
            no_settled_date & open_amount.eq(0)
        )
        partial = no_settled_date & open_amount.gt(0) & open_amount.lt(amount)
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
    documents.append(
        pd.DataFrame(
            {
                "customer": frame["customer"],
                "state": settled.map({True: "paid", False: "open"}),
                "cents": amount,
            }
        )[debit]
    )
    paid_part = (amount - open_amount) if has_open else None
    if has_open:
        documents.append(
            pd.DataFrame(
                {"customer": frame["customer"], "state": "credit", "cents": paid_part}
            )[debit & partial]
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
        {"customer": frame["customer"], "due": due, "cents": amount, "state": "open"}
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
    return totals
