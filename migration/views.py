"""Admin pages of the legacy migration: runs, a run's report, CSV downloads."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, render_template
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import func, select

from app.auth.models import Role
from app.auth.permissions import role_required
from app.extensions import db
from app.ledger.ageing import BUCKET_LABELS, BUCKETS
from migration.labels import (
    DOCUMENT_STATE_LABELS,
    METRIC_LABELS,
    MODE_LABELS,
    STATUS_LABELS,
    rejection_csv_header,
)
from migration.messages import reason_text
from migration.models import ImportRejection, ImportRun, LegacyCutover
from migration.reconcile import METRICS, report_csv, safe_cell

bp = Blueprint("migration", __name__, url_prefix="/admin/migration")

# Rows shown on a page; the CSV downloads have them all.
PAGE_ROWS = 500
AMOUNT_METRICS = {key for key, _, is_amount in METRICS if is_amount}


@bp.app_context_processor
def inject_cutovers() -> dict:
    """Give templates ``legacy_cutovers()``, queried only when a template calls it."""

    def legacy_cutovers() -> list[LegacyCutover]:
        if not current_user.is_authenticated or current_user.role != Role.ADMIN:
            return []
        return all_cutovers()

    return {"legacy_cutovers": legacy_cutovers}


def all_cutovers() -> list[LegacyCutover]:
    return list(db.session.scalars(select(LegacyCutover).order_by(LegacyCutover.id)))


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/")
@role_required(Role.ADMIN)
def runs():
    """List the import runs, newest first, and the cutovers."""
    rows = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).all()
    cutovers = all_cutovers()
    return render_template(
        "migration/runs.html",
        runs=rows,
        cutovers=cutovers,
        status_labels=STATUS_LABELS,
        mode_labels=MODE_LABELS,
    )


@bp.route("/runs/<int:run_id>")
@role_required(Role.ADMIN)
def run(run_id: int):
    """Show a run: its summary, its rejections and its reconciliation's outcome."""
    record = _run_or_404(run_id)
    rejection_count = db.session.scalar(
        select(func.count()).where(ImportRejection.run_id == run_id)
    )
    rejections = db.session.scalars(
        select(ImportRejection)
        .where(ImportRejection.run_id == run_id)
        .order_by(ImportRejection.line, ImportRejection.id)
        .limit(PAGE_ROWS)
    ).all()
    lang = str(get_locale())
    reasons = {
        rejection.id: reason_text(
            rejection.code, rejection.params, rejection.reason, lang
        )
        for rejection in rejections
    }
    return render_template(
        "migration/run.html",
        run=record,
        summary=record.summary or {},
        report=record.reconciliation,
        rejections=rejections,
        rejection_count=rejection_count,
        reasons=reasons,
        page_rows=PAGE_ROWS,
        status_labels=STATUS_LABELS,
        mode_labels=MODE_LABELS,
        buckets=BUCKETS,
        bucket_labels=BUCKET_LABELS,
    )


@bp.route("/runs/<int:run_id>/reconciliation")
@role_required(Role.ADMIN)
def reconciliation(run_id: int):
    """Show a run's reconciliation report: differences first, then every customer."""
    record = _run_or_404(run_id)
    if not record.reconciliation:
        abort(404, description="This run has no reconciliation report.")
    report = record.reconciliation
    return render_template(
        "migration/reconciliation.html",
        run=record,
        report=report,
        customers=report["customers"][:PAGE_ROWS],
        page_rows=PAGE_ROWS,
        metrics=[key for key, _, _ in METRICS],
        metric_labels=METRIC_LABELS,
        state_labels=DOCUMENT_STATE_LABELS,
        amount_metrics=AMOUNT_METRICS,
        buckets=BUCKETS,
        bucket_labels=BUCKET_LABELS,
    )


def _csv_response(text: str, filename: str) -> Response:
    # A byte order mark makes spreadsheet programs read the file as UTF-8.
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/runs/<int:run_id>/rejections.csv")
@role_required(Role.ADMIN)
def rejections_csv(run_id: int):
    """Download every rejected row of a run, with reasons in the page's language."""
    _run_or_404(run_id)
    lang = str(get_locale())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(rejection_csv_header())
    rejections = db.session.scalars(
        select(ImportRejection)
        .where(ImportRejection.run_id == run_id)
        .order_by(ImportRejection.line, ImportRejection.id)
    )
    for rejection in rejections:
        reason = reason_text(rejection.code, rejection.params, rejection.reason, lang)
        writer.writerow(
            [
                rejection.line,
                safe_cell(rejection.field),
                safe_cell(rejection.value),
                safe_cell(reason),
            ]
        )
    return _csv_response(buffer.getvalue(), f"run-{run_id}-rejections.csv")


@bp.route("/runs/<int:run_id>/reconciliation.csv")
@role_required(Role.ADMIN)
def reconciliation_csv(run_id: int):
    """Download a run's per-customer reconciliation."""
    record = _run_or_404(run_id)
    if not record.reconciliation:
        abort(404, description="This run has no reconciliation report.")
    return _csv_response(
        report_csv(record.reconciliation), f"run-{run_id}-reconciliation.csv"
    )
