"""Keep a dispute record for every invoice that a legacy export flags as disputed.

The legacy import loads each invoice's disputed flag as the export gives it. After
the load, in the same transaction, ``sync_legacy_disputes`` makes the disputes
follow the flags of the run's legacy source:

- An open invoice flagged as disputed without an open dispute gets a dispute with
  the reason LEGACY_IMPORT, opened at the start of the run's as-of date. Its owner
  is the customer's collector, or none when the customer has no collector.
  Resolving it clears the flag, as for any dispute.
- An open LEGACY_IMPORT dispute whose invoice the export no longer flags, or
  shows paid, is resolved, with LEGACY_EXPORT_RESOLUTION as its resolution.
- An export older than a resolution made in Cadence does not undo it. Suppose the
  run turned the flag on, but a dispute of the invoice was resolved after the start
  of the as-of date. Then the flag goes back off and no dispute is opened.

Every dispute the sync opens or resolves gets a RunChange of the run, so rolling
the run back deletes the disputes it opened and reopens those it resolved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import insert, or_, select, update

from app.collection.models import Dispute, DisputeReason, DisputeStatus
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.timeutil import start_of_business_day
from migration.models import ChangeAction, ImportRun, RunChange

logger = logging.getLogger(__name__)

# Stored as the resolution of a legacy dispute that a newer export closed. The
# text is English in the database, and pages show its translation.
LEGACY_EXPORT_RESOLUTION = "Closed by the legacy export."
DISPUTES_TABLE = Dispute.__tablename__


@dataclasses.dataclass(frozen=True)
class LegacyDisputeSync:
    """Counts of one sync: disputes opened and resolved, invoice flags turned off."""

    opened: int = 0
    resolved: int = 0
    flags_cleared: int = 0


def sync_legacy_disputes(run: ImportRun) -> LegacyDisputeSync:
    """Open and resolve disputes so that they follow the flags of ``run``'s source.

    Call it after ``run`` loaded its items, before the commit. It does not commit.
    """
    as_of_start = start_of_business_day(run.as_of)
    candidates = _flagged_without_open_dispute(run.source)
    overruled = _overruled_by_cadence(run, candidates, as_of_start)
    to_open = [row for row in candidates if row.id not in overruled]

    if overruled:
        db.session.execute(
            update(Invoice)
            .where(Invoice.id.in_(sorted(overruled)))
            .values(disputed=False)
            .execution_options(synchronize_session=False)
        )
    opened = _open_disputes(run, to_open, as_of_start)
    resolved = _resolve_unflagged(run, as_of_start)

    sync = LegacyDisputeSync(opened, resolved, len(overruled))
    logger.info(
        "legacy disputes of import run %d (%s): %d opened, %d resolved, %d invoice "
        "flags cleared after a later resolution in Cadence",
        run.id,
        run.source,
        sync.opened,
        sync.resolved,
        sync.flags_cleared,
    )
    return sync


def _flagged_without_open_dispute(source: str) -> list:
    """Return (id, customer_id, collector_id) of the source's open, flagged invoices
    that have no open dispute."""
    open_dispute = (
        select(Dispute.id)
        .where(Dispute.invoice_id == Invoice.id, Dispute.status == DisputeStatus.OPEN)
        .exists()
    )
    return list(
        db.session.execute(
            select(Invoice.id, Invoice.customer_id, Customer.collector_id)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(
                Invoice.legacy_source == source,
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.disputed.is_(True),
                ~open_dispute,
            )
            .order_by(Invoice.id)
        )
    )


def _overruled_by_cadence(
    run: ImportRun, candidates: list, as_of_start: dt.datetime
) -> set[int]:
    """Return the candidates whose flag this run turned on, although a dispute of
    the invoice was resolved after the start of the as-of date."""
    if not candidates:
        return set()
    ids = [row.id for row in candidates]
    resolved_later = set(
        db.session.scalars(
            select(Dispute.invoice_id).where(
                Dispute.invoice_id.in_(ids),
                Dispute.status == DisputeStatus.RESOLVED,
                Dispute.resolved_at > as_of_start,
            )
        )
    )
    if not resolved_later:
        return set()
    changes = db.session.execute(
        select(RunChange.row_id, RunChange.before).where(
            RunChange.run_id == run.id,
            RunChange.table_name == Invoice.__tablename__,
            RunChange.action == ChangeAction.UPDATED,
            RunChange.row_id.in_(sorted(resolved_later)),
        )
    )
    return {
        row_id
        for row_id, before in changes
        if isinstance(before, dict) and before.get("disputed") is False
    }


def _open_disputes(run: ImportRun, invoices: list, opened_at: dt.datetime) -> int:
    if not invoices:
        return 0
    rows = [
        {
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "reason": DisputeReason.LEGACY_IMPORT.value,
            "owner_id": invoice.collector_id,
            "status": DisputeStatus.OPEN.value,
            "opened_at": opened_at,
            "resolution": "",
            "note": "",
        }
        for invoice in invoices
    ]
    dispute_ids = db.session.scalars(
        insert(Dispute).returning(Dispute.id, sort_by_parameter_order=True), rows
    ).all()
    _record_changes(run, dispute_ids, ChangeAction.CREATED)
    return len(dispute_ids)


def _resolve_unflagged(run: ImportRun, as_of_start: dt.datetime) -> int:
    """Resolve the open LEGACY_IMPORT disputes of invoices no longer flagged or open."""
    disputes = db.session.execute(
        select(Dispute.id, Dispute.opened_at)
        .join(Invoice, Invoice.id == Dispute.invoice_id)
        .where(
            Invoice.legacy_source == run.source,
            or_(Invoice.disputed.is_(False), Invoice.status != InvoiceStatus.OPEN),
            Dispute.status == DisputeStatus.OPEN,
            Dispute.reason == DisputeReason.LEGACY_IMPORT,
        )
        .order_by(Dispute.id)
    ).all()
    if not disputes:
        return 0
    before = {"status": DisputeStatus.OPEN.value, "resolved_at": None, "resolution": ""}
    _record_changes(
        run, [dispute.id for dispute in disputes], ChangeAction.UPDATED, before
    )
    for dispute_id, opened_at in disputes:
        # An export older than the one that opened the dispute still cannot make
        # it end before it began.
        resolved_at = max(_aware(opened_at), as_of_start)
        db.session.execute(
            update(Dispute)
            .where(Dispute.id == dispute_id)
            .values(
                status=DisputeStatus.RESOLVED,
                resolved_at=resolved_at,
                resolution=LEGACY_EXPORT_RESOLUTION,
            )
            .execution_options(synchronize_session=False)
        )
    return len(disputes)


def _record_changes(
    run: ImportRun, dispute_ids: list[int], action: str, before: dict | None = None
) -> None:
    db.session.execute(
        insert(RunChange),
        [
            {
                "run_id": run.id,
                "table_name": DISPUTES_TABLE,
                "row_id": dispute_id,
                "action": action,
                "before": before,
            }
            for dispute_id in dispute_ids
        ],
    )


def _aware(timestamp: dt.datetime) -> dt.datetime:
    """Return a stored timestamp as UTC; SQLite gives it back without a zone."""
    if timestamp.tzinfo is None:
        return timestamp.replace(tzinfo=dt.UTC)
    return timestamp


def closed_by_legacy_export(dispute: Dispute) -> bool:
    """Return whether a newer legacy export resolved the dispute."""
    return (
        dispute.reason == DisputeReason.LEGACY_IMPORT
        and dispute.status == DisputeStatus.RESOLVED
        and dispute.resolution == LEGACY_EXPORT_RESOLUTION
    )


def resolution_text(dispute: Dispute) -> str | LazyString:
    """Return the resolution to show, translated when a legacy export stored it."""
    if closed_by_legacy_export(dispute):
        return _l("Closed by the legacy export.")
    return dispute.resolution


# --- Rollback of an import run ---------------------------------------------------


def disputes_opened_by(run_id: int):
    """Select the ids of the disputes that import run ``run_id`` opened."""
    return select(RunChange.row_id).where(
        RunChange.run_id == run_id,
        RunChange.table_name == DISPUTES_TABLE,
        RunChange.action == ChangeAction.CREATED,
    )


def resolved_disputes_opened_by(run_id: int):
    """Select the disputes that import run ``run_id`` opened and that were resolved
    since: a rollback would delete these resolutions."""
    return select(Dispute.id).where(
        Dispute.id.in_(disputes_opened_by(run_id)),
        Dispute.status == DisputeStatus.RESOLVED,
    )


def delete_disputes_opened_by(run_id: int) -> int:
    """Delete the disputes that import run ``run_id`` opened; return how many."""
    return db.session.execute(
        Dispute.__table__.delete().where(Dispute.id.in_(disputes_opened_by(run_id)))
    ).rowcount
