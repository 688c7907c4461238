"""Upsert validated legacy items into the ledger, keyed by legacy source and id.

The loader compares each item with the row in the database and writes only the
differences, so loading the same file twice changes nothing. Rows are written with
executemany in batches of ``BATCH_SIZE``. The caller owns the transaction:
everything written here commits or rolls back together.

Every write is recorded for a rollback (see ``migration.models.RunChange``): rows the
run creates carry its id in ``import_run_id``, and updated and deleted rows get a
RunChange with their values before the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from sqlalchemy import Table, bindparam, delete, insert, select, update

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
from migration.models import ChangeAction, RunChange
from migration.records import ItemKind, LegacyItem

logger = logging.getLogger(__name__)

SETTLEMENT_SUFFIX = "#settlement"
BATCH_SIZE = 5000
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

# Called after each batch written, with the table name and the number of rows.
BatchHook = Callable[[str, int], None]


@dataclasses.dataclass
class LoadCounts:
    """Rows created, updated, deleted and left unchanged, over all tables.

    Teams, customers, invoices and payments count; allocations, which follow their
    payment, do not.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@dataclasses.dataclass
class _Table:
    """Rows to insert, update and delete in one table."""

    inserts: list[dict] = dataclasses.field(default_factory=list)
    updates: list[dict] = dataclasses.field(default_factory=list)
    befores: list[dict] = dataclasses.field(default_factory=list)  # one per update
    deletes: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0


def bulk_insert(table: Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` into ``table`` with one DB-API executemany.

    This skips SQLAlchemy's per-row statement machinery, which costs more than the
    database on large loads. It keeps the columns' type conversions (their bind
    processors). Columns the rows leave out get their Python-side defaults, such as
    ``created_at``, evaluated once per call.
    """
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    given = list(rows[0])
    defaults = {}
    for column in table.columns:
        default = column.default
        if (
            column.name in given
            or default is None
            or not default.is_scalar
            and not default.is_callable
        ):
            continue
        defaults[column.name] = (
            default.arg(None) if default.is_callable else default.arg
        )
    names = [*given, *defaults]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    ]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join([marker] * len(names))})"
    )
    count = len(rows)
    columns = [[row[name] for row in rows] for name in given]
    columns += [[value] * count for value in defaults.values()]
    for position, process in enumerate(processors):
        if process is not None:
            columns[position] = [
                None if value is None else process(value) for value in columns[position]
            ]
    parameters = list(zip(*columns, strict=True))
    connection.exec_driver_sql(statement, parameters)


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
        for batch in self.batches(name, table.inserts):
            bulk_insert(model.__table__, [row | columns for row in batch])
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


def _plan(table: _Table, existing: dict[str, dict], key: str, desired: dict) -> None:
    """Plan the insert or update that makes row ``key`` equal ``desired``, if any."""
    current = existing.get(key)
    if current is None:
        table.inserts.append(desired)
        return
    changes = {
        column: value
        for column, value in desired.items()
        if current.get(column) != value
    }
    if not changes:
        table.unchanged += 1
        return
    before = {column: json_value(current[column]) for column in changes}
    before["import_run_id"] = current["import_run_id"]
    table.updates.append({"id": current["id"], **changes})
    table.befores.append(before)


def _existing_rows(model, source: str, columns: Sequence[str]) -> dict[str, dict]:
    names = ["id", "legacy_id", "import_run_id", *columns]
    attributes = [getattr(model, name) for name in names]
    rows = db.session.execute(select(*attributes).where(model.legacy_source == source))
    return {row.legacy_id: row._asdict() for row in rows}


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


def _invoice_row(item: LegacyItem, customer_id: int | None) -> dict:
    is_open = item.settled_date is None
    return {
        "customer_id": customer_id,
        "number": item.document,
        "issue_date": item.issue_date,
        "due_date": item.due_date,
        "amount": item.amount,
        "open_amount": item.amount if is_open else ZERO,
        "currency": item.currency,
        "status": InvoiceStatus.OPEN if is_open else InvoiceStatus.PAID,
        "disputed": item.disputed,
    }


def load_items(
    items: Iterable[LegacyItem],
    *,
    source: str,
    run_id: int | None,
    dry_run: bool,
    on_batch: BatchHook | None = None,
) -> LoadCounts:
    """Write the items of one legacy file; return what was created, updated, deleted.

    The customers of ``items`` are the run's scope: their settlement payments and
    open credits that the file no longer has are deleted. Other customers of the
    source are left alone, so a run limited to one wave keeps the earlier waves.
    """
    items = list(items)
    debits = [i for i in items if not i.is_credit]
    credits = [i for i in items if i.is_credit and i.settled_date is None]
    writer = _Writer(run_id, dry_run, on_batch)

    team_ids = _team_ids({i.team for i in items if i.team}, writer)
    customer_ids = _load_customers(items, source, team_ids, writer)
    scope = {customer_ids[key] for key in _customer_keys(items) if key in customer_ids}
    invoice_ids = _load_invoices(debits, source, customer_ids, writer)
    _load_settlements(debits, source, customer_ids, invoice_ids, scope, writer)
    _load_open_credits(credits, source, customer_ids, scope, writer)
    writer.save_changes()
    counts = writer.counts
    logger.info(
        "loaded %s: %d created, %d updated, %d deleted, %d unchanged (dry run: %s)",
        source,
        counts.created,
        counts.updated,
        counts.deleted,
        counts.unchanged,
        dry_run,
    )
    return counts


def _customer_keys(items: list[LegacyItem]) -> dict[str, LegacyItem]:
    """Return the first item of each customer, in file order."""
    first: dict[str, LegacyItem] = {}
    for item in items:
        first.setdefault(item.customer_legacy_id, item)
    return first


def _load_customers(
    items: list[LegacyItem], source: str, team_ids: dict[str, int], writer: _Writer
) -> dict[str, int]:
    """Upsert the customers of ``items``; return the id of every customer of source.

    A customer whose file row names no team keeps the team it has in Cadence.
    """
    existing = _existing_rows(Customer, source, CUSTOMER_COLUMNS)
    table = _Table()
    for key, item in _customer_keys(items).items():
        desired = {
            "name": item.customer_name,
            "country": item.country,
            "currency": item.currency,
        }
        if item.team:
            desired["team_id"] = team_ids.get(item.team)
        elif key not in existing:
            desired["team_id"] = None
        if key not in existing:
            desired |= {"legacy_source": source, "legacy_id": key}
        _plan(table, existing, key, desired)
    writer.apply(Customer, table)
    return _ids_of(Customer, source)


def _ids_of(model, source: str) -> dict[str, int]:
    rows = db.session.execute(
        select(model.legacy_id, model.id).where(model.legacy_source == source)
    )
    return dict(rows.all())


def _load_invoices(
    debits: list[LegacyItem],
    source: str,
    customer_ids: dict[str, int],
    writer: _Writer,
) -> dict[str, int]:
    existing = _existing_rows(Invoice, source, INVOICE_COLUMNS)
    table = _Table()
    for item in debits:
        desired = _invoice_row(item, customer_ids.get(item.customer_legacy_id))
        if item.legacy_id not in existing:
            desired |= {"legacy_source": source, "legacy_id": item.legacy_id}
        _plan(table, existing, item.legacy_id, desired)
    writer.apply(Invoice, table)
    return _ids_of(Invoice, source)


def _load_settlements(
    debits: list[LegacyItem],
    source: str,
    customer_ids: dict[str, int],
    invoice_ids: dict[str, int],
    scope: set[int],
    writer: _Writer,
) -> None:
    """Give every invoice settled on the as-of date one payment allocated in full to it.

    A settlement payment of a customer in ``scope`` whose invoice this file shows
    open again (an earlier as-of date) is deleted with its allocation.
    """
    existing = {
        key: row
        for key, row in _existing_rows(Payment, source, PAYMENT_COLUMNS).items()
        if key.endswith(SETTLEMENT_SUFFIX)
    }
    table = _Table()
    wanted: dict[str, str] = {}  # settlement payment key -> invoice legacy id
    for item in debits:
        if item.settled_date is None:
            continue
        key = item.legacy_id + SETTLEMENT_SUFFIX
        wanted[key] = item.legacy_id
        desired = {
            "customer_id": customer_ids.get(item.customer_legacy_id),
            "received_on": item.settled_date,
            "amount": item.amount,
            "kind": PaymentKind.PAYMENT,
            "reference": item.document,
        }
        if key not in existing:
            desired |= {"legacy_source": source, "legacy_id": key}
        _plan(table, existing, key, desired)
    # Only an invoice that this file shows open again loses its settlement. An
    # invoice missing from the file keeps it, so a partial export deletes nothing.
    reopened = {item.legacy_id for item in debits if item.settled_date is None}
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
    previous_ids = {row["id"] for row in existing.values()}
    _sync_settlement_allocations(source, wanted, invoice_ids, previous_ids, writer)


def _delete_allocations_of(payment_ids: list[int], writer: _Writer) -> None:
    if writer.dry_run or not payment_ids:
        return
    allocation_ids = db.session.scalars(
        select(Allocation.id).where(Allocation.payment_id.in_(payment_ids))
    ).all()
    writer.delete(Allocation, list(allocation_ids))


def _sync_settlement_allocations(
    source: str,
    wanted: dict[str, str],
    invoice_ids: dict[str, int],
    previous_ids: set[int],
    writer: _Writer,
) -> None:
    """Make each wanted settlement payment allocate exactly its amount to its invoice.

    An allocation added to a payment that existed before the run gets a ``created``
    change, because only the payment's own creation would otherwise undo it.
    """
    payments = db.session.execute(
        select(Payment.id, Payment.legacy_id, Payment.amount).where(
            Payment.legacy_source == source,
            Payment.legacy_id.like("%" + SETTLEMENT_SUFFIX),
        )
    ).all()
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
    new_rows, old_payment_rows, changed, befores = [], [], [], []
    for payment_id, legacy_id, amount in payments:
        if legacy_id not in wanted:
            continue
        invoice_id = invoice_ids[wanted[legacy_id]]
        row = {"payment_id": payment_id, "invoice_id": invoice_id, "amount": amount}
        current = allocated.get(payment_id)
        if current is None:
            target = old_payment_rows if payment_id in previous_ids else new_rows
            target.append(row)
        elif (current.amount, current.invoice_id) != (amount, invoice_id):
            changed.append(
                {"id": current.id, "amount": amount, "invoice_id": invoice_id}
            )
            befores.append(
                {"amount": json_value(current.amount), "invoice_id": current.invoice_id}
            )
    for batch in writer.batches(Allocation.__tablename__, new_rows):
        bulk_insert(Allocation.__table__, batch)
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
    credits: list[LegacyItem],
    source: str,
    customer_ids: dict[str, int],
    scope: set[int],
    writer: _Writer,
) -> None:
    """Load payments and credit notes still unallocated on the as-of date.

    An open credit of a customer in ``scope`` that the file no longer has (it was
    used up or matched since) is deleted.
    """
    existing = {
        key: row
        for key, row in _existing_rows(Payment, source, PAYMENT_COLUMNS).items()
        if not key.endswith(SETTLEMENT_SUFFIX)
    }
    table = _Table()
    wanted: set[str] = set()
    for item in credits:
        wanted.add(item.legacy_id)
        desired = {
            "customer_id": customer_ids.get(item.customer_legacy_id),
            "received_on": item.issue_date,
            "amount": item.amount,
            "kind": _CREDIT_KINDS.get(item.kind, PaymentKind.PAYMENT),
            "reference": item.document,
        }
        if item.legacy_id not in existing:
            desired |= {"legacy_source": source, "legacy_id": item.legacy_id}
        _plan(table, existing, item.legacy_id, desired)
    table.deletes = [
        row["id"]
        for key, row in existing.items()
        if key not in wanted and row["customer_id"] in scope
    ]
    _delete_allocations_of(table.deletes, writer)
    writer.apply(Payment, table)


def open_total(items: Iterable[LegacyItem]) -> Decimal:
    return sum((i.amount for i in items if i.settled_date is None), ZERO)
