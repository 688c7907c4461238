"""Upsert validated legacy items into the ledger, keyed by legacy source and id.

The loader compares each item with the row in the database and writes only the
differences, so loading the same file twice changes nothing. It works on an
``ItemTable``: whole columns are compared with the existing rows, Python dicts are
built only for the rows that change, and new rows are inserted in batches of
``BATCH_SIZE``, with executemany, or with COPY on PostgreSQL. The caller owns the
transaction: everything written here commits or rolls back together.

Every write is recorded for a rollback (see ``migration.models.RunChange``): rows the
run creates carry its id in ``import_run_id``, and updated and deleted rows get a
RunChange with their values before the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from operator import ne
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from app.auth.models import Team
from app.extensions import db
from app.ledger.models import (
    Allocation,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
)
from app.ledger.money import ZERO
from migration.bulk import driver_columns, fetch, read_cents, write_rows
from migration.item_table import ItemTable, paid_part_cents
from migration.models import ChangeAction, RunChange
from migration.records import (
    PAID_PART_SUFFIX,
    ItemKind,
    LegacyItem,
    RejectedDocuments,
)

logger = logging.getLogger(__name__)

SETTLEMENT_SUFFIX = "#settlement"
BATCH_SIZE = 5000
# Legacy ids of missing open items listed in a run's summary; the count is exact.
MISSING_IDS_LISTED = 1000
_CREDIT_KINDS = {
    ItemKind.PAYMENT: PaymentKind.PAYMENT,
    ItemKind.CREDIT_NOTE: PaymentKind.CREDIT_NOTE,
    ItemKind.OPENING: PaymentKind.OPENING,
}
CUSTOMER_COLUMNS = ("name", "country", "team_id", "currency")
INVOICE_COLUMNS = (
    "customer_id",
    "number",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "currency",
    "status",
    "disputed",
)
PAYMENT_COLUMNS = ("customer_id", "received_on", "amount", "kind", "reference")
_STATUSES = np.array([InvoiceStatus.OPEN, InvoiceStatus.PAID], dtype=object)
# Called after each batch written, with the table name and the number of rows.
BatchHook = Callable[[str, int], None]


class MissingAction:
    """Action on the open items of earlier runs that a run's file lacks."""

    KEEP = "keep"  # leave them open, and report them
    SETTLE = "settle"  # close them on the as-of date, and report them


MISSING_ACTIONS = (MissingAction.KEEP, MissingAction.SETTLE)


@dataclasses.dataclass
class MissingItems:
    """Open items loaded by earlier runs that the run's file no longer lists.

    Only customers in the run's scope count: every customer of the source, or for
    a wave run the customers of the wave's teams. Open invoices count, and so do
    open credits of customers that the file does not list at all (the loader
    deletes the absent credits of listed customers as matched). Rows of rejected
    documents do not count. ``legacy_ids`` lists the first ``MISSING_IDS_LISTED``
    legacy ids in order, for people. ``every_legacy_id`` lists them all for the
    reconciliation, which leaves these items out of its comparison.
    """

    action: str = MissingAction.KEEP
    open_invoices: int = 0
    open_credits: int = 0
    settled_invoices: int = 0  # closed with a settlement payment (action settle)
    deleted_credits: int = 0  # deleted as matched (action settle)
    legacy_ids: list[str] = dataclasses.field(default_factory=list)
    every_legacy_id: list[str] = dataclasses.field(default_factory=list, repr=False)


@dataclasses.dataclass
class LoadCounts:
    """Rows created, updated, deleted and left unchanged, over all tables.

    Teams, customers, invoices and payments count; allocations, which follow their
    payment, do not. ``missing`` reports the open items that the file lacks.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    missing: MissingItems = dataclasses.field(default_factory=MissingItems)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@dataclasses.dataclass
class _Table:
    """Rows to insert, update and delete in one table.

    ``inserts`` has the table's column names. Amounts are integer cents and dates
    datetime64, converted only when written.
    """

    inserts: pd.DataFrame
    updates: list[dict] = dataclasses.field(default_factory=list)
    befores: list[dict] = dataclasses.field(default_factory=list)  # one per update
    deletes: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0


def json_value(value: object) -> object:
    """Return a column value as a JSON value: dates and amounts become ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


class _Writer:
    """Batched writes of one run, with the undo records of every change."""

    def __init__(
        self, run_id: int | None, dry_run: bool, on_batch: BatchHook | None
    ) -> None:
        self.run_id = run_id
        self.dry_run = dry_run
        self.on_batch = on_batch
        self.counts = LoadCounts()
        self.changes: list[dict] = []

    def batches(self, table_name: str, rows: Sequence) -> Iterable[Sequence]:
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            yield batch
            if self.on_batch is not None:
                self.on_batch(table_name, len(batch))

    def record(self, table_name: str, row_id: int, action: str, before=None) -> None:
        self.changes.append(
            {
                "run_id": self.run_id,
                "table_name": table_name,
                "row_id": row_id,
                "action": action,
                "before": before,
            }
        )

    def insert(self, table: Table, rows: pd.DataFrame) -> None:
        """Insert ``rows`` in batches, converting their values once for all batches."""
        if rows.empty:
            return
        names, values = driver_columns(table, rows)
        for batch in self.batches(table.name, range(len(rows))):
            start, stop = batch.start, batch.stop
            write_rows(table, names, [column[start:stop] for column in values])

    def apply(self, model, table: _Table, *, counted: bool = True) -> None:
        """Write ``table``'s plan to ``model``'s table and record the undo data."""
        if counted:
            self.counts.created += len(table.inserts)
            self.counts.updated += len(table.updates)
            self.counts.deleted += len(table.deletes)
            self.counts.unchanged += table.unchanged
        if self.dry_run:
            return
        name = model.__tablename__
        columns = {"import_run_id": self.run_id}
        # In legacy id order, the unique index on (legacy_source, legacy_id) grows
        # at one end instead of at random places. That took SQLite's insert of the
        # invoices from 9.8 s to 5.2 s at 1,000,000 lines (bench/import.py). New
        # rows thus get their ids in legacy id order, not in file order.
        keys = table.inserts["legacy_id"].tolist()
        # Python sorts text faster than pandas' sort_values does.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self.insert(model.__table__, table.inserts.iloc[order].assign(**columns))
        for row, before in zip(table.updates, table.befores, strict=True):
            self.record(name, row["id"], ChangeAction.UPDATED, before)
        for batch in self.batches(name, table.updates):
            db.session.execute(update(model), [row | columns for row in batch])
        self.delete(model, table.deletes)

    def delete(self, model, ids: list[int]) -> None:
        """Delete the rows ``ids`` of ``model``, keeping each whole row for undo."""
        if self.dry_run or not ids:
            return
        name = model.__tablename__
        for batch in self.batches(name, ids):
            rows = db.session.execute(
                select(model.__table__).where(model.__table__.c.id.in_(batch))
            ).mappings()
            for row in rows:
                before = {key: json_value(value) for key, value in row.items()}
                self.record(name, row["id"], ChangeAction.DELETED, before)
            db.session.execute(delete(model).where(model.id.in_(batch)))

    def save_changes(self) -> None:
        if self.dry_run:
            return
        for batch in self.batches(RunChange.__tablename__, self.changes):
            db.session.execute(insert(RunChange.__table__), batch)
        self.changes = []


# --- Planning: what to insert, update or leave ------------------------------------


def _plan(
    desired: pd.DataFrame,
    existing: dict[str, dict],
    source: str,
    compared: dict[str, np.ndarray] | None = None,
) -> _Table:
    """Plan the inserts and updates that make the rows equal ``desired``.

    ``desired`` has a ``key`` column (the legacy id) and the columns to write.
    A key missing from ``existing`` is inserted with all its columns. A row of an
    existing key is compared column by column, as Python values, and updated with
    the columns that differ. ``compared`` limits a column to the rows where its
    mask is true, for values the file does not always give.
    """
    keys = desired["key"].tolist()
    is_new = np.fromiter((key not in existing for key in keys), bool, len(keys))
    columns = [name for name in desired.columns if name != "key"]
    inserts = desired.loc[is_new, columns].assign(
        legacy_source=source, legacy_id=desired.loc[is_new, "key"]
    )
    table = _Table(inserts=inserts.reset_index(drop=True))
    if is_new.all():
        return table

    matched = desired.loc[~is_new]
    current = [existing[key] for key in matched["key"].tolist()]
    differs: dict[str, np.ndarray] = {}
    values: dict[str, list] = {}
    for name in columns:
        values[name] = _python_values(matched[name], name)
        now = [row.get(name) for row in current]
        differs[name] = np.fromiter(map(ne, now, values[name]), bool, len(now))
        if compared is not None and name in compared:
            differs[name] &= compared[name][~is_new]
    changed = np.any(np.column_stack(list(differs.values())), axis=1)
    table.unchanged = int((~changed).sum())
    for row in np.flatnonzero(changed).tolist():
        names = [name for name in columns if differs[name][row]]
        before = {name: json_value(current[row][name]) for name in names}
        before["import_run_id"] = current[row]["import_run_id"]
        table.updates.append(
            {"id": current[row]["id"], **{name: values[name][row] for name in names}}
        )
        table.befores.append(before)
    return table


def _python_values(values: pd.Series, name: str) -> list:
    """Return a planned column as the Python values the ORM reads back."""
    if values.dtype.kind == "M":
        return values.to_numpy().astype("datetime64[D]").astype(object).tolist()
    if name in ("amount", "open_amount"):
        return [Decimal(int(cents)).scaleb(-2) for cents in values.tolist()]
    return values.tolist()


def _existing_rows(model, source: str, columns: Sequence[str]) -> dict[str, dict]:
    names = ["id", "legacy_id", "import_run_id", *columns]
    attributes = [getattr(model, name) for name in names]
    rows = db.session.execute(select(*attributes).where(model.legacy_source == source))
    return {row.legacy_id: row._asdict() for row in rows}


def _ids_of(model, source: str) -> dict[str, int]:
    """Return the id of each legacy id of ``source``."""
    rows, _ = fetch(
        f"SELECT legacy_id, id FROM {model.__tablename__} WHERE legacy_source = ?",
        (source,),
    )
    return dict(rows)


def _team_ids(codes: set[str], writer: _Writer) -> dict[str, int]:
    """Return the id of each team code, creating the missing teams."""
    found = dict(
        db.session.execute(select(Team.code, Team.id).where(Team.code.in_(codes))).all()
    )
    missing = sorted(codes - found.keys())
    writer.counts.created += len(missing)
    if missing and not writer.dry_run:
        for code in missing:
            team_id = db.session.execute(
                insert(Team).values(code=code, name=code).returning(Team.id)
            ).scalar_one()
            found[code] = team_id
            writer.record(Team.__tablename__, team_id, ChangeAction.CREATED)
    return found


def _lookup(keys: pd.Series, ids: dict[str, int]) -> pd.Series:
    """Return the id of each key, None where ``ids`` has none (a dry run's new rows).

    Each distinct key is looked up once: a file has far fewer customers than lines.
    """
    codes, distinct = pd.factorize(keys, use_na_sentinel=False)
    found = np.array([ids.get(key) for key in distinct], dtype=object)
    return pd.Series(found[codes], dtype=object)


# --- Loading ----------------------------------------------------------------------


def load_items(
    items: ItemTable | Iterable[LegacyItem],
    *,
    source: str,
    run_id: int | None,
    dry_run: bool,
    on_batch: BatchHook | None = None,
    rejected: RejectedDocuments | None = None,
    missing: str = MissingAction.KEEP,
    as_of: dt.date | None = None,
    teams: frozenset[str] | None = None,
) -> LoadCounts:
    """Write the items of one legacy file; return what was created, updated, deleted.

    The customers of ``items`` are the run's scope: their settlement payments and
    open credits that the file no longer has are deleted. Other customers of the
    source are left alone, so a run limited to one wave keeps the earlier waves.
    The ledger rows of ``rejected`` documents are left as they are.

    Open items of earlier runs that the file lacks are counted in
    ``LoadCounts.missing``, for the customers of the wave's ``teams`` (None: every
    customer of the source). With ``missing`` settle, the invoices among them are
    settled on ``as_of`` and the credits deleted.
    """
    if missing not in MISSING_ACTIONS:
        raise ValueError(f"missing must be one of {MISSING_ACTIONS}, not {missing!r}")
    if missing == MissingAction.SETTLE and as_of is None:
        raise ValueError("settling missing items needs the as-of date")
    if not isinstance(items, ItemTable):
        items = ItemTable.from_items(items)
    rejected = rejected or RejectedDocuments()
    frame = items.frame
    is_paid_part, paid_cents = paid_part_cents(frame)
    is_credit = frame["is_credit"].to_numpy(dtype=bool)
    is_settled = frame["settled_date"].notna().to_numpy()
    debits = frame[~is_credit].reset_index(drop=True)
    paid_parts = frame[is_paid_part].reset_index(drop=True)
    credits = frame[is_credit & ~is_settled & ~is_paid_part].reset_index(drop=True)
    writer = _Writer(run_id, dry_run, on_batch)

    teams_in_file = {team for team in frame["team"].dropna().unique().tolist() if team}
    team_ids = _team_ids(teams_in_file, writer)
    customers = frame.drop_duplicates("customer_legacy_id").reset_index(drop=True)
    customer_ids = _load_customers(customers, source, team_ids, writer)
    keys = customers["customer_legacy_id"].tolist()
    scope = {customer_ids[key] for key in keys if key in customer_ids}
    ledger = _Ledger(source, customer_ids, rejected)

    invoices = _existing_rows(Invoice, source, INVOICE_COLUMNS)
    _load_invoices(
        debits, paid_cents[~is_credit], invoices, source, customer_ids, writer
    )
    # Writing settlement payments changes no other payment, so one read serves all.
    payments = _existing_rows(Payment, source, PAYMENT_COLUMNS)
    settlements, paid_part_rows, open_credits = _split_payments(payments)
    _load_settlements(debits, settlements, source, customer_ids, scope, writer)
    _load_paid_parts(paid_parts, paid_part_rows, debits, ledger, writer)
    _load_open_credits(credits, open_credits, ledger, scope, writer)

    found = _find_missing(
        invoices, open_credits, frame, ledger, _missing_scope(ledger, teams)
    )
    found.action = missing
    if missing == MissingAction.SETTLE:
        assert as_of is not None
        _settle_missing(
            found, invoices, open_credits, settlements, source, as_of, writer
        )
    writer.save_changes()
    counts = writer.counts
    counts.missing = _missing_report(found)
    if counts.changed and not dry_run:
        _refresh_statistics()
    logger.info(
        "loaded %s: %d created, %d updated, %d deleted, %d unchanged, "
        "%d open items missing from the file (%s) (dry run: %s)",
        source,
        counts.created,
        counts.updated,
        counts.deleted,
        counts.unchanged,
        len(found.invoice_keys) + len(found.credit_keys),
        missing,
        dry_run,
    )
    return counts


@dataclasses.dataclass
class _Ledger:
    """Customer ids and rejected documents of one source, as the loader uses them."""

    source: str
    customer_ids: dict[str, int]  # legacy id to id
    rejected: RejectedDocuments

    @functools.cached_property
    def customer_keys(self) -> dict[int, str]:
        return {row_id: key for key, row_id in self.customer_ids.items()}

    def keeps(self, row: dict, document_column: str) -> bool:
        """Return whether ``row`` belongs to a rejected document and stays as it is."""
        customer = self.customer_keys.get(row["customer_id"])
        return self.rejected.keeps(customer, row[document_column])


def _split_payments(
    payments: dict[str, dict],
) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """Split a source's payments into settlements, paid parts and open credits."""
    settlements: dict[str, dict] = {}
    paid_parts: dict[str, dict] = {}
    open_credits: dict[str, dict] = {}
    for key, row in payments.items():
        if key.endswith(SETTLEMENT_SUFFIX):
            settlements[key] = row
        elif key.endswith(PAID_PART_SUFFIX):
            paid_parts[key] = row
        else:
            open_credits[key] = row
    return settlements, paid_parts, open_credits


def _refresh_statistics() -> None:
    """Let PostgreSQL's planner see the rows just written (ANALYZE).

    Until autovacuum analyzes them, the planner believes new tables are nearly
    empty. The reconciliation's joins after a first load of 200,000 lines then took
    19 s instead of 0.1 s (bench/import.py). SQLite's plans did not need it.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        tables = (Customer, Invoice, Payment, Allocation)
        names = ", ".join(model.__tablename__ for model in tables)
        connection.exec_driver_sql(f"ANALYZE {names}")


def _load_customers(
    customers: pd.DataFrame, source: str, team_ids: dict[str, int], writer: _Writer
) -> dict[str, int]:
    """Upsert ``customers`` (each one's first item) and return the source's ids.

    A customer whose file row names no team keeps the team it has in Cadence.
    """
    existing = _existing_rows(Customer, source, CUSTOMER_COLUMNS)
    keys = customers["customer_legacy_id"]
    teams = customers["team"].tolist()
    desired = pd.DataFrame(
        {
            "key": keys,
            "name": customers["customer_name"],
            "country": customers["country"],
            "currency": customers["currency"],
            "team_id": pd.Series(
                [team_ids.get(team) if team else None for team in teams],
                dtype=object,
            ),
        }
    )
    has_team = np.array([bool(team) for team in teams], dtype=bool)
    table = _plan(desired, existing, source, compared={"team_id": has_team})
    writer.apply(Customer, table)
    return _ids_of(Customer, source)


def _load_invoices(
    debits: pd.DataFrame,
    paid_cents: np.ndarray,
    existing: dict[str, dict],
    source: str,
    customer_ids: dict[str, int],
    writer: _Writer,
) -> None:
    """Upsert the invoices, open ones for their amount less ``paid_cents``."""
    is_open = debits["settled_date"].isna().to_numpy()
    cents = debits["cents"].to_numpy()
    open_cents = cents - paid_cents
    desired = pd.DataFrame(
        {
            "key": debits["legacy_id"],
            "customer_id": _lookup(debits["customer_legacy_id"], customer_ids),
            "number": debits["document"],
            "issue_date": debits["issue_date"],
            "due_date": debits["due_date"],
            "amount": cents,
            "open_amount": np.where(is_open, open_cents, 0),
            "currency": debits["currency"],
            "status": _STATUSES[(~is_open).astype(np.int64)],
            "disputed": debits["disputed"],
        }
    )
    writer.apply(Invoice, _plan(desired, existing, source))


def _load_settlements(
    debits: pd.DataFrame,
    existing: dict[str, dict],
    source: str,
    customer_ids: dict[str, int],
    scope: set[int],
    writer: _Writer,
) -> None:
    """Give every invoice settled on the as-of date one payment allocated in full to it.

    ``existing`` has the source's settlement payments. A settlement payment of a
    customer in ``scope`` whose invoice this file shows open again (an earlier
    as-of date) is deleted with its allocation. A stored payment keeps its date
    when the file's date is assumed (see ``_assumed_dates_kept``).
    """
    is_settled = debits["settled_date"].notna().to_numpy()
    settled = debits[is_settled].reset_index(drop=True)
    keys = settled["legacy_id"] + SETTLEMENT_SUFFIX
    desired = pd.DataFrame(
        {
            "key": keys,
            "customer_id": _lookup(settled["customer_legacy_id"], customer_ids),
            "received_on": settled["settled_date"],
            "amount": settled["cents"],
            "kind": PaymentKind.PAYMENT,
            "reference": settled["document"],
        }
    )
    table = _plan(desired, existing, source, compared=_assumed_dates_kept(settled))
    wanted = set(keys.tolist())
    # Only an invoice that this file shows open again loses its settlement. An
    # invoice missing from the file keeps it, so a partial export deletes nothing.
    reopened = set(debits.loc[~is_settled, "legacy_id"].tolist())
    table.deletes = [
        row["id"]
        for key, row in existing.items()
        if key not in wanted
        and row["customer_id"] in scope
        and key.removesuffix(SETTLEMENT_SUFFIX) in reopened
    ]
    _delete_allocations_of(table.deletes, writer)
    writer.apply(Payment, table)
    if writer.dry_run:
        return
    if not existing and _fits_column(settled["cents"], Payment.__table__.c.amount):
        _allocate_new_settlements(source, writer)
        return
    previous_ids = {row["id"] for row in existing.values()}
    _sync_settlement_allocations(source, wanted, previous_ids, writer)


def _fits_column(cents: pd.Series, column) -> bool:
    """Return whether every amount fits the Numeric ``column`` and reads back exactly.

    SQLite stores amounts as floats. Below 2**43 the float of a two-decimal amount
    is off by less than half a cent, so it reads back as the same amount, and
    copying the float in SQL stores what binding the amount read back would store.
    """
    declared = 10 ** (column.type.precision - column.type.scale)
    limit = min(declared, 2**43) * 100
    return bool((cents.abs() < limit).all()) if len(cents) else True


def _allocate_new_settlements(source: str, writer: _Writer) -> None:
    """Allocate each settlement payment of ``source`` in full to its invoice, in SQL.

    Only for a source that had no settlement payment before this run: every one is
    then new and unallocated. One INSERT ... SELECT joins each payment to its
    invoice through the unique index on legacy ids, which is much faster than
    fetching both to Python.
    """
    connection = db.session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    length = len(SETTLEMENT_SUFFIX)
    invoice_key = (
        f"substr(payments.legacy_id, 1, length(payments.legacy_id) - {length})"
    )
    key_suffix = (
        f"substr(payments.legacy_id, length(payments.legacy_id) - {length - 1})"
    )
    statement = (
        "INSERT INTO allocations (payment_id, invoice_id, amount) "
        "SELECT payments.id, invoices.id, payments.amount FROM payments "
        "JOIN invoices ON invoices.legacy_source = payments.legacy_source "
        f"AND invoices.legacy_id = {invoice_key} "
        f"WHERE payments.legacy_source = {marker} AND {key_suffix} = {marker} "
        "ORDER BY payments.id"
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement, (source, SETTLEMENT_SUFFIX))
        count = cursor.rowcount
    finally:
        cursor.close()
    # Report the rows in the batches that executemany would have written.
    for _ in writer.batches(Allocation.__tablename__, range(count)):
        pass


def _settlement_payments(source: str, wanted: set[str]) -> pd.DataFrame:
    """Return the wanted settlement payments as stored, with their invoice's id.

    The columns are payment_id, invoice_id and cents: the payment's amount as
    SQLAlchemy reads it back, which the writes above made equal to the file's,
    unless the database rounded it. The database joins each payment to its invoice
    through the unique index on legacy ids, faster than a lookup in Python.
    """
    suffix_length = len(SETTLEMENT_SUFFIX)
    rows, type_codes = fetch(
        "SELECT payments.id, payments.legacy_id, payments.amount, invoices.id "
        "FROM payments JOIN invoices "
        "ON invoices.legacy_source = payments.legacy_source AND invoices.legacy_id = "
        f"substr(payments.legacy_id, 1, length(payments.legacy_id) - {suffix_length}) "
        "WHERE payments.legacy_source = ? AND payments.legacy_id LIKE ? "
        "ORDER BY payments.id",
        (source, "%" + SETTLEMENT_SUFFIX),
    )
    rows = [row for row in rows if row[1] in wanted]
    columns = list(zip(*rows, strict=True)) or [(), (), (), ()]
    amounts = read_cents(list(columns[2]), Payment.__table__.c.amount, type_codes[2])
    return pd.DataFrame(
        {
            "payment_id": np.array(columns[0], dtype=np.int64),
            "invoice_id": np.array(columns[3], dtype=np.int64),
            "cents": np.array(amounts, dtype=object),
        }
    )


def _delete_allocations_of(payment_ids: list[int], writer: _Writer) -> None:
    if writer.dry_run or not payment_ids:
        return
    allocation_ids = db.session.scalars(
        select(Allocation.id).where(Allocation.payment_id.in_(payment_ids))
    ).all()
    writer.delete(Allocation, list(allocation_ids))


def _sync_settlement_allocations(
    source: str,
    wanted: set[str],
    previous_ids: set[int],
    writer: _Writer,
) -> None:
    """Make each wanted settlement payment allocate exactly its amount to its invoice.

    An allocation added to a payment that existed before the run gets a ``created``
    change, because only the payment's own creation would otherwise undo it.
    """
    payments = _settlement_payments(source, wanted)
    allocated = {
        row.payment_id: row
        for row in db.session.execute(
            select(
                Allocation.id,
                Allocation.payment_id,
                Allocation.invoice_id,
                Allocation.amount,
            )
            .join(Payment)
            .where(Payment.legacy_source == source)
        )
    }
    payment_ids = payments["payment_id"]
    # Payments created by this run have no allocation yet: insert them all at once.
    is_new = ~payment_ids.isin(allocated.keys()) & ~payment_ids.isin(previous_ids)
    new_rows = payments[is_new]
    writer.insert(
        Allocation.__table__,
        pd.DataFrame(
            {
                "payment_id": new_rows["payment_id"],
                "invoice_id": new_rows["invoice_id"],
                "amount": new_rows["cents"],
            }
        ),
    )
    old_payment_rows, changed, befores = [], [], []
    for payment_id, invoice_id, cents in payments.loc[
        ~is_new, ["payment_id", "invoice_id", "cents"]
    ].itertuples(index=False):
        amount = Decimal(int(cents)).scaleb(-2)
        row = {"payment_id": payment_id, "invoice_id": invoice_id, "amount": amount}
        current = allocated.get(payment_id)
        if current is None:
            old_payment_rows.append(row)
        elif (current.amount, current.invoice_id) != (amount, invoice_id):
            changed.append(
                {"id": current.id, "amount": amount, "invoice_id": invoice_id}
            )
            befores.append(
                {"amount": json_value(current.amount), "invoice_id": current.invoice_id}
            )
    for row in old_payment_rows:
        allocation_id = db.session.execute(
            insert(Allocation).values(**row).returning(Allocation.id)
        ).scalar_one()
        writer.record(Allocation.__tablename__, allocation_id, ChangeAction.CREATED)
    for row, before in zip(changed, befores, strict=True):
        writer.record(Allocation.__tablename__, row["id"], ChangeAction.UPDATED, before)
    if changed:
        statement = (
            update(Allocation.__table__)
            .where(Allocation.__table__.c.id == bindparam("allocation_id"))
            .values(amount=bindparam("amount"), invoice_id=bindparam("invoice_id"))
        )
        rows = [
            {
                "allocation_id": row["id"],
                "amount": row["amount"],
                "invoice_id": row["invoice_id"],
            }
            for row in changed
        ]
        db.session.execute(statement, rows)


def _load_open_credits(
    credits: pd.DataFrame,
    existing: dict[str, dict],
    ledger: _Ledger,
    scope: set[int],
    writer: _Writer,
) -> None:
    """Load payments and credit notes still unallocated on the as-of date.

    ``existing`` has the source's open credits. An open credit of a customer in
    ``scope`` that the file no longer has (it was used up or matched since) is
    deleted, unless it belongs to a rejected document.
    """
    desired = _payments_of(credits, ledger.customer_ids)
    desired["kind"] = pd.Series(
        [_CREDIT_KINDS.get(kind, PaymentKind.PAYMENT) for kind in credits["kind"]],
        dtype=object,
    )
    table = _plan(desired, existing, ledger.source)
    wanted = set(credits["legacy_id"].tolist())
    table.deletes = [
        row["id"]
        for key, row in existing.items()
        if key not in wanted
        and row["customer_id"] in scope
        and not ledger.keeps(row, "reference")
    ]
    _delete_allocations_of(table.deletes, writer)
    writer.apply(Payment, table)


def _payments_of(credits: pd.DataFrame, customer_ids: dict[str, int]) -> pd.DataFrame:
    """Return the payment columns of credit items, all of the kind payment."""
    return pd.DataFrame(
        {
            "key": credits["legacy_id"],
            "customer_id": _lookup(credits["customer_legacy_id"], customer_ids),
            "received_on": credits["issue_date"],
            "amount": credits["cents"],
            "kind": PaymentKind.PAYMENT,
            "reference": credits["document"],
        }
    )


# --- Paid parts: the paid share of a partly paid invoice -----------------------------


def _load_paid_parts(
    paid_parts: pd.DataFrame,
    existing: dict[str, dict],
    debits: pd.DataFrame,
    ledger: _Ledger,
    writer: _Writer,
) -> None:
    """Load each paid part as a payment allocated to its invoice.

    ``existing`` has the source's paid parts. One whose invoice the file lists
    without a paid part (it is now settled, or open for its full amount) is deleted
    with its allocation. One whose invoice the file lacks stays with that invoice.
    A stored paid part keeps its date when the file's date is assumed.
    """
    if paid_parts.empty and not existing:
        return
    desired = _payments_of(paid_parts, ledger.customer_ids)
    kept_dates = _assumed_dates_kept(paid_parts)
    table = _plan(desired, existing, ledger.source, compared=kept_dates)
    wanted = set(paid_parts["legacy_id"].tolist())
    in_file = set(debits["legacy_id"].tolist())
    table.deletes = [
        row["id"]
        for key, row in existing.items()
        if key not in wanted and key.removesuffix(PAID_PART_SUFFIX) in in_file
    ]
    _delete_allocations_of(table.deletes, writer)
    writer.apply(Payment, table)
    keys = paid_parts["legacy_id"]
    pairs = pd.DataFrame(
        {
            "payment_key": keys,
            "invoice_key": keys.str.slice(0, -len(PAID_PART_SUFFIX)),
            "cents": paid_parts["cents"],
        }
    )
    previous_ids = {row["id"] for row in existing.values()}
    _sync_allocations(pairs, ledger.source, previous_ids, writer)


def _assumed_dates_kept(items: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return the ``compared`` mask that keeps the stored date of undated payments.

    A payment that the export does not date was made no later than the first
    export that showed it, so a later export's assumed date (a later as-of date)
    would move it later than it can be.
    """
    assumed = items["payment_date_assumed"].to_numpy(dtype=bool)
    return {"received_on": ~assumed}


def _sync_allocations(
    pairs: pd.DataFrame, source: str, previous_ids: set[int], writer: _Writer
) -> None:
    """Make each payment of ``pairs`` allocate exactly ``cents`` to its invoice.

    ``pairs`` has the columns payment_key, invoice_key (legacy ids) and cents. An
    allocation added to a payment of ``previous_ids`` (one that existed before the
    run) gets a ``created`` change, because only the payment's own creation would
    otherwise undo it.
    """
    if writer.dry_run or pairs.empty:
        return
    payment_ids = _ids_of(Payment, source)
    invoice_ids = _ids_of(Invoice, source)
    wanted = [
        (payment_ids[payment_key], invoice_ids[invoice_key], int(cents))
        for payment_key, invoice_key, cents in pairs.itertuples(index=False)
    ]
    current: dict[int, Any] = {}
    for batch in writer.batches(Allocation.__tablename__, [row[0] for row in wanted]):
        rows = db.session.execute(
            select(
                Allocation.id,
                Allocation.payment_id,
                Allocation.invoice_id,
                Allocation.amount,
            ).where(Allocation.payment_id.in_(batch))
        )
        for row in rows:
            current.setdefault(row.payment_id, row)

    new_rows = []
    for payment_id, invoice_id, cents in wanted:
        amount = Decimal(cents).scaleb(-2)
        allocation = current.get(payment_id)
        if allocation is None and payment_id not in previous_ids:
            new_rows.append((payment_id, invoice_id, cents))
        elif allocation is None:
            allocation_id = db.session.execute(
                insert(Allocation)
                .values(payment_id=payment_id, invoice_id=invoice_id, amount=amount)
                .returning(Allocation.id)
            ).scalar_one()
            writer.record(Allocation.__tablename__, allocation_id, ChangeAction.CREATED)
        elif (allocation.amount, allocation.invoice_id) != (amount, invoice_id):
            before = {
                "amount": json_value(allocation.amount),
                "invoice_id": allocation.invoice_id,
            }
            writer.record(
                Allocation.__tablename__, allocation.id, ChangeAction.UPDATED, before
            )
            db.session.execute(
                update(Allocation)
                .where(Allocation.id == allocation.id)
                .values(amount=amount, invoice_id=invoice_id)
            )
    writer.insert(
        Allocation.__table__,
        pd.DataFrame(new_rows, columns=["payment_id", "invoice_id", "amount"]),
    )


# --- Open items that the file no longer lists -------------------------------------


@dataclasses.dataclass
class _Missing:
    invoice_keys: list[str]
    credit_keys: list[str]
    action: str = MissingAction.KEEP
    settled_invoices: int = 0
    deleted_credits: int = 0


def _missing_scope(ledger: _Ledger, teams: frozenset[str] | None) -> set[int] | None:
    """Return the ids of the customers whose missing items count; None for all."""
    if teams is None:
        return None
    return set(
        db.session.scalars(
            select(Customer.id)
            .join(Team, Customer.team_id == Team.id)
            .where(Customer.legacy_source == ledger.source, Team.code.in_(teams))
        )
    )


def _find_missing(
    invoices: dict[str, dict],
    open_credits: dict[str, dict],
    frame: pd.DataFrame,
    ledger: _Ledger,
    scope: set[int] | None,
) -> _Missing:
    """Find the open invoices and credits of earlier runs that ``frame`` lacks.

    ``invoices`` and ``open_credits`` are the source's rows before the run. Only
    customers in ``scope`` (None: all) count, and the credits only of customers
    that the file does not list. Rows of rejected documents are left out.
    """

    def in_scope(row: dict) -> bool:
        return scope is None or row["customer_id"] in scope

    invoice_keys: list[str] = []
    candidates = {
        key: row
        for key, row in invoices.items()
        if row["status"] == InvoiceStatus.OPEN and in_scope(row)
    }
    if candidates:
        in_file = set(frame["legacy_id"].tolist())
        invoice_keys = [
            key
            for key, row in candidates.items()
            if key not in in_file and not ledger.keeps(row, "number")
        ]
    file_customers = {
        ledger.customer_ids.get(key)
        for key in frame["customer_legacy_id"].unique().tolist()
    }
    credit_keys = [
        key
        for key, row in open_credits.items()
        if in_scope(row)
        and row["customer_id"] not in file_customers
        and not ledger.keeps(row, "reference")
    ]
    return _Missing(sorted(invoice_keys), sorted(credit_keys))


def _settle_missing(
    found: _Missing,
    invoices: dict[str, dict],
    open_credits: dict[str, dict],
    settlements: dict[str, dict],
    source: str,
    as_of: dt.date,
    writer: _Writer,
) -> None:
    """Settle the missing invoices on ``as_of`` and delete the missing credits.

    Each invoice gets a settlement payment of its open amount, allocated to it,
    and the status paid. Every change is recorded, so a rollback reopens them.
    """
    rows = [invoices[key] for key in found.invoice_keys]
    table = _Table(inserts=pd.DataFrame({"legacy_id": pd.Series([], dtype=object)}))
    for row in rows:
        table.updates.append(
            {"id": row["id"], "status": InvoiceStatus.PAID, "open_amount": ZERO}
        )
        table.befores.append(
            {
                "status": row["status"],
                "open_amount": json_value(row["open_amount"]),
                "import_run_id": row["import_run_id"],
            }
        )
    writer.apply(Invoice, table)

    cents = [int(row["open_amount"].scaleb(2)) for row in rows]
    payment_keys = [key + SETTLEMENT_SUFFIX for key in found.invoice_keys]
    desired = pd.DataFrame(
        {
            "key": pd.Series(payment_keys, dtype=object),
            "customer_id": pd.Series(
                [row["customer_id"] for row in rows], dtype=object
            ),
            "received_on": pd.Series([as_of] * len(rows), dtype="datetime64[s]"),
            "amount": pd.Series(cents, dtype=np.int64),
            "kind": PaymentKind.PAYMENT,
            "reference": pd.Series([row["number"] for row in rows], dtype=object),
        }
    )
    writer.apply(Payment, _plan(desired, settlements, source))
    if rows:
        pairs = pd.DataFrame(
            {
                "payment_key": payment_keys,
                "invoice_key": found.invoice_keys,
                "cents": cents,
            }
        )
        previous_ids = {row["id"] for row in settlements.values()}
        _sync_allocations(pairs, source, previous_ids, writer)
    found.settled_invoices = len(rows)

    credit_ids = [open_credits[key]["id"] for key in found.credit_keys]
    _delete_allocations_of(credit_ids, writer)
    deletes = _Table(
        inserts=pd.DataFrame({"legacy_id": pd.Series([], dtype=object)}),
        deletes=credit_ids,
    )
    writer.apply(Payment, deletes)
    found.deleted_credits = len(credit_ids)


def _missing_report(found: _Missing) -> MissingItems:
    keys = sorted(found.invoice_keys + found.credit_keys)
    return MissingItems(
        action=found.action,
        open_invoices=len(found.invoice_keys),
        open_credits=len(found.credit_keys),
        settled_invoices=found.settled_invoices,
        deleted_credits=found.deleted_credits,
        legacy_ids=keys[:MISSING_IDS_LISTED],
        every_legacy_id=keys,
    )


def open_total(items: Iterable[LegacyItem]) -> Decimal:
    return sum((i.amount for i in items if i.settled_date is None), ZERO)
