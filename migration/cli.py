"""``cadence legacy``: import legacy exports, list, reconcile and roll back runs.

Exit codes: 0 on success; 1 when rows were rejected, or an import or rollback was
refused; 2 for invalid options or an unreadable file; 3 when a reconciliation
finds differences, including the one that follows an import (3 then wins over 1).
Text for people is printed in ``--lang`` (default: the CADENCE_LANG environment
variable, else English). Scripts should parse the ``--json`` outputs, which keep
status and figure codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from migration import cli_output
from migration.importer import (
    PROFILES,
    ExportOptions,
    ImportRefused,
    ReconciliationStatus,
    SourceError,
    run_import,
)
from migration.labels import rejection_csv_header
from migration.load import MISSING_ACTIONS, MissingAction
from migration.messages import (
    ReaderError,
    error_text,
    reason_text,
)
from migration.models import ImportRun
from migration.reconcile import ReconcileError, reconcile_run, safe_cell
from migration.rollback import RollbackRefused, rollback_run
from migration.waves import WaveError

legacy = AppGroup("legacy", help="Import legacy receivables exports and review runs.")

LANGUAGES = ("fr", "en")
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_DIFFERENCES = 3

lang_option = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    envvar="CADENCE_LANG",
    show_default=True,
    help="Language of the text for people (not of --json); CADENCE_LANG sets it too.",
)


def _parse_date(ctx, param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2013-06-30"
        ) from None


def _user_of(email: str | None) -> User | None:
    if not email:
        return None
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        raise click.BadParameter(f"no user with email {email!r}", param_hint="--user")
    return user


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def write_rejections(path: Path, rejections, lang: str) -> None:
    """Write rejections as CSV (line, field, value, reason) safe for spreadsheets."""
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        with force_locale(lang):
            writer.writerow(rejection_csv_header())
        for rejection in rejections:
            writer.writerow(
                [
                    rejection.line,
                    safe_cell(rejection.field),
                    safe_cell(rejection.value),
                    safe_cell(_reason(rejection, lang)),
                ]
            )


def _reason(rejection, lang: str) -> str:
    return reason_text(rejection.code, rejection.params, rejection.reason, lang)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@legacy.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    help="Format of the export: ibm-ar (IBM sample CSV) or fec (French FEC ledger).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML column mapping of a CSV or .xlsx export; use instead of --profile.",
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
    help="Write rejected rows to this CSV file (line, field, value, reason); "
    "with no rejection, the file has the header line only.",
)
@click.option(
    "--accept-rejects",
    is_flag=True,
    help="Load the valid rows even when some are rejected; the run keeps the others.",
)
@click.option("--wave", help="Load only the customers of this rollout wave's teams.")
@click.option(
    "--cutover",
    is_flag=True,
    help="Load every customer and make this legacy source read-only afterwards.",
)
@click.option("--force", is_flag=True, help="Import a source even after its cutover.")
@click.option(
    "--source",
    help="Name of the legacy system, such as acme-fec: it keys the records, "
    "re-imports and the cutover. Default: the profile's name (fec, ibm-ar) or the "
    "mapping's source key.",
)
@click.option(
    "--account-prefix",
    "account_prefixes",
    multiple=True,
    default=("411",),
    show_default=True,
    help="FEC: receivable account prefix; repeat the option for several.",
)
@click.option(
    "--payment-term",
    default="30 days",
    show_default=True,
    help='FEC: due date of invoices without one, such as "45 days end of month".',
)
@click.option(
    "--due-dates",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="FEC: CSV of PieceRef and DueDate giving invoices their due dates.",
)
@click.option(
    "--credit-exceeds-debt",
    type=click.Choice(("allow", "reject")),
    help="Reject open credits larger than the customer's debt; default: the profile's.",
)
@click.option(
    "--missing",
    type=click.Choice(MISSING_ACTIONS),
    default=MissingAction.KEEP,
    show_default=True,
    help="Open items of earlier runs that the file no longer lists: keep them open, "
    "or settle them on the as-of date (invoices get a settlement payment, credits "
    "are deleted). Both are reported; a wave run checks only its wave's customers.",
)
@click.option("--user", "user_email", help="Email of the person running the import.")
@lang_option
def import_command(path, profile, mapping, as_of, **options):
    """Import PATH as the legacy system's state on the --as-of date."""
    if (profile is None) == (mapping is None):
        raise click.UsageError("give either --profile or --mapping")
    if options["wave"] and options["cutover"]:
        raise click.UsageError("--wave and --cutover cannot be used together")
    lang = options["lang"]
    user = _user_of(options["user_email"])
    export_options = ExportOptions(
        account_prefixes=options["account_prefixes"],
        payment_term=options["payment_term"],
        due_dates=options["due_dates"],
        credit_exceeds_debt=options["credit_exceeds_debt"],
    )
    length = 0 if path.suffix.lower() in (".xlsx", ".xlsm") else _count_lines(path)
    try:
        with (
            force_locale(lang),
            click.progressbar(length=length, label="Reading", file=sys.stderr) as bar,
        ):
            outcome = run_import(
                path,
                as_of=as_of,
                profile=profile,
                mapping=mapping,
                options=export_options,
                dry_run=options["dry_run"],
                accept_rejects=options["accept_rejects"],
                wave=options["wave"],
                cutover=options["cutover"],
                force=options["force"],
                user=user,
                on_rows=bar.update,
                source=options["source"],
                missing=options["missing"],
            )
    except ReaderError as error:
        _fail(error_text(error, lang), EXIT_USAGE)
    except SourceError as error:
        _fail(str(error), EXIT_USAGE)
    except WaveError as error:
        _fail(str(error), EXIT_USAGE)
    except ImportRefused as error:
        _fail(str(error), EXIT_REJECTED)

    if options["rejects"]:
        # Written even when empty, so that a script finds this run's file and not
        # an earlier one.
        write_rejections(options["rejects"], outcome.rejections, lang)
    if options["as_json"]:
        click.echo(json.dumps(_payload(outcome, lang), indent=2, ensure_ascii=False))
    else:
        with force_locale(lang):
            cli_output.print_outcome(outcome, path, as_of)
    if outcome.reconciliation == ReconciliationStatus.DIFFERENCES:
        sys.exit(EXIT_DIFFERENCES)
    if outcome.rejections:
        sys.exit(EXIT_REJECTED)


def _payload(outcome, lang: str) -> dict:
    payload = {"status": outcome.status, "run_id": outcome.run_id, **outcome.summary}
    if outcome.export is not None:
        payload["source"] = outcome.export.source
    export = outcome.export
    if export is not None and export.detected is not None:
        payload["detected"] = {
            name: {
                "value": setting.value,
                "source": setting.source,
                "note": setting.note,
            }
            for name, setting in export.detected.settings.items()
        }
    if outcome.rejections:
        payload["rejections"] = [
            {
                "line": rejection.line,
                "field": rejection.field,
                "value": rejection.value,
                "code": rejection.code,
                "reason": _reason(rejection, lang),
            }
            for rejection in outcome.rejections
        ]
    if outcome.reconciliation is not None:
        payload["reconciliation"] = outcome.reconciliation
    payload["cutover_recorded"] = outcome.cutover_recorded
    return payload


@legacy.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@lang_option
def runs_command(as_json, lang):
    """List import runs, newest first, dry runs included."""
    runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).all()
    if as_json:
        click.echo(json.dumps([_run_json(run) for run in runs], indent=2))
        return
    with force_locale(lang):
        cli_output.print_runs(runs)


def _run_json(run: ImportRun) -> dict:
    return {
        "id": run.id,
        "source": run.source,
        "profile": run.profile,
        "file_name": run.file_name,
        "sha256": run.sha256,
        "as_of": run.as_of.isoformat(),
        "mode": run.mode,
        "wave": run.wave,
        "status": run.status,
        "user": run.user_label,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "summary": run.summary,
        "reconciliation": (run.reconciliation or {}).get("status"),
    }


def _run_or_fail(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        _fail(f"no import run {run_id}; `cadence legacy runs` lists them", EXIT_USAGE)
    return run


@legacy.command("rollback")
@click.argument("run_id", type=int)
@click.option("--user", "user_email", help="Email of the person rolling back.")
@lang_option
def rollback_command(run_id, user_email, lang):
    """Undo import run RUN_ID: restore the rows it changed, delete those it created."""
    user = _user_of(user_email)
    run = _run_or_fail(run_id)
    with force_locale(lang):
        try:
            result = rollback_run(run, user=user)
        except RollbackRefused as error:
            _fail(str(error), EXIT_REJECTED)
        cli_output.print_rollback(run, result)


@legacy.command("reconcile")
@click.argument("run_id", type=int)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run's file, when it is no longer where the run read it.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the per-customer comparison to this CSV file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@lang_option
def reconcile_command(run_id, path, csv_path, as_json, lang):
    """Compare run RUN_ID's file with the database; exit 3 on any difference.

    The CSV headers follow --lang, like the printed report.
    """
    from migration.reconcile import report_csv

    run = _run_or_fail(run_id)
    try:
        with force_locale(lang):
            reconciliation = reconcile_run(run, path)
    except ReconcileError as error:
        with force_locale(lang):
            _fail(str(error), EXIT_USAGE)
    report = reconciliation.report
    with force_locale(lang):
        if csv_path:
            csv_path.write_text(report_csv(report), encoding="utf-8-sig")
        if as_json:
            click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            cli_output.print_report(run, report)
    if not reconciliation.matches:
        sys.exit(EXIT_DIFFERENCES)
