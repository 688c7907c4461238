"""Run one legacy import: read, validate every row, load all-or-nothing, reconcile.

Every import is an ``ImportRun``. By default a file with any rejected row loads
nothing. With ``accept_rejects`` the valid rows are loaded and the rejected ones are
stored with the run. A run limited to a wave loads the customers of that wave's
teams only, and a cutover run makes its legacy source read-only afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from flask_babel import gettext
from sqlalchemy import insert, select

from app.audit import services as audit
from app.auth.models import Team
from app.collection.legacy_disputes import sync_legacy_disputes
from app.extensions import db
from app.ledger.ageing import ageing_as_json, bucket_of, empty_ageing
from app.ledger.models import Customer
from app.ledger.money import format_amount
from app.timeutil import utcnow
from migration.checks import reject_excess_credits, reject_unknown_customers
from migration.item_table import ItemTable, money, paid_part_cents
from migration.load import BatchHook, LoadCounts, MissingAction, load_items
from migration.messages import ReaderError
from migration.models import (
    ChangeAction,
    ImportRejection,
    ImportRun,
    LegacyCutover,
    RunChange,
    RunMode,
)
from migration.records import LegacyItem, RejectedDocuments, Rejection
from migration.sources import (
    PROFILES,
    Export,
    ExportOptions,
    RowCounts,
    SourceError,
    open_export,
)
from migration.waves import wave_teams

logger = logging.getLogger(__name__)

__all__ = [
    "PROFILES",
    "ExportOptions",
    "ImportOutcome",
    "ImportRefused",
    "ImportStatus",
    "SourceError",
    "run_import",
]


class ImportStatus:
    LOADED = "loaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    ROLLED_BACK = "rolled_back"


class ImportRefused(Exception):
    """The import may not run: its legacy source was cut over to Cadence."""


class ReconciliationStatus:
    MATCH = "match"
    DIFFERENCES = "differences"


@dataclasses.dataclass
class ImportOutcome:
    status: str
    run_id: int | None
    rejections: list[Rejection]
    summary: dict
    export: Export | None = None
    previous_run_id: int | None = None  # an earlier run of the same file and date
    # The status of the reconciliation that follows a load (a ReconciliationStatus),
    # None when none ran.
    reconciliation: str | None = None
    # Whether this run recorded the cutover of its legacy source.
    cutover_recorded: bool = False


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def summarise(
    items: ItemTable, counts: RowCounts, rejections: list[Rejection], as_of
) -> dict:
    """Return the figures of a run, computed from the file's items alone."""
    frame = items.frame
    is_credit = frame["is_credit"].to_numpy(dtype=bool)
    is_settled = ~np.isnat(items.day_values("settled_date"))
    # A paid part is allocated to its invoice, so it lowers the invoice's open
    # amount instead of counting as an open credit.
    is_paid_part, paid_cents = paid_part_cents(frame)
    cents = frame["cents"].to_numpy()
    open_cents = cents - paid_cents
    open_items = ~is_credit & ~is_settled
    paid_items = ~is_credit & is_settled
    credits = is_credit & ~is_settled & ~is_paid_part
    date_assumed = frame["payment_date_assumed"].to_numpy(dtype=bool)
    return {
        "rows_read": counts.rows_read,
        "rows_skipped": counts.rows_skipped,
        "rows_ignored": counts.rows_ignored,
        "rows_rejected": len({rejection.line for rejection in rejections}),
        "customers": int(frame["customer_legacy_id"].nunique()),
        "invoices": int((~is_credit).sum()),
        "open_invoices": int(open_items.sum()),
        "open_amount": format_amount(money(open_cents[open_items])),
        "paid_invoices": int(paid_items.sum()),
        "paid_amount": format_amount(money(cents[paid_items])),
        "open_credits": int(credits.sum()),
        "credit_amount": format_amount(money(cents[credits])),
        "paid_parts": int(is_paid_part.sum()),
        "settled_dates_assumed": int((date_assumed & paid_items).sum()),
        "paid_part_dates_assumed": int((date_assumed & is_paid_part).sum()),
        "ageing": ageing_as_json(
            _ageing(
                items.day_values("due_date")[open_items], open_cents[open_items], as_of
            )
        ),
    }


def _ageing(due: np.ndarray, cents: np.ndarray, as_of: dt.date) -> dict[str, dict]:
    """Sum open items into the buckets of ``age_items``, by days past due."""
    ageing = empty_ageing()
    days_past_due = (np.datetime64(as_of, "D") - due).astype(np.int64)
    codes, distinct = pd.factorize(days_past_due)
    buckets = np.array([bucket_of(int(days)) for days in distinct], dtype=object)
    for bucket in set(buckets.tolist()):
        in_bucket = buckets[codes] == bucket
        ageing[bucket]["count"] = int(in_bucket.sum())
        ageing[bucket]["amount"] = money(cents[in_bucket])
    return ageing


def cutover_of(source: str) -> LegacyCutover | None:
    return db.session.scalar(
        select(LegacyCutover).where(LegacyCutover.source == source)
    )


def run_import(
    path: Path,
    *,
    as_of: dt.date,
    profile: str | None = None,
    mapping: Path | dict | None = None,
    options: ExportOptions | None = None,
    dry_run: bool = False,
    accept_rejects: bool = False,
    wave: str | None = None,
    cutover: bool = False,
    force: bool = False,
    user=None,
    on_rows: Callable[[int], None] | None = None,
    on_batch: BatchHook | None = None,
    reconcile: bool = True,
    source: str | None = None,
    missing: str = MissingAction.KEEP,
) -> ImportOutcome:
    """Import ``path`` as the legacy system's state on ``as_of``.

    Give ``profile`` (ibm-ar or fec) or a column ``mapping``. ``source`` names the
    legacy system (see ``open_export``): it keys the records, re-import detection
    and the cutover. Nothing is loaded when ``dry_run`` is set, or when a row is
    rejected unless ``accept_rejects`` is set. A dry run is still recorded, with
    the status dry_run. A load that fails midway is rolled back whole and recorded
    as a failed run. ``missing`` (keep or settle) is what happens to the open items
    of earlier runs that the file no longer lists (see ``load_items``).

    Raises ReaderError when the file cannot be read, SourceError for an invalid
    source name, WaveError for an unknown wave, and ImportRefused when the source
    was cut over and ``force`` is not set.
    """
    if wave is not None and cutover:
        raise ValueError("a run is either limited to a wave or a cutover, not both")
    path = Path(path)
    export = open_export(
        path,
        as_of=as_of,
        profile=profile,
        mapping=mapping,
        options=options,
        source=source,
    )
    _check_cutover(export.source, force)
    _check_not_older(export.source, as_of, force)
    teams = wave_teams(wave) if wave is not None else None

    items, rejections = _read(export, on_rows)
    if export.counts().rows_read == 0:
        raise ReaderError("no_data_rows", path=path.name)
    items, rejections = _check_rows(export, items, rejections)
    items, outside_wave = _limit_to_wave(export.source, items, teams)
    summary = summarise(items, export.counts(), rejections, as_of)
    summary |= {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    summary |= {"dry_run": dry_run, "accept_rejects": accept_rejects}
    if wave is not None:
        summary |= {
            "wave_teams": sorted(teams) if teams is not None else ["all"],
            "rows_outside_wave": outside_wave,
        }

    mode = RunMode.FULL
    if cutover:
        mode = RunMode.CUTOVER
    elif wave is not None:
        mode = RunMode.WAVE
    run = ImportRun(
        source=export.source,
        profile=export.profile,
        file_name=path.name,
        file_path=str(path.resolve()),
        sha256=file_sha256(path),
        as_of=as_of,
        mode=mode,
        wave=wave,
        status="running",
        settings=export.settings,
        user_id=getattr(user, "id", None),
        user_label=getattr(user, "email", "cli"),
    )
    if wave is not None:
        run.settings = export.settings | {
            "customers": sorted(set(items.frame["customer_legacy_id"]))
        }
    previous = _previous_run(run)
    if rejections and not accept_rejects:
        logger.warning("import of %s rejected: %d rows", path, len(rejections))
        outcome = _finish(
            run, ImportStatus.REJECTED, summary, rejections, dry_run, user
        )
        outcome.export = export
        return outcome

    try:
        if not dry_run:
            db.session.add(run)
            db.session.flush()
        counts = load_items(
            items,
            source=export.source,
            run_id=run.id,
            dry_run=dry_run,
            on_batch=on_batch,
            rejected=RejectedDocuments.of(rejections),
            missing=missing,
            as_of=as_of,
            teams=teams,
        )
        if not dry_run:
            disputes = sync_legacy_disputes(run)
            summary["legacy_disputes"] = dataclasses.asdict(disputes)
    except Exception:
        db.session.rollback()
        logger.exception("import of %s failed; database left unchanged", path)
        _finish(
            ImportRun(**_columns_of(run)),
            ImportStatus.FAILED,
            summary,
            [],
            dry_run,
            user,
        )
        raise
    summary |= dataclasses.asdict(counts)
    # The full list is for the reconciliation, which reads the run's settings;
    # the summary keeps the first ids, for people.
    missing_ids = summary["missing"].pop("every_legacy_id")
    if missing_ids:
        run.settings = (run.settings or {}) | {"missing_legacy_ids": missing_ids}
    status = _status(counts, dry_run)
    if cutover and not dry_run:
        _record_cutover(run, user)
    outcome = _finish(run, status, summary, rejections, dry_run, user)
    outcome.export = export
    outcome.previous_run_id = previous
    outcome.cutover_recorded = cutover and not dry_run
    if reconcile and status in (ImportStatus.LOADED, ImportStatus.UNCHANGED):
        from migration.reconcile import reconcile_run

        outcome.reconciliation = reconcile_run(run).report["status"]
    return outcome


def _read(
    export: Export, on_rows: Callable[[int], None] | None
) -> tuple[ItemTable, list[Rejection]]:
    """Read every record, reporting progress to ``on_rows`` as a count of rows read."""
    if export.read_table is not None:
        table, rejections = export.read_table()
        if on_rows is not None:
            # The column reader reads the whole file at once, ignored lines included.
            on_rows(export.counts().rows_read)
        return table, rejections
    items: list[LegacyItem] = []
    rejections: list[Rejection] = []
    for record in export.records:
        if on_rows is not None:
            on_rows(1)
        if isinstance(record, Rejection):
            rejections.append(record)
        else:
            items.append(record)
    if on_rows is not None:
        # Skipped and ignored rows yield no record; count them at the end.
        unreported = export.counts().rows_read - len(items) - len(rejections)
        if unreported > 0:
            on_rows(unreported)
    return ItemTable.from_items(items), rejections


def _check_rows(
    export: Export, table: ItemTable, rejections: list[Rejection]
) -> tuple[ItemTable, list[Rejection]]:
    """Apply the cross-row and database checks that the profile requests."""
    if export.customers_policy != "existing_only" and export.credit_policy != "reject":
        return table, rejections

    items = table.to_items()
    found: list[Rejection] = []
    if export.customers_policy == "existing_only":
        known = set(
            db.session.scalars(
                select(Customer.legacy_id).where(
                    Customer.legacy_source == export.source
                )
            )
        )
        items, unknown = reject_unknown_customers(
            items, known, field=export.customer_field
        )
        found += unknown
    if export.credit_policy == "reject":
        items, excess = reject_excess_credits(
            items, field=export.amount_field, decimal=export.decimal
        )
        found += excess
    if not found:
        return ItemTable.from_items(items), rejections
    # A row rejected by a later check loses its other items too (a partly paid
    # invoice gives an invoice and a payment item).
    lines = {rejection.line for rejection in found}
    items = [item for item in items if item.line not in lines]
    rejections = sorted(rejections + found, key=lambda rejection: rejection.line)
    return ItemTable.from_items(items), rejections


def _limit_to_wave(
    source: str, items: ItemTable, teams: frozenset[str] | None
) -> tuple[ItemTable, int]:
    """Keep the items of customers whose team is in ``teams``; count the rows left out.

    A customer's team is the one its row names, else the one it has in Cadence.
    ``teams`` None keeps every item: no wave, or a wave of every team.
    """
    if teams is None:
        return items, 0
    known_teams = dict(
        db.session.execute(
            select(Customer.legacy_id, Team.code)
            .join(Team, Customer.team_id == Team.id)
            .where(Customer.legacy_source == source)
        ).all()
    )
    frame = items.frame
    named = frame["team"].fillna("").astype(bool)
    team = frame["team"].where(named, frame["customer_legacy_id"].map(known_teams))
    keep = team.isin(teams).to_numpy(dtype=bool)
    lines = frame["line"]
    left_out_lines = set(lines[~keep]) - set(lines[keep])
    return items.subset(keep), len(left_out_lines)


def _check_cutover(source: str, force: bool) -> None:
    cutover = cutover_of(source)
    if cutover is None or force:
        if cutover is not None:
            logger.warning("importing %s after its cutover, forced", source)
        return
    cut_over_at = cutover.cut_over_at.strftime("%Y-%m-%d %H:%M")
    raise ImportRefused(
        gettext(
            "The legacy source %(source)s was cut over to Cadence on %(date)s UTC by "
            "run %(run)s, so it is read-only. Use --force to import it anyway, for "
            "example to correct the cutover load.",
            source=source,
            date=cut_over_at,
            run=cutover.run_id,
        )
    )


def _check_not_older(source: str, as_of: dt.date, force: bool) -> None:
    """Refuse an export older than one already loaded, unless forced.

    Loading it would reopen the invoices paid since and settle or delete what
    the newer export added: the usual cause is a file picked by mistake.
    """
    newer = db.session.execute(
        select(ImportRun.id, ImportRun.as_of)
        .where(
            ImportRun.source == source,
            ImportRun.as_of > as_of,
            ImportRun.status.in_([ImportStatus.LOADED, ImportStatus.UNCHANGED]),
        )
        .order_by(ImportRun.as_of.desc(), ImportRun.id.desc())
        .limit(1)
    ).first()
    if newer is None:
        return
    if force:
        logger.warning(
            "importing %s as of %s after run %d as of %s, forced",
            source,
            as_of,
            newer.id,
            newer.as_of,
        )
        return
    raise ImportRefused(
        gettext(
            "Run %(run)s already loaded %(source)s as of %(newer)s, later than "
            "%(as_of)s: this older export would reopen the invoices paid since and "
            "drop what the newer one added. Check the file and --as-of; to go back "
            "to the earlier state, roll back the newer runs (cadence legacy "
            "rollback %(run)s), or use --force to load it anyway.",
            run=newer.id,
            source=source,
            newer=newer.as_of.isoformat(),
            as_of=as_of.isoformat(),
        )
    )


def _record_cutover(run: ImportRun, user) -> None:
    """Record the cutover of the run's source, and how to undo it in a RunChange.

    A forced cutover of a source that was already cut over updates the cutover in
    place, and the change keeps the earlier values for a rollback to restore.
    """
    user_label = getattr(user, "email", "cli")
    existing = cutover_of(run.source)
    if existing is None:
        cutover = LegacyCutover(
            source=run.source,
            run_id=run.id,
            cut_over_at=utcnow(),
            user_label=user_label,
        )
        db.session.add(cutover)
        db.session.flush()
        change = RunChange(action=ChangeAction.CREATED, before=None)
    else:
        before = {
            "run_id": existing.run_id,
            "cut_over_at": existing.cut_over_at.isoformat(),
            "user_label": existing.user_label,
        }
        existing.run_id = run.id
        existing.cut_over_at = utcnow()
        existing.user_label = user_label
        cutover = existing
        change = RunChange(action=ChangeAction.UPDATED, before=before)
    change.run_id = run.id
    change.table_name = LegacyCutover.__tablename__
    change.row_id = cutover.id
    db.session.add(change)


def _previous_run(run: ImportRun) -> int | None:
    """Return the latest earlier run that loaded the same file for the same date."""
    return db.session.scalar(
        select(ImportRun.id)
        .where(
            ImportRun.source == run.source,
            ImportRun.sha256 == run.sha256,
            ImportRun.as_of == run.as_of,
            ImportRun.status.in_([ImportStatus.LOADED, ImportStatus.UNCHANGED]),
        )
        .order_by(ImportRun.id.desc())
        .limit(1)
    )


def _status(counts: LoadCounts, dry_run: bool) -> str:
    if dry_run:
        return ImportStatus.DRY_RUN
    return ImportStatus.LOADED if counts.changed else ImportStatus.UNCHANGED


def _finish(run, status, summary, rejections, dry_run, user) -> ImportOutcome:
    """Record the run and commit it with the loaded rows.

    A dry run discards whatever the load wrote and records only the run, with the
    status dry_run and the rows it would have rejected.
    """
    if dry_run:
        db.session.rollback()
        if status != ImportStatus.FAILED:
            status = ImportStatus.DRY_RUN
    run.status = status
    run.summary = summary | {"rejections": len(rejections)}
    run.finished_at = utcnow()
    db.session.add(run)
    db.session.flush()
    _store_rejections(run.id, rejections)

    audit.record(
        "migration.import",
        actor=user,
        target=f"import run {run.id}",
        after={
            "status": status,
            "file": run.file_name,
            "sha256": run.sha256,
            "as_of": run.as_of.isoformat(),
            "mode": run.mode,
            "wave": run.wave,
            "created": summary["created"],
            "updated": summary["updated"],
            "deleted": summary["deleted"],
            "rows_rejected": summary["rows_rejected"],
        },
    )
    db.session.commit()

    logger.info("import run %d of %s: %s", run.id, run.file_name, status)
    return ImportOutcome(status, run.id, rejections, summary)


def _store_rejections(run_id: int, rejections: list[Rejection]) -> None:
    rows = [
        {
            "run_id": run_id,
            "line": rejection.line,
            "field": rejection.field,
            "value": rejection.value,
            "code": rejection.code,
            "params": rejection.params,
            "reason": rejection.reason,
        }
        for rejection in rejections
    ]
    if rows:
        db.session.execute(insert(ImportRejection.__table__), rows)


def _columns_of(run: ImportRun) -> dict:
    names = (
        "source",
        "profile",
        "file_name",
        "file_path",
        "sha256",
        "as_of",
        "mode",
        "wave",
        "settings",
        "user_id",
        "user_label",
    )
    return {name: getattr(run, name) for name in names}
