"""Roll an import run back: put the database back as it was before the run.

A run's undo data is described in ``migration.models.RunChange``. The rollback
restores the rows the run updated, deletes the rows still marked with the run (those
it created), and puts back the rows it deleted, in one transaction. The cutover of
the run's source goes back to what it was before the run: none, or the earlier
cutover that a forced cutover replaced. The rollback is refused when later work
depends on the run: a later import run changed the same rows or the cutover, or
collection work (payments, allocations, promises, disputes, activities, dunning
actions, letters, users) refers to rows the run created. The refusal names that
work by id, invoice number or email, and gives the next step.

Messages are translated with Flask-Babel in the current locale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal

from flask_babel import gettext, ngettext
from sqlalchemy import Select, Table, delete, insert, or_, select, update

from app.audit import services as audit
from app.auth.models import Team, User
from app.collection.legacy_disputes import (
    delete_disputes_opened_by,
    disputes_opened_by,
    resolved_disputes_opened_by,
)
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
from migration.labels import STATUS_LABELS
from migration.load import SETTLEMENT_SUFFIX
from migration.models import ChangeAction, ImportRun, LegacyCutover, RunChange
from migration.records import PAID_PART_SUFFIX

logger = logging.getLogger(__name__)

ROLLED_BACK = "rolled_back"
LOADED = "loaded"
UNCHANGED = "unchanged"
# Ids listed in a refusal message for each kind of work; the count covers the rest.
SHOWN_IDS = 10
# Builds the refusal message of one kind of work from its count and listed ids.
Describe = Callable[[int, str], str]
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
        "legacy_cutovers": LegacyCutover,
        "disputes": Dispute,
    }.items()
}


class RollbackRefused(Exception):
    """The run cannot be rolled back; the message gives the reason and the next step."""


@dataclasses.dataclass
class RollbackResult:
    deleted: int = 0  # rows the run created
    restored: int = 0  # rows the run updated
    recreated: int = 0  # rows the run deleted
    # The run whose cutover of the source is in force again, after undoing a forced one.
    cutover_run_id: int | None = None
    cutover_removed: bool = False  # the run's own cutover was undone, none is left


def rollback_run(run: ImportRun, *, user=None) -> RollbackResult:
    """Undo ``run`` and mark it rolled back, all in one transaction.

    A run with the status unchanged can be rolled back when it recorded a cutover,
    which is then undone. Raises RollbackRefused when the run changed nothing, was
    already rolled back, or later work depends on it.
    """
    if run.status == ROLLED_BACK:
        rolled_back_at = run.rolled_back_at.strftime("%Y-%m-%d %H:%M")
        raise RollbackRefused(
            gettext(
                "Run %(run)s was already rolled back on %(date)s UTC by %(user)s.",
                run=run.id,
                date=rolled_back_at,
                user=run.rolled_back_by,
            )
        )
    cutover_changes = _changes(run.id, table_name=LegacyCutover.__tablename__)
    if run.status != LOADED and not (run.status == UNCHANGED and cutover_changes):
        raise RollbackRefused(
            gettext(
                "Run %(run)s has the status “%(status)s”, so it changed nothing in "
                "the ledger and there is nothing to roll back.",
                run=run.id,
                status=STATUS_LABELS.get(run.status, run.status),
            )
        )
    problems = dependent_work(run)
    if problems:
        raise RollbackRefused(_refusal(run, problems))
    cutover_before = _cutover_state(run)
    try:
        result = _undo(run)
        db.session.execute(delete(LegacyCutover).where(LegacyCutover.run_id == run.id))
        cutover_after = _cutover_state(run)
        if cutover_after is not None and cutover_after != cutover_before:
            result.cutover_run_id = cutover_after["run_id"]
        result.cutover_removed = cutover_before is not None and cutover_after is None
        status_before = run.status
        run.status = ROLLED_BACK
        run.rolled_back_at = utcnow()
        run.rolled_back_by = getattr(user, "email", "cli")
        db.session.flush()
        audit.record(
            "migration.rollback",
            actor=user,
            target=f"import run {run.id}",
            before={"status": status_before, "cutover": cutover_before},
            after={
                "status": ROLLED_BACK,
                "cutover": cutover_after,
                **dataclasses.asdict(result),
            },
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("rollback of import run %d failed; nothing changed", run.id)
        raise
    logger.info("import run %d rolled back: %s", run.id, result)
    return result


def _cutover_state(run: ImportRun) -> dict | None:
    """Return the cutover of the run's source as JSON for the audit log, or None."""
    # populate_existing: the undo updates cutovers with Core statements, which
    # leave the session's copy stale.
    cutover = db.session.scalar(
        select(LegacyCutover)
        .where(LegacyCutover.source == run.source)
        .execution_options(populate_existing=True)
    )
    if cutover is None:
        return None
    return {"run_id": cutover.run_id, "cut_over_at": cutover.cut_over_at.isoformat()}


def _refusal(run: ImportRun, problems: list[str]) -> str:
    lines = [
        gettext(
            "Run %(run)s cannot be rolled back, because later work depends on it:",
            run=run.id,
        )
    ]
    lines += [f"- {problem}" for problem in problems]
    lines.append(
        gettext(
            "Roll back the later runs first, newest first. Work recorded in Cadence "
            "since the run must be removed first; otherwise keep run %(run)s and "
            "import a corrected export, which updates the records in place.",
            run=run.id,
        )
    )
    return "\n".join(lines)


# --- What depends on a run ---------------------------------------------------------


def _changes(
    run_id: int, action: str | None = None, table_name: str | None = None
) -> list[RunChange]:
    query = select(RunChange).where(RunChange.run_id == run_id)
    if action is not None:
        query = query.where(RunChange.action == action)
    if table_name is not None:
        query = query.where(RunChange.table_name == table_name)
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


def _created_allocation_ids(run: ImportRun):
    return select(RunChange.row_id).where(
        RunChange.run_id == run.id,
        RunChange.table_name == "allocations",
        RunChange.action == ChangeAction.CREATED,
    )


def dependent_work(run: ImportRun) -> list[str]:
    """Return why ``run`` cannot be rolled back, or an empty list when it can."""
    return _later_runs(run) + _collection_work(run) + _recreated_rows(run)


def _later_runs(run: ImportRun) -> list[str]:
    """Describe the later runs, not rolled back, that changed rows this run wrote."""
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
    rows: dict[int, int] = {}
    cutovers: set[int] = set()
    for run_id, table_name, row_id, before in later:
        marked = isinstance(before, dict) and before.get("import_run_id") == run.id
        if not (marked or (table_name, row_id) in touched):
            continue
        if table_name == LegacyCutover.__tablename__:
            cutovers.add(run_id)
        else:
            rows[run_id] = rows.get(run_id, 0) + 1
    problems = []
    for run_id in sorted(rows.keys() | cutovers, reverse=True):
        if run_id in rows:
            problems.append(
                ngettext(
                    "run %(later)s changed %(num)d record that run %(run)s wrote: "
                    "roll it back first with cadence legacy rollback %(later)s.",
                    "run %(later)s changed %(num)d records that run %(run)s wrote: "
                    "roll it back first with cadence legacy rollback %(later)s.",
                    rows[run_id],
                    later=run_id,
                    run=run.id,
                )
            )
        if run_id in cutovers:
            problems.append(
                gettext(
                    "run %(later)s replaced the cutover of %(source)s that run "
                    "%(run)s recorded: roll it back first with cadence legacy "
                    "rollback %(later)s.",
                    later=run_id,
                    run=run.id,
                    source=run.source,
                )
            )
    return problems


def _listed(values: list) -> str:
    """Return the first SHOWN_IDS values joined by commas, with an ellipsis for more."""
    shown = ", ".join(str(value) for value in values[:SHOWN_IDS])
    return shown + (", …" if len(values) > SHOWN_IDS else "")


def _collection_checks(run: ImportRun) -> list[tuple[Select, Describe]]:
    """Return a query and a message function for each kind of blocking work.

    Each query selects one identifying value per row: an id, an invoice number or
    an email. The function takes their count and the listed values.
    """
    customers = _created_ids(Customer, run)
    invoices = _created_ids(Invoice, run)
    payments = _created_ids(Payment, run)
    teams = _created_team_ids(run)
    allocations = _created_allocation_ids(run)
    not_this_run = or_(Payment.import_run_id.is_(None), Payment.import_run_id != run.id)
    return [
        (
            select(Payment.id).where(Payment.customer_id.in_(customers), not_this_run),
            lambda num, ids: ngettext(
                "%(num)d payment (id %(ids)s), recorded in Cadence or by another run, "
                "belongs to a customer that this run created.",
                "%(num)d payments (ids %(ids)s), recorded in Cadence or by other runs, "
                "belong to customers that this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Invoice.number).where(
                Invoice.customer_id.in_(customers),
                or_(Invoice.import_run_id.is_(None), Invoice.import_run_id != run.id),
            ),
            lambda num, ids: ngettext(
                "%(num)d invoice of another run (number %(ids)s) belongs to a customer "
                "that this run created.",
                "%(num)d invoices of other runs (numbers %(ids)s) belong to customers "
                "that this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Allocation.id)
            .join(Payment, Allocation.payment_id == Payment.id)
            .where(Allocation.invoice_id.in_(invoices), not_this_run),
            lambda num, ids: ngettext(
                "%(num)d allocation (id %(ids)s) settles an invoice that this run "
                "created.",
                "%(num)d allocations (ids %(ids)s) settle invoices that this run "
                "created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Allocation.id)
            .join(Payment, Allocation.payment_id == Payment.id)
            .where(
                Allocation.payment_id.in_(payments),
                Allocation.id.not_in(allocations),
                Payment.legacy_id.not_like("%" + SETTLEMENT_SUFFIX),
                Payment.legacy_id.not_like("%" + PAID_PART_SUFFIX),
            ),
            lambda num, ids: ngettext(
                "%(num)d allocation (id %(ids)s) uses a credit that this run created.",
                "%(num)d allocations (ids %(ids)s) use credits that this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Promise.id).where(Promise.customer_id.in_(customers)),
            lambda num, ids: ngettext(
                "%(num)d promise to pay (id %(ids)s) was recorded for a customer that "
                "this run created.",
                "%(num)d promises to pay (ids %(ids)s) were recorded for customers "
                "that this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(promise_invoices.c.promise_id).where(
                promise_invoices.c.invoice_id.in_(invoices)
            ),
            lambda num, ids: ngettext(
                "%(num)d promise to pay (id %(ids)s) covers an invoice that this run "
                "created.",
                "%(num)d promises to pay (ids %(ids)s) cover invoices that this run "
                "created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Dispute.id).where(
                or_(
                    Dispute.customer_id.in_(customers),
                    Dispute.invoice_id.in_(invoices),
                ),
                Dispute.id.not_in(disputes_opened_by(run.id)),
            ),
            lambda num, ids: ngettext(
                "%(num)d dispute (id %(ids)s) concerns a customer or invoice that this "
                "run created.",
                "%(num)d disputes (ids %(ids)s) concern customers or invoices that "
                "this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            resolved_disputes_opened_by(run.id),
            lambda num, ids: ngettext(
                "%(num)d dispute (id %(ids)s) that this run opened from the legacy "
                "disputed flag was resolved since.",
                "%(num)d disputes (ids %(ids)s) that this run opened from the legacy "
                "disputed flag were resolved since.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Activity.id).where(Activity.customer_id.in_(customers)),
            lambda num, ids: ngettext(
                "%(num)d activity (id %(ids)s) was logged for a customer that this run "
                "created.",
                "%(num)d activities (ids %(ids)s) were logged for customers that this "
                "run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(DunningAction.id).where(DunningAction.customer_id.in_(customers)),
            lambda num, ids: ngettext(
                "%(num)d dunning action (id %(ids)s) concerns a customer that this run "
                "created.",
                "%(num)d dunning actions (ids %(ids)s) concern customers that this run "
                "created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(dunning_action_invoices.c.action_id).where(
                dunning_action_invoices.c.invoice_id.in_(invoices)
            ),
            lambda num, ids: ngettext(
                "%(num)d dunning action (id %(ids)s) covers an invoice that this run "
                "created.",
                "%(num)d dunning actions (ids %(ids)s) cover invoices that this run "
                "created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Letter.id).where(Letter.customer_id.in_(customers)),
            lambda num, ids: ngettext(
                "%(num)d letter (id %(ids)s) was written to a customer that this run "
                "created.",
                "%(num)d letters (ids %(ids)s) were written to customers that this run "
                "created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(User.email).where(User.team_id.in_(teams)),
            lambda num, ids: ngettext(
                "%(num)d user (%(ids)s) belongs to a team that this run created.",
                "%(num)d users (%(ids)s) belong to teams that this run created.",
                num,
                ids=ids,
            ),
        ),
        (
            select(Customer.legacy_id).where(
                Customer.team_id.in_(teams),
                or_(Customer.import_run_id.is_(None), Customer.import_run_id != run.id),
            ),
            lambda num, ids: ngettext(
                "%(num)d customer of another run (%(ids)s) belongs to a team that this "
                "run created.",
                "%(num)d customers of other runs (%(ids)s) belong to teams that this "
                "run created.",
                num,
                ids=ids,
            ),
        ),
    ]


def _collection_work(run: ImportRun) -> list[str]:
    """Describe the work recorded since the run on rows that the run created."""
    problems = []
    for query, describe in _collection_checks(run):
        values = sorted(set(db.session.scalars(query)), key=_natural_order)
        if values:
            problems.append(describe(len(values), _listed(values)))
    return problems


def _natural_order(value: object) -> tuple:
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))


def _recreated_rows(run: ImportRun) -> list[str]:
    """Describe the rows this run deleted whose legacy id was loaded again since."""
    problems = []
    for change in _changes(run.id, ChangeAction.DELETED):
        before = change.before or {}
        source, legacy_id = before.get("legacy_source"), before.get("legacy_id")
        table = _TABLES[change.table_name]
        if source is None or "legacy_id" not in table.c:
            continue
        loaded_again = db.session.execute(
            select(table.c.import_run_id).where(
                table.c.legacy_source == source, table.c.legacy_id == legacy_id
            )
        ).first()
        if loaded_again is not None:
            problems.append(
                gettext(
                    "%(legacy_id)s in %(table)s, which this run deleted, was loaded "
                    "again by run %(later)s: roll that run back first.",
                    legacy_id=legacy_id,
                    table=change.table_name,
                    later=loaded_again.import_run_id,
                )
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
    result.deleted += delete_disputes_opened_by(run.id)
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
