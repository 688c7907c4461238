"""Run one legacy import: read, validate every row, load all-or-nothing, summarise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from app.audit import services as audit
from app.extensions import db
from app.ledger.ageing import age_items, ageing_as_json
from app.ledger.money import ZERO, format_amount
from app.timeutil import utcnow
from migration.load import LoadCounts, load_items
from migration.models import ImportRun
from migration.readers.ibm import ReadStats, read_ibm
from migration.records import LegacyItem, Rejection

logger = logging.getLogger(__name__)

# A reader takes (path, as_of, stats) and yields items and rejections.
Reader = Callable[[Path, dt.date, ReadStats], Iterator[LegacyItem | Rejection]]
PROFILES: dict[str, tuple[str, Reader]] = {"ibm-ar": ("ibm-ar", read_ibm)}


class ImportStatus:
    LOADED = "loaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    FAILED = "failed"
    DRY_RUN = "dry_run"


@dataclasses.dataclass
class ImportOutcome:
    status: str
    run_id: int | None
    rejections: list[Rejection]
    summary: dict


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def summarise(
    items: list[LegacyItem], stats: ReadStats, rejected: int, as_of: dt.date
) -> dict:
    """Return the figures of a run, computed from the file's items alone."""
    debits = [item for item in items if not item.is_credit]
    open_items = [item for item in debits if item.settled_date is None]
    paid_items = [item for item in debits if item.settled_date is not None]
    ageing = age_items(((item.due_date, item.amount) for item in open_items), as_of)
    return {
        "rows_read": stats.rows_read,
        "rows_skipped": stats.rows_skipped,
        "rows_rejected": rejected,
        "customers": len({item.customer_legacy_id for item in items}),
        "invoices": len(debits),
        "open_invoices": len(open_items),
        "open_amount": format_amount(_total(open_items)),
        "paid_invoices": len(paid_items),
        "paid_amount": format_amount(_total(paid_items)),
        "ageing": ageing_as_json(ageing),
    }


def _total(items: list[LegacyItem]) -> Decimal:
    return sum((item.amount for item in items), ZERO)


def run_import(
    path: Path,
    *,
    profile: str,
    as_of: dt.date,
    dry_run: bool = False,
    user=None,
    on_row: Callable[[], None] | None = None,
) -> ImportOutcome:
    """Import ``path`` as the legacy system's state on ``as_of``.

    Nothing is written when any row is rejected or when ``dry_run`` is set. A load
    that fails midway is rolled back whole and recorded as a failed run.
    """
    source, reader = PROFILES[profile]
    stats = ReadStats()
    items: list[LegacyItem] = []
    rejections: list[Rejection] = []
    for record in reader(path, as_of, stats):
        if on_row is not None:
            on_row()
        if isinstance(record, Rejection):
            rejections.append(record)
        else:
            items.append(record)

    summary = summarise(items, stats, len(rejections), as_of)
    summary |= {"created": 0, "updated": 0, "dry_run": dry_run}
    run = ImportRun(
        source=source,
        profile=profile,
        file_name=path.name,
        sha256=file_sha256(path),
        as_of=as_of,
        status="running",
        user_id=getattr(user, "id", None),
        user_label=getattr(user, "email", "cli"),
    )
    if rejections:
        logger.warning("import of %s rejected: %d rows", path, len(rejections))
        return _finish(run, ImportStatus.REJECTED, summary, rejections, dry_run, user)

    try:
        if not dry_run:
            db.session.add(run)
            db.session.flush()
        counts = load_items(items, source=source, run_id=run.id, dry_run=dry_run)
    except Exception:
        db.session.rollback()
        logger.exception("import of %s failed; database left unchanged", path)
        run.id = None
        _finish(run, ImportStatus.FAILED, summary, [], dry_run, user)
        raise
    summary |= {"created": counts.created, "updated": counts.updated}
    status = _status(counts, dry_run)
    return _finish(run, status, summary, [], dry_run, user)


def _status(counts: LoadCounts, dry_run: bool) -> str:
    if dry_run:
        return ImportStatus.DRY_RUN
    return ImportStatus.LOADED if counts.changed else ImportStatus.UNCHANGED


def _finish(run, status, summary, rejections, dry_run, user) -> ImportOutcome:
    """Record the run (except for a dry run) and commit with the loaded rows."""
    if dry_run:
        db.session.rollback()
        return ImportOutcome(status, None, rejections, summary)
    if status == ImportStatus.FAILED:
        run = ImportRun(**_columns_of(run))
    run.status = status
    run.summary = summary | {"rejections": len(rejections)}
    run.finished_at = utcnow()
    db.session.add(run)
    db.session.flush()
    audit.record(
        "migration.import",
        actor=user,
        target=f"import run {run.id}",
        after={"status": status, "file": run.file_name, "as_of": run.as_of.isoformat()},
    )
    db.session.commit()
    logger.info("import run %d of %s: %s", run.id, run.file_name, status)
    return ImportOutcome(status, run.id, rejections, summary)


def _columns_of(run: ImportRun) -> dict:
    names = ("source", "profile", "file_name", "sha256", "as_of", "user_id", "user_label")
    return {name: getattr(run, name) for name in names}
