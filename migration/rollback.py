"""Roll an import run back: put the database back as it was before the run.

A run's undo data is described in ``migration.models.RunChange``. The rollback
restores the rows the run updated, deletes the rows still marked with the run (those
it created), and puts back the rows it deleted, in one transaction. It is refused
when later work depends on the run: a later import run changed the same rows, or
collection work (payments, allocations, promises, disputes, activities, dunning
actions, letters, users) refers to rows the run created.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal

from sqlalchemy import Table, delete, func, insert, or_, select, update

from app.audit import services as audit
from app.auth.models import Team, User
from app.collection.models import (
    Activity,
    Dispute,
    DunningAction,
    Letter,
    Promise,
    dunning_action_invoices,
    promise_invoices,
)
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from app.timeutil import utcnow
from migration.load import SETTLEMENT_SUFFIX
from migration.models import ChangeAction, ImportRun, LegacyCutover, RunChange

logger = logging.getLogger(__name__)

ROLLED_BACK = "rolled_back"
LOADED = "loaded"
# Tables a run writes, parents first: rows are put back in this order and deleted
# in the reverse one.
TABLE_ORDER = ("teams", "customers", "invoices", "payments", "allocations")
MARKED_MODELS = (Customer, Invoice, Payment)  # tables with import_run_id
_TABLES = {
    name: model.__table__
    for name, model in {
        "teams": Team,
        "customers": Customer,
        "invoices": Invoice,
        "payments": Payment,
        "allocations": Allocation,
    }.items()
}


class RollbackRefused(Exception):
    """The run cannot be rolled back; the message gives the reason and the next step."""


@dataclasses.dataclass
class RollbackResult:
    deleted: int = 0  # rows the run created
    restored: int = 0  # rows the run updated
    recreated: int = 0  # rows the run deleted


def rollback_run(run: ImportRun, *, user=None) -> RollbackResult:
    """Undo ``run`` and mark it rolled back, all in one transaction.

    Raises RollbackRefused when the run changed nothing, was already rolled back, or
    later work depends on it.
    """
    if run.status == ROLLED_BACK:
        raise RollbackRefused(
            f"run {run.id} was already rolled back on "
            f"{run.rolled_back_at:%Y-%m-%d %H:%M} UTC by {run.rolled_back_by}"
        )
    if run.status != LOADED:
        raise RollbackRefused(
            f"run {run.id} has status {run.status}, so it changed nothing in the "
            "ledger and there is nothing to roll back"
        )
    problems = dependent_work(run)
    if problems:
        raise RollbackRefused(
            f"run {run.id} cannot be rolled back because later work depends on it: "
            + "; ".join(problems)
            + ". Roll back the later runs first (newest first), or keep this run"
        )
    try:
        result = _undo(run)
        cutover = db.session.scalar(
            select(LegacyCutover).where(LegacyCutover.run_id == run.id)
        )
        if cutover is not None:
            db.session.delete(cutover)
        run.status = ROLLED_BACK
        run.rolled_back_at = utcnow()
        run.rolled_back_by = getattr(user, "email", "cli")
        audit.record(
            "migration.rollback",
            actor=user,
            target=f"import run {run.id}",
            before={"status": LOADED, "cutover": cutover is not None},
            after={"status": ROLLED_BACK, **dataclasses.asdict(result)},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("rollback of import run %d failed; nothing changed", run.id)
        raise
    logger.info("import run %d rolled back: %s", run.id, result)
    return result


# --- What depends on a run ---------------------------------------------------------


def _changes(run_id: int, action: str | None = None) -> list[RunChange]:
    query = select(RunChange).where(RunChange.run_id == run_id)
    if action is not None:
        query = query.where(RunChange.action == action)
    return list(db.session.scalars(query))


def _created_ids(model, run: ImportRun):
    """Select the ids of ``model``'s rows the run created (marked, and not updated)."""
    updated = select(RunChange.row_id).where(
        RunChange.run_id == run.id,
        RunChange.table_name == model.__tablename__,
        RunChange.action == ChangeAction.UPDATED,
    )
    return select(model.id).where(
        model.import_run_id == run.id, model.id.not_in(updated)
    )


def _created_team_ids(run: ImportRun):
    return select(RunChange.row_id).where(
        RunChange.run_id == run.id,
        RunChange.table_name == "teams",
        RunChange.action == ChangeAction.CREATED,
    )


def dependent_work(run: ImportRun) -> list[str]:
    """Return why ``run`` cannot be rolled back, or an empty list when it can."""
    return _later_runs(run) + _collection_work(run) + _recreated_rows(run)


def _later_runs(run: ImportRun) -> list[str]:
    """Find later runs, not rolled back, that changed rows this run wrote."""
    touched = {(change.table_name, change.row_id) for change in _changes(run.id)}
    for model in MARKED_MODELS:
        ids = db.session.scalars(select(model.id).where(model.import_run_id == run.id))
        touched |= {(model.__tablename__, row_id) for row_id in ids}
    later = db.session.execute(
        select(
            RunChange.run_id, RunChange.table_name, RunChange.row_id, RunChange.before
        )
        .join(ImportRun, RunChange.run_id == ImportRun.id)
        .where(ImportRun.id > run.id, ImportRun.status != ROLLED_BACK)
    )
    runs: dict[int, int] = {}
    for run_id, table_name, row_id, before in later:
        marked = isinstance(before, dict) and before.get("import_run_id") == run.id
        if marked or (table_name, row_id) in touched:
            runs[run_id] = runs.get(run_id, 0) + 1
    return [
        f"run {run_id} changed {count} rows that this run wrote"
        for run_id, count in sorted(runs.items())
    ]


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def _collection_work(run: ImportRun) -> list[str]:
    customers = _created_ids(Customer, run)
    invoices = _created_ids(Invoice, run)
    payments = _created_ids(Payment, run)
    teams = _created_team_ids(run)
    checks = {
        "payments recorded in Cadence or by other runs for customers it created": (
            select(Payment.id).where(
                Payment.customer_id.in_(customers),
                or_(Payment.import_run_id.is_(None), Payment.import_run_id != run.id),
            )
        ),
        "invoices of other runs for customers it created": select(Invoice.id).where(
            Invoice.customer_id.in_(customers),
            or_(Invoice.import_run_id.is_(None), Invoice.import_run_id != run.id),
        ),
        "allocations to invoices it created": select(Allocation.id)
        .join(Payment, Allocation.payment_id == Payment.id)
        .where(
            Allocation.invoice_id.in_(invoices),
            or_(Payment.import_run_id.is_(None), Payment.import_run_id != run.id),
        ),
        "allocations of credits it created": select(Allocation.id)
        .join(Payment, Allocation.payment_id == Payment.id)
        .where(
            Allocation.payment_id.in_(payments),
            Payment.legacy_id.not_like("%" + SETTLEMENT_SUFFIX),
        ),
        "promises to pay": select(Promise.id).where(Promise.customer_id.in_(customers)),
        "promises on invoices it created": select(promise_invoices.c.promise_id).where(
            promise_invoices.c.invoice_id.in_(invoices)
        ),
        "disputes": select(Dispute.id).where(
            or_(Dispute.customer_id.in_(customers), Dispute.invoice_id.in_(invoices))
        ),
        "activities": select(Activity.id).where(Activity.customer_id.in_(customers)),
        "dunning actions": select(DunningAction.id).where(
            DunningAction.customer_id.in_(customers)
        ),
        "dunning actions on invoices it created": select(
            dunning_action_invoices.c.action_id
        ).where(dunning_action_invoices.c.invoice_id.in_(invoices)),
        "letters": select(Letter.id).where(Letter.customer_id.in_(customers)),
        "users in teams it created": select(User.id).where(User.team_id.in_(teams)),
        "customers of other runs in teams it created": select(Customer.id).where(
            Customer.team_id.in_(teams),
            or_(Customer.import_run_id.is_(None), Customer.import_run_id != run.id),
        ),
    }
    problems = []
    for label, query in checks.items():
        count = _count(query)
        if count:
            problems.append(f"{count} {label} refer to rows this run created")
    return problems


def _recreated_rows(run: ImportRun) -> list[str]:
    """Find rows this run deleted whose legacy id was loaded again since."""
    problems = []
    for change in _changes(run.id, ChangeAction.DELETED):
        before = change.before or {}
        source, legacy_id = before.get("legacy_source"), before.get("legacy_id")
        table = _TABLES[change.table_name]
        if source is None or "legacy_id" not in table.c:
            continue
        exists = db.session.scalar(
            select(func.count()).where(
                table.c.legacy_source == source, table.c.legacy_id == legacy_id
            )
        )
        if exists:
            problems.append(
                f"{change.table_name} {legacy_id}, which this run deleted, was "
                "loaded again by a later run"
            )
    return problems


# --- Undo ----------------------------------------------------------------------------


def _python_value(table: Table, column: str, value: object) -> object:
    """Turn a JSON value of ``before`` back into the column's Python type."""
    if value is None:
        return None
    python_type = table.c[column].type.python_type
    if python_type is Decimal:
        return Decimal(str(value))
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    return value


def _undo(run: ImportRun) -> RollbackResult:
    result = RollbackResult()
    changes = _changes(run.id)

    # 1. Put back the values of the rows the run updated, which also gives them
    # back their earlier import_run_id.
    for change in changes:
        if change.action != ChangeAction.UPDATED:
            continue
        table = _TABLES[change.table_name]
        values = {
            column: _python_value(table, column, value)
            for column, value in (change.before or {}).items()
        }
        db.session.execute(
            update(table).where(table.c.id == change.row_id).values(values)
        )
        result.restored += 1

    # 2. Delete what the run created, children first.
    created_allocations = [
        change.row_id
        for change in changes
        if change.table_name == "allocations" and change.action == ChangeAction.CREATED
    ]
    marked_payments = select(Payment.id).where(Payment.import_run_id == run.id)
    result.deleted += db.session.execute(
        delete(Allocation).where(
            or_(
                Allocation.payment_id.in_(marked_payments),
                Allocation.id.in_(created_allocations),
            )
        )
    ).rowcount
    for model in reversed(MARKED_MODELS):
        result.deleted += db.session.execute(
            delete(model).where(model.import_run_id == run.id)
        ).rowcount
    created_teams = [
        change.row_id
        for change in changes
        if change.table_name == "teams" and change.action == ChangeAction.CREATED
    ]
    if created_teams:
        result.deleted += db.session.execute(
            delete(Team).where(Team.id.in_(created_teams))
        ).rowcount

    # 3. Put back the rows the run deleted, parents first, with their old ids.
    for table_name in TABLE_ORDER:
        table = _TABLES[table_name]
        rows = [
            {
                column: _python_value(table, column, value)
                for column, value in (change.before or {}).items()
            }
            for change in changes
            if change.table_name == table_name and change.action == ChangeAction.DELETED
        ]
        if rows:
            db.session.execute(insert(table), rows)
            result.recreated += len(rows)
    return result


__all__ = ["RollbackRefused", "RollbackResult", "dependent_work", "rollback_run"]
