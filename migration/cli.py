"""``cadence legacy``: import legacy exports and list past runs."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from migration.importer import PROFILES, ImportStatus, run_import
from migration.models import ImportRun

legacy = AppGroup("legacy", help="Import legacy receivables exports and review runs.")


def _parse_date(ctx, param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2013-06-30"
        ) from None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def _write_rejections(path: Path, rejections) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "field", "value", "reason"])
        for rejection in rejections:
            writer.writerow(
                [rejection.line, rejection.field, rejection.value, rejection.reason]
            )


@legacy.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--profile",
    required=True,
    type=click.Choice(sorted(PROFILES)),
    help="Format of the export.",
)
@click.option(
    "--as-of",
    "as_of",
    required=True,
    callback=_parse_date,
    help="Date (YYYY-MM-DD) on which the file shows the legacy system's state.",
)
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected rows to this CSV file (line, field, value, reason).",
)
@click.option("--user", "user_email", help="Email of the person running the import.")
def import_command(path, profile, as_of, dry_run, as_json, rejects, user_email):
    """Import PATH as the legacy system's state on the --as-of date."""
    user = None
    if user_email:
        user = db.session.scalar(select(User).where(User.email == user_email))
        if user is None:
            raise click.BadParameter(f"no user with email {user_email!r}", param_hint="--user")

    with click.progressbar(
        length=_count_lines(path), label="Reading", file=sys.stderr
    ) as bar:
        outcome = run_import(
            path,
            profile=profile,
            as_of=as_of,
            dry_run=dry_run,
            user=user,
            on_row=lambda: bar.update(1),
        )

    if rejects and outcome.rejections:
        _write_rejections(rejects, outcome.rejections)
    if as_json:
        payload = {"status": outcome.status, "run_id": outcome.run_id, **outcome.summary}
        if outcome.rejections:
            payload["rejections"] = [
                {"line": r.line, "field": r.field, "value": r.value, "reason": r.reason}
                for r in outcome.rejections
            ]
        click.echo(json.dumps(payload, indent=2))
    else:
        _print_outcome(outcome, path, as_of)
    if outcome.status == ImportStatus.REJECTED:
        sys.exit(1)


def _print_outcome(outcome, path: Path, as_of: dt.date) -> None:
    summary = outcome.summary
    if outcome.status == ImportStatus.REJECTED:
        click.echo(
            f"{len(outcome.rejections)} rows rejected; nothing was loaded. "
            "Fix these rows in the export and run the import again:",
            err=True,
        )
        for rejection in outcome.rejections[:50]:
            click.echo(f"  {rejection}", err=True)
        if len(outcome.rejections) > 50:
            click.echo(
                f"  ... and {len(outcome.rejections) - 50} more "
                "(use --rejects FILE for the full list)",
                err=True,
            )
        return
    click.echo(
        f"{path.name} as of {as_of}: {summary['rows_read']} rows read, "
        f"{summary['rows_skipped']} issued after the as-of date skipped."
    )
    click.echo(
        f"{summary['customers']} customers, {summary['invoices']} invoices: "
        f"{summary['open_invoices']} open for {summary['open_amount']}, "
        f"{summary['paid_invoices']} paid for {summary['paid_amount']}."
    )
    for bucket, values in summary["ageing"].items():
        click.echo(f"  {bucket:>8}: {values['count']:>6} {values['amount']:>14}")
    if outcome.status == ImportStatus.DRY_RUN:
        click.echo(
            f"Dry run: {summary['created']} records would be created and "
            f"{summary['updated']} updated; nothing was written."
        )
    elif outcome.status == ImportStatus.UNCHANGED:
        click.echo(
            f"Nothing to change: the database already matches this file as of {as_of} "
            f"(run {outcome.run_id})."
        )
    else:
        click.echo(
            f"Run {outcome.run_id}: {summary['created']} records created, "
            f"{summary['updated']} updated."
        )


@legacy.command("runs")
def runs_command():
    """List import runs, newest first."""
    runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).all()
    if not runs:
        click.echo("No import has run yet.")
        return
    for run in runs:
        click.echo(
            f"{run.id:>4}  {run.started_at:%Y-%m-%d %H:%M}  {run.status:<10} "
            f"{run.profile:<8} as of {run.as_of}  {run.file_name}  by {run.user_label}"
        )
