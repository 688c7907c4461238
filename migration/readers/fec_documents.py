"""Second pass of the FEC reader: documents, opening balances and settlement.

The first pass (``migration.readers.fec``) keeps the accepted receivable lines in a
DataFrame with the columns of ``ENTRY_COLUMNS``, sorted by line. This pass sums the
lines of each document with whole-column operations, nets each customer's opening
lines in Python because they are few, and returns an ``ItemTable`` with one item per
document. Amounts stay integer cents throughout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from migration.item_table import ItemTable
from migration.messages import reject
from migration.parsing import PaymentTerm
from migration.readers import join_legacy_id
from migration.records import ItemKind, LegacyItem, Rejection

SOURCE = "fec"
ENTRY_COLUMNS = (
    "line",
    "journal_code",
    "customer_id",
    "customer_code",  # pd.factorize code of customer_id, shared by all lines
    "customer_name",
    "piece_ref",
    "piece_code",  # pd.factorize code of piece_ref, shared by all lines
    "piece_date",  # NaT when PieceDate is empty
    "entry_date",
    "is_debit",
    "cents",  # positive amount, integer cents
    "letter",  # EcritureLet, "" when the line is not lettered
    "letter_date",  # NaT when DateLet is empty
    "is_opening",  # an opening line without an invoice reference
    "is_payment",  # a credit from a bank journal or labelled as a payment
)
LETTER_COLUMNS = ("customer_id", "letter", "entry_date")
_NO_DAY = np.datetime64("NaT", "D")
# Kind of a credit that is not a payment, of a payment, and of a debit.
_KINDS = np.array(
    [ItemKind.CREDIT_NOTE, ItemKind.PAYMENT, ItemKind.INVOICE], dtype=object
)


@dataclasses.dataclass
class DocumentCounts:
    """Counters of the second pass, named as in ``FecStats``."""

    lines_merged: int = 0
    opening_lines: int = 0
    opening_balances_zero: int = 0
    due_dates_from_file: int = 0
    due_dates_from_term: int = 0


@dataclasses.dataclass(frozen=True)
class DocumentRules:
    """The reading options that the second pass applies."""

    as_of: dt.date
    payment_term: PaymentTerm
    due_dates: Mapping[str, dt.date]
    team_of: Callable[[str], str | None]


def build_items(
    entries: pd.DataFrame, letters: pd.DataFrame, rules: DocumentRules
) -> tuple[ItemTable, list[Rejection], DocumentCounts]:
    """Turn accepted lines into items: one per document, one per opening balance.

    ``letters`` has the ``LETTER_COLUMNS`` of every dated lettered receivable line,
    rejected and later lines included, to date the letters that have no DateLet.
    Returns the items sorted by line, the documents rejected for a due date before
    their issue date, and the counters.
    """
    counts = DocumentCounts()
    entries = entries.reset_index(drop=True)
    settled = settled_dates(entries, letters, rules.as_of)
    opening = entries["is_opening"].to_numpy(dtype=bool)
    documents, rejections = _document_items(
        entries[~opening], settled[~opening], rules, counts
    )
    openings = _opening_items(entries[opening], settled[opening], rules, counts)
    items = documents
    if openings:
        items = pd.concat([documents, ItemTable.from_items(openings).frame])
        items = items.sort_values("line", kind="stable")
    return ItemTable(items), rejections, counts


def settled_dates(
    entries: pd.DataFrame, letters: pd.DataFrame, as_of: dt.date
) -> np.ndarray:
    """Return the date each line was settled on, or NaT when it is open on ``as_of``.

    A lettered line (EcritureLet) is settled on its DateLet. Without DateLet, the
    lettering date is taken as the latest EcritureDate among the customer's lines
    with that letter, including lines booked after ``as_of``: the letter closed
    when its last line was booked.
    NOTE: some ledgers mark partial lettering with lower-case letters. This reader
    does not know that convention and treats such lines as settled.
    """
    lettered = entries["letter"].to_numpy() != ""
    closed = _days(entries["letter_date"])
    undated = lettered & np.isnat(closed)
    if undated.any():
        keys = entries.loc[undated, ["customer_id", "letter"]]
        same_letter = letters[letters["letter"].isin(set(keys["letter"]))]
        latest = same_letter.groupby(["customer_id", "letter"])["entry_date"].max()
        closed[undated] = _days(latest.reindex(pd.MultiIndex.from_frame(keys)))
    return np.where(lettered & (closed <= np.datetime64(as_of, "D")), closed, _NO_DAY)


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy().astype("datetime64[D]")


# --- Documents: the lines of one customer with one PieceRef on one side -------------


def _document_items(
    entries: pd.DataFrame,
    settled: np.ndarray,
    rules: DocumentRules,
    counts: DocumentCounts,
) -> tuple[pd.DataFrame, list[Rejection]]:
    if entries.empty:
        return ItemTable.from_items([]).frame, []
    document = _document_codes(entries)
    # Rows are sorted by line, so a document's first row is its first line.
    first = np.unique(document, return_index=True)[1]
    counts.lines_merged += len(entries) - len(first)
    totals = _document_totals(document, entries, settled)
    head = entries.iloc[first].reset_index(drop=True)

    issue = totals["issue"]
    is_debit = head["is_debit"].to_numpy(dtype=bool)
    due = np.where(is_debit, _due_dates(head, issue, rules, counts), issue)
    early = is_debit & (due < issue)
    rejections = [
        _due_date_rejection(head.iloc[row], due[row], issue[row])
        for row in np.flatnonzero(early)
    ]

    accepted = head[~early].reset_index(drop=True)
    is_debit = accepted["is_debit"].to_numpy(dtype=bool)
    customers = accepted["customer_id"].tolist()
    teams = {customer: rules.team_of(customer) for customer in set(customers)}
    is_payment = accepted["is_payment"].to_numpy(dtype=bool)
    kinds = _KINDS[np.where(is_debit, 2, is_payment.astype(np.int64))]
    items = pd.DataFrame(
        {
            "line": accepted["line"].to_numpy(np.int64),
            "legacy_id": _legacy_ids(
                customers, accepted["piece_ref"].tolist(), is_debit
            ),
            "customer_legacy_id": accepted["customer_id"],
            "customer_name": accepted["customer_name"],
            "team": pd.Series(
                [teams[customer] for customer in customers], dtype=object
            ),
            "kind": pd.Series(kinds, dtype=object),
            "document": accepted["piece_ref"],
            "issue_date": issue[~early],
            "due_date": due[~early],
            "cents": totals["cents"][~early],
            "settled_date": totals["settled"][~early],
            "is_credit": ~is_debit,
        }
    )
    return _with_defaults(items), rejections


def _with_defaults(items: pd.DataFrame) -> pd.DataFrame:
    """Add the item columns that FEC does not fill, with LegacyItem's defaults."""
    return items.assign(disputed=False, country=None, currency="EUR")


def _document_codes(entries: pd.DataFrame) -> np.ndarray:
    """Number the documents (customer, PieceRef, side) in order of first line."""
    customer = entries["customer_code"].to_numpy(np.int64)
    piece = entries["piece_code"].to_numpy(np.int64)
    side = entries["is_debit"].to_numpy(np.int64)
    key = (customer * (piece.max() + 1) + piece) * 2 + side
    return pd.factorize(key)[0]


def _document_totals(
    document: np.ndarray, entries: pd.DataFrame, settled: np.ndarray
) -> dict[str, np.ndarray]:
    """Return each document's issue date, settled date and amount in cents.

    The issue date is the earliest PieceDate, or EcritureDate for a line without
    one. A document is settled when all its lines are, on the latest of their
    dates, and then counts in full. Otherwise it counts only its open lines,
    because the settled lines were matched against payments that are not open
    either.
    NOTE: a document with both settled and open lines thus loses the settled part.
    """
    piece_date = _days(entries["piece_date"])
    issue = np.where(np.isnat(piece_date), _days(entries["entry_date"]), piece_date)
    cents = entries["cents"].to_numpy()
    signed = np.where(entries["is_debit"].to_numpy(dtype=bool), cents, -cents)
    is_settled = ~np.isnat(settled)
    # Dates are summarised as int64 days. NaT is the minimum int64, so max skips it.
    sums = (
        pd.DataFrame(
            {
                "document": document,
                "issue": issue.view(np.int64),
                "settled": settled.view(np.int64),
                "is_settled": is_settled,
                "signed": signed,
                "open": np.where(is_settled, 0, signed),
            }
        )
        .groupby("document", sort=True)
        .agg(
            issue=("issue", "min"),
            settled=("settled", "max"),
            all_settled=("is_settled", "all"),
            signed=("signed", "sum"),
            open=("open", "sum"),
        )
    )
    all_settled = sums["all_settled"].to_numpy(dtype=bool)
    net = np.where(all_settled, sums["signed"].to_numpy(), sums["open"].to_numpy())
    settled_on = sums["settled"].to_numpy(np.int64).view("datetime64[D]")
    return {
        "issue": sums["issue"].to_numpy(np.int64).view("datetime64[D]"),
        "settled": np.where(all_settled, settled_on, _NO_DAY),
        "cents": np.abs(net),
    }


def _due_dates(
    head: pd.DataFrame, issue: np.ndarray, rules: DocumentRules, counts: DocumentCounts
) -> np.ndarray:
    """Return each invoice's due date: from ``rules.due_dates``, else the term.

    Only the invoices (debit documents) are counted.
    """
    is_debit = head["is_debit"].to_numpy(dtype=bool)
    due = _term_due_dates(issue, rules.payment_term)
    from_file = np.zeros(len(head), dtype=bool)
    if rules.due_dates:
        for row, piece_ref in enumerate(head["piece_ref"].tolist()):
            if is_debit[row] and piece_ref in rules.due_dates:
                due[row] = np.datetime64(rules.due_dates[piece_ref], "D")
                from_file[row] = True
    counts.due_dates_from_file += int(from_file.sum())
    counts.due_dates_from_term += int((is_debit & ~from_file).sum())
    return due


def _term_due_dates(issue: np.ndarray, term: PaymentTerm) -> np.ndarray:
    """Apply ``term`` to each issue date, as ``PaymentTerm.due_date`` does."""
    due = issue + np.timedelta64(term.days, "D")
    if term.end_of_month:
        next_month = due.astype("datetime64[M]") + np.timedelta64(1, "M")
        due = next_month.astype("datetime64[D]") - np.timedelta64(1, "D")
    return due


def _due_date_rejection(
    first: pd.Series, due: np.datetime64, issue: np.datetime64
) -> Rejection:
    issue_column = "EcritureDate" if pd.isna(first["piece_date"]) else "PieceDate"
    return reject(
        int(first["line"]),
        "DueDate",
        f"{due.astype(object):%Y%m%d}",
        "date_before",
        other_field=issue_column,
        other_value=f"{issue.astype(object):%Y%m%d}",
    )


def _legacy_ids(
    customers: list[str], piece_refs: list[str], is_debit: np.ndarray
) -> list[str]:
    """Return ``fec:{customer}:{PieceRef}:{D|C}`` for each document.

    EcritureNum is left out on purpose: a document may sum several entries, and an
    invoice carried into the next year's opening entries keeps its PieceRef but not
    its EcritureNum, so this id stays the same across years.
    NOTE: a ledger that restarts PieceRef numbering each year without a year in the
    reference gives two documents the same id across years.
    """
    escaped = {customer: _escaped(customer) for customer in set(customers)}
    # Escaping each reference costs more than checking them all at once.
    joined = "".join(piece_refs)
    if "%" in joined or ":" in joined:
        piece_refs = [_escaped(piece_ref) for piece_ref in piece_refs]
    sides = np.where(is_debit, "D", "C").tolist()
    return [
        f"{SOURCE}:{escaped[customer]}:{piece_ref}:{side}"
        for customer, piece_ref, side in zip(customers, piece_refs, sides, strict=True)
    ]


def _escaped(part: str) -> str:
    """Return ``part`` escaped as ``join_legacy_id`` escapes each part."""
    return join_legacy_id(part)


# --- Opening balances: a customer's opening lines without an invoice reference -----


def _opening_items(
    entries: pd.DataFrame,
    settled: np.ndarray,
    rules: DocumentRules,
    counts: DocumentCounts,
) -> list[LegacyItem]:
    """Net each customer's opening lines into one OPENING item, unless it is zero.

    The item is due on its issue date, the earliest EcritureDate of the lines,
    because the invoices behind an opening balance are older than the balance.
    """
    counts.opening_lines += len(entries)
    rows_of: dict[str, list[int]] = {}
    for row, customer in enumerate(entries["customer_id"].tolist()):
        rows_of.setdefault(customer, []).append(row)
    lines = entries["line"].tolist()
    entry_dates = _days(entries["entry_date"]).astype(object).tolist()
    settled_on = settled.astype(object).tolist()
    cents = entries["cents"].tolist()
    is_debit = entries["is_debit"].tolist()
    items = []
    for customer, rows in rows_of.items():
        first = entries.iloc[rows[0]]
        issue_date = min(entry_dates[row] for row in rows)
        signed = [cents[row] if is_debit[row] else -cents[row] for row in rows]
        dates = [settled_on[row] for row in rows]
        if all(dates):
            net, settled_date = sum(signed), max(dates)
        else:
            open_amounts = zip(signed, dates, strict=True)
            net = sum(amount for amount, date in open_amounts if not date)
            settled_date = None
        if net == 0:
            counts.opening_balances_zero += 1
            continue
        items.append(
            LegacyItem(
                line=lines[rows[0]],
                legacy_id=join_legacy_id(
                    SOURCE, customer, "opening", f"{issue_date:%Y%m%d}"
                ),
                customer_legacy_id=customer,
                customer_name=first["customer_name"],
                team=rules.team_of(customer),
                kind=ItemKind.OPENING,
                document=first["piece_ref"] or first["journal_code"],
                issue_date=issue_date,
                due_date=issue_date,
                amount=Decimal(abs(net)).scaleb(-2),
                settled_date=settled_date,
                is_credit=net < 0,
            )
        )
    return items
