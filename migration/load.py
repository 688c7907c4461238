"""Upsert validated legacy items into the ledger, keyed by legacy source and id.

The loader compares each item with the row in the database and writes only the
differences, so loading the same file twice changes nothing. The caller owns the
transaction: everything written here commits or rolls back together.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import delete, insert, select, update

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
from migration.records import ItemKind, LegacyItem

logger = logging.getLogger(__name__)

SETTLEMENT_SUFFIX = "#settlement"
_CREDIT_KINDS = {
    ItemKind.PAYMENT: PaymentKind.PAYMENT,
    ItemKind.CREDIT_NOTE: PaymentKind.CREDIT_NOTE,
    ItemKind.OPENING: PaymentKind.OPENING,
}


@dataclasses.dataclass
class LoadCounts:
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
    deletes: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0


def _diff(existing: dict | None, desired: dict) -> dict | None:
    """Return the changed columns of ``desired`` against ``existing``, or None if equal."""
    if existing is None:
        return None
    return {key: value for key, value in desired.items() if existing.get(key) != value}


def _plan(table: _Table, existing: dict[str, dict], key: str, desired: dict) -> None:
    current = existing.get(key)
    if current is None:
        table.inserts.append(desired)
        return
    changes = _diff(current, desired)
    if changes:
        table.updates.append({"id": current["id"], **changes})
    else:
        table.unchanged += 1


def _existing_rows(model, source: str, columns: list[str]) -> dict[str, dict]:
    attributes = [getattr(model, name) for name in ["id", "legacy_id", *columns]]
    rows = db.session.execute(select(*attributes).where(model.legacy_source == source))
    return {row.legacy_id: row._asdict() for row in rows}


def _team_ids(codes: set[str], dry_run: bool) -> tuple[dict[str, int | None], int]:
    found = dict(db.session.execute(select(Team.code, Team.id).where(Team.code.in_(codes))).all())
    missing = sorted(codes - found.keys())
    if missing and not dry_run:
        for code in missing:
            team = Team(code=code, name=code)
            db.session.add(team)
            db.session.flush()
            found[code] = team.id
    return found, len(missing)


def _invoice_row(item: LegacyItem, customer_id: int | None, run_id: int | None) -> dict:
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
    items: Iterable[LegacyItem], *, source: str, run_id: int | None, dry_run: bool
) -> LoadCounts:
    """Write the items of one legacy file; return what was created, updated, deleted."""
    items = list(items)
    debits = [i for i in items if not i.is_credit]
    credits = [i for i in items if i.is_credit and i.settled_date is None]
    counts = LoadCounts()

    team_ids, teams_created = _team_ids({i.team for i in items if i.team}, dry_run)
    counts.created += teams_created

    customer_ids = _load_customers(items, source, team_ids, run_id, dry_run, counts)
    invoice_ids = _load_invoices(debits, source, customer_ids, run_id, dry_run, counts)
    _load_settlements(debits, source, customer_ids, invoice_ids, run_id, dry_run, counts)
    _load_open_credits(credits, source, customer_ids, run_id, dry_run, counts)
    logger.info(
        "loaded %s: %d created, %d updated, %d deleted, %d unchanged (dry run: %s)",
        source, counts.created, counts.updated, counts.deleted, counts.unchanged, dry_run,
    )
    return counts


def _apply(model, table: _Table, run_id: int | None, counts: LoadCounts, dry_run: bool):
    counts.created += len(table.inserts)
    counts.updated += len(table.updates)
    counts.deleted += len(table.deletes)
    counts.unchanged += table.unchanged
    if dry_run:
        return
    if table.inserts:
        rows = [{**row, "import_run_id": run_id} for row in table.inserts]
        db.session.execute(insert(model), rows)
    if table.updates:
        rows = [{**row, "import_run_id": run_id} for row in table.updates]
        db.session.execute(update(model), rows)
    if table.deletes:
        db.session.execute(delete(model).where(model.id.in_(table.deletes)))


def _load_customers(items, source, team_ids, run_id, dry_run, counts) -> dict[str, int]:
    columns = ["name", "country", "team_id", "currency"]
    existing = _existing_rows(Customer, source, columns)
    table = _Table()
    seen: set[str] = set()
    for item in items:
        key = item.customer_legacy_id
        if key in seen:
            continue
        seen.add(key)
        desired = {
            "name": item.customer_name,
            "country": item.country,
            "team_id": team_ids.get(item.team) if item.team else None,
            "currency": item.currency,
        }
        if key not in existing:
            desired |= {"legacy_source": source, "legacy_id": key}
        _plan(table, existing, key, desired)
    _apply(Customer, table, run_id, counts, dry_run)
    return {key: row["id"] for key, row in _existing_rows(Customer, source, []).items()}


def _load_invoices(debits, source, customer_ids, run_id, dry_run, counts) -> dict[str, int]:
    columns = list(_invoice_row(debits[0], 0, None)) if debits else []
    existing = _existing_rows(Invoice, source, columns)
    table = _Table()
    for item in debits:
        desired = _invoice_row(item, customer_ids.get(item.customer_legacy_id), run_id)
        if item.legacy_id not in existing:
            desired |= {"legacy_source": source, "legacy_id": item.legacy_id}
        _plan(table, existing, item.legacy_id, desired)
    _apply(Invoice, table, run_id, counts, dry_run)
    return {key: row["id"] for key, row in _existing_rows(Invoice, source, []).items()}


def _load_settlements(debits, source, customer_ids, invoice_ids, run_id, dry_run, counts):
    """Give every invoice settled on the as-of date one payment allocated in full to it.

    A settlement payment whose invoice is open again in this file (an earlier as-of
    date) is deleted with its allocation.
    """
    columns = ["customer_id", "received_on", "amount", "kind", "reference"]
    existing = {
        key: row
        for key, row in _existing_rows(Payment, source, columns).items()
        if key.endswith(SETTLEMENT_SUFFIX)
    }
    table = _Table()
    wanted: set[str] = set()
    for item in debits:
        if item.settled_date is None:
            continue
        key = item.legacy_id + SETTLEMENT_SUFFIX
        wanted.add(key)
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
    table.deletes = [row["id"] for key, row in existing.items() if key not in wanted]
    if table.deletes and not dry_run:
        db.session.execute(
            delete(Allocation).where(Allocation.payment_id.in_(table.deletes))
        )
    _apply(Payment, table, run_id, counts, dry_run)
    if dry_run:
        return
    _sync_settlement_allocations(source, invoice_ids)


def _sync_settlement_allocations(source: str, invoice_ids: dict[str, int]) -> None:
    """Make each settlement payment allocate exactly its amount to its invoice."""
    payments = db.session.execute(
        select(Payment.id, Payment.legacy_id, Payment.amount).where(
            Payment.legacy_source == source,
            Payment.legacy_id.like("%" + SETTLEMENT_SUFFIX),
        )
    ).all()
    allocated = dict(
        db.session.execute(
            select(Allocation.payment_id, Allocation.amount).join(Payment).where(
                Payment.legacy_source == source
            )
        ).all()
    )
    new_rows, changed = [], []
    for payment_id, legacy_id, amount in payments:
        invoice_id = invoice_ids[legacy_id.removesuffix(SETTLEMENT_SUFFIX)]
        if payment_id not in allocated:
            new_rows.append(
                {"payment_id": payment_id, "invoice_id": invoice_id, "amount": amount}
            )
        elif allocated[payment_id] != amount:
            changed.append((payment_id, amount))
    if new_rows:
        db.session.execute(insert(Allocation), new_rows)
    for payment_id, amount in changed:
        db.session.execute(
            update(Allocation).where(Allocation.payment_id == payment_id).values(amount=amount)
        )


def _load_open_credits(credits, source, customer_ids, run_id, dry_run, counts) -> None:
    """Load payments and credit notes still unallocated on the as-of date."""
    columns = ["customer_id", "received_on", "amount", "kind", "reference"]
    existing = _existing_rows(Payment, source, columns)
    table = _Table()
    for item in credits:
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
    _apply(Payment, table, run_id, counts, dry_run)


def open_total(items: Iterable[LegacyItem]) -> Decimal:
    return sum((i.amount for i in items if i.settled_date is None), ZERO)
