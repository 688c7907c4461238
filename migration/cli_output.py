"""Text that ``cadence legacy`` prints for people, in the language of ``--lang``.

The command wraps these functions in ``force_locale``, so every gettext call
here renders in that language. Labels and headings reuse the msgids of the admin
pages. Counts inside sentences go through ngettext. Status, mode and figure codes
are shown as their translated labels; the ``--json`` outputs keep the codes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask_babel import format_decimal, get_locale, gettext, ngettext

from app.ledger.ageing import BUCKET_LABELS
from migration.importer import ImportOutcome, ImportStatus, ReconciliationStatus
from migration.labels import (
    DOCUMENT_STATE_LABELS,
    METRIC_LABELS,
    MODE_LABELS,
    STATUS_LABELS,
)
from migration.load import MISSING_IDS_LISTED
from migration.messages import rejection_text
from migration.models import ImportRun
from migration.reconcile import METRICS
from migration.rollback import RollbackResult

SHOWN_REJECTIONS = 50
# Legacy ids of missing open items printed; --json gives the run's longer list.
SHOWN_MISSING_IDS = 20
LABEL_WIDTH = 60


def amount_text(value: object) -> str:
    """Return an amount as the locale writes it (1,234.50 or 1 234,50)."""
    if value in (None, ""):
        return ""
    try:
        return format_decimal(Decimal(str(value)), format="#,##0.00")
    except InvalidOperation:
        return str(value)


def _row(label: object, *values: object) -> str:
    cells = "".join(f"{value!s:>14}" for value in values)
    return f"  {label!s:<{LABEL_WIDTH}}{cells}"


def _status(code: str | None) -> str:
    return str(STATUS_LABELS.get(code, code)) if code else ""


# --- cadence legacy import ------------------------------------------------------------


def _print_assumed_dates(summary: dict) -> None:
    """Print how many payments the export did not date, when there are any."""
    settled = summary.get("settled_dates_assumed", 0)
    paid_parts = summary.get("paid_part_dates_assumed", 0)
    if not (settled or paid_parts):
        return
    click.echo(_row(gettext("Paid invoices with an assumed payment date"), settled))
    click.echo(_row(gettext("Paid parts with an assumed payment date"), paid_parts))


def _print_missing(missing: dict | None) -> None:
    """Print the open items of earlier runs that the file no longer lists."""
    if not missing:
        return
    click.echo(
        _row(
            gettext("Open invoices of earlier runs missing from the file"),
            missing["open_invoices"],
        )
    )
    click.echo(
        _row(
            gettext("Open credits of earlier runs missing from the file"),
            missing["open_credits"],
        )
    )
    count = missing["open_invoices"] + missing["open_credits"]
    if not count:
        return
    if missing["action"] == "settle":
        click.echo(
            _row(
                gettext("Missing invoices settled on the as-of date"),
                missing["settled_invoices"],
            )
        )
        click.echo(_row(gettext("Missing credits deleted"), missing["deleted_credits"]))
    else:
        click.echo(
            gettext(
                "The missing items stay open. Import with --missing settle to close "
                "them on the as-of date."
            )
        )
    shown = missing["legacy_ids"][:SHOWN_MISSING_IDS]
    for legacy_id in shown:
        click.echo(f"    {legacy_id}")
    if count > len(shown):
        click.echo(
            ngettext(
                "    ... and %(num)d more; the run's summary (--json) lists up to "
                "%(listed)d.",
                "    ... and %(num)d more; the run's summary (--json) lists up to "
                "%(listed)d.",
                count - len(shown),
                listed=MISSING_IDS_LISTED,
            )
        )


def print_outcome(outcome: ImportOutcome, path: Path, as_of: dt.date) -> None:
    """Print what an import read, what it changed and how the reconciliation ended."""
    summary = outcome.summary
    if outcome.export is not None and outcome.export.detected is not None:
        click.echo(
            gettext("Detected format of %(format)s", format=outcome.export.detected)
        )
    if outcome.rejections:
        print_rejections(outcome)
        if _loads_nothing(outcome):
            return

    source = outcome.export.source if outcome.export is not None else ""
    click.echo(
        gettext(
            "%(file)s as of %(date)s, legacy source %(source)s:",
            file=path.name,
            date=as_of.isoformat(),
            source=source,
        )
    )
    _print_file_figures(summary, as_of)
    _print_record_counts(summary)
    _print_assumed_dates(summary)
    _print_missing(summary.get("missing"))
    click.echo(_result_sentence(outcome, as_of))
    if outcome.cutover_recorded:
        click.echo(
            gettext(
                "The legacy source %(source)s is now cut over to Cadence: further "
                "imports of it are refused unless forced with --force.",
                source=source,
            )
        )
    print_reconciliation_line(outcome)


def _print_file_figures(summary: dict, as_of: dt.date) -> None:
    """Print the rows, customers, totals and ageing of the file."""
    click.echo(_row(gettext("Rows read"), summary["rows_read"]))
    click.echo(
        _row(
            gettext("Rows dated after the as-of date, skipped"), summary["rows_skipped"]
        )
    )
    click.echo(
        _row(
            gettext("Rows outside the receivable accounts, ignored"),
            summary["rows_ignored"],
        )
    )
    if "wave_teams" in summary:
        click.echo(
            _row(
                gettext("Rows of teams outside the wave"), summary["rows_outside_wave"]
            )
        )
    click.echo(_row(gettext("Rows rejected"), summary["rows_rejected"]))
    click.echo(_row(gettext("Customers"), summary["customers"]))
    click.echo(
        _row(
            gettext("Open invoices"),
            summary["open_invoices"],
            amount_text(summary["open_amount"]),
        )
    )
    click.echo(
        _row(
            gettext("Paid invoices"),
            summary["paid_invoices"],
            amount_text(summary["paid_amount"]),
        )
    )
    click.echo(
        _row(
            gettext("Open credits"),
            summary["open_credits"],
            amount_text(summary["credit_amount"]),
        )
    )

    click.echo(gettext("Ageing of open invoices on %(date)s", date=as_of.isoformat()))
    for bucket, values in summary["ageing"].items():
        click.echo(
            _row(BUCKET_LABELS[bucket], values["count"], amount_text(values["amount"]))
        )


def _print_record_counts(summary: dict) -> None:
    """Print how many records the load created, updated, deleted and left alone."""
    click.echo(_row(gettext("Records created"), summary["created"]))
    click.echo(_row(gettext("Records updated"), summary["updated"]))
    click.echo(_row(gettext("Records deleted"), summary["deleted"]))
    click.echo(_row(gettext("Records unchanged"), summary["unchanged"]))


def _loads_nothing(outcome: ImportOutcome) -> bool:
    """Tell whether rejections stopped the import, or would stop it in a dry run."""
    return outcome.status == ImportStatus.REJECTED or (
        outcome.status == ImportStatus.DRY_RUN
        and not outcome.summary.get("accept_rejects")
    )


def _result_sentence(outcome: ImportOutcome, as_of: dt.date) -> str:
    if outcome.status == ImportStatus.DRY_RUN:
        return gettext(
            "Dry run %(run)s: nothing was written. The records above are what an "
            "import of this file would create, update, delete and leave unchanged.",
            run=outcome.run_id,
        )
    if outcome.status == ImportStatus.UNCHANGED:
        sentence = gettext(
            "Nothing to change: the database already matches this file as of "
            "%(date)s (run %(run)s).",
            date=as_of.isoformat(),
            run=outcome.run_id,
        )
        if outcome.previous_run_id is not None:
            sentence += " " + gettext(
                "It is the same file and date as run %(run)s.",
                run=outcome.previous_run_id,
            )
        return sentence
    return gettext("Run %(run)s loaded the file.", run=outcome.run_id)


def print_rejections(outcome: ImportOutcome) -> None:
    """Print the rejected rows to stderr, after one line saying what was loaded."""
    rejections = outcome.rejections
    rows = outcome.summary["rows_rejected"]
    dry_run = outcome.status == ImportStatus.DRY_RUN
    if dry_run and _loads_nothing(outcome):
        heading = ngettext(
            "%(num)d row would be rejected, so an import would load nothing. Fix it "
            "in the export and run the import again:",
            "%(num)d rows would be rejected, so an import would load nothing. Fix "
            "them in the export and run the import again:",
            rows,
        )
    elif dry_run:
        heading = ngettext(
            "%(num)d row would be rejected and not loaded; an import with "
            "--accept-rejects would load the other rows:",
            "%(num)d rows would be rejected and not loaded; an import with "
            "--accept-rejects would load the other rows:",
            rows,
        )
    elif _loads_nothing(outcome):
        heading = ngettext(
            "%(num)d row rejected; nothing was loaded. Fix it in the export and run "
            "the import again:",
            "%(num)d rows rejected; nothing was loaded. Fix them in the export and "
            "run the import again:",
            rows,
        )
    else:
        heading = ngettext(
            "%(num)d row rejected and not loaded; the other rows were loaded (run "
            "%(run)s keeps the rejected row):",
            "%(num)d rows rejected and not loaded; the other rows were loaded (run "
            "%(run)s keeps the rejected rows):",
            rows,
            run=outcome.run_id,
        )
    click.echo(heading, err=True)
    lang = str(get_locale())
    for rejection in rejections[:SHOWN_REJECTIONS]:
        click.echo(f"  {rejection_text(rejection, lang)}", err=True)
    hidden = len(rejections) - SHOWN_REJECTIONS
    if hidden > 0:
        click.echo(
            "  "
            + ngettext(
                "... and %(num)d more rejection (use --rejects FILE for the full list)",
                "... and %(num)d more rejections (use --rejects FILE for the full "
                "list)",
                hidden,
            ),
            err=True,
        )


def print_reconciliation_line(outcome: ImportOutcome) -> None:
    """Print the outcome of the reconciliation that followed the load, in one line."""
    if outcome.reconciliation == ReconciliationStatus.MATCH:
        click.echo(gettext("Reconciliation: the file and Cadence match to the cent."))
    elif outcome.reconciliation == ReconciliationStatus.DIFFERENCES:
        click.echo(
            gettext(
                "Reconciliation failed: run %(run)s is loaded, but Cadence differs "
                "from the file. Run cadence legacy reconcile %(run)s to list the "
                "differences, then roll the run back or correct it.",
                run=outcome.run_id,
            ),
            err=True,
        )


# --- cadence legacy runs --------------------------------------------------------------


def print_runs(runs: list[ImportRun]) -> None:
    """Print one line per run: id, start, status, source, scope, date, file, checks."""
    if not runs:
        click.echo(gettext("No import has run yet."))
        return
    for run in runs:
        scope = str(MODE_LABELS.get(run.mode, run.mode))
        if run.wave is not None:
            scope = f"{scope} {run.wave}"
        rejected = (run.summary or {}).get("rows_rejected", 0)
        reconciliation = (run.reconciliation or {}).get("status")
        if run.status == ImportStatus.ROLLED_BACK:
            # The check was of data that the rollback removed.
            reconciliation = None
        checked = ""
        if reconciliation == ReconciliationStatus.MATCH:
            checked = gettext("Matches")
        elif reconciliation == ReconciliationStatus.DIFFERENCES:
            checked = gettext("Differences")
        click.echo(
            f"{run.id:>4}  {run.started_at:%Y-%m-%d %H:%M}  {_status(run.status):<26} "
            f"{run.source:<10} {scope:<12} {run.as_of}  {run.file_name}  "
            + ngettext("%(num)d row rejected", "%(num)d rows rejected", rejected)
            + (f"  {checked}" if checked else "")
            + f"  {run.user_label}"
        )


# --- cadence legacy rollback ----------------------------------------------------------


def print_rollback(run: ImportRun, result: RollbackResult) -> None:
    """Print what a rollback undid, and the cutover state it left."""
    click.echo(gettext("Run %(run)s rolled back.", run=run.id))
    click.echo(_row(gettext("Records it created, deleted"), result.deleted))
    click.echo(_row(gettext("Records it changed, restored"), result.restored))
    click.echo(_row(gettext("Records it deleted, put back"), result.recreated))
    if result.cutover_run_id is not None:
        click.echo(
            gettext(
                "The cutover of %(source)s is again the one of run %(run)s.",
                source=run.source,
                run=result.cutover_run_id,
            )
        )
    elif result.cutover_removed:
        click.echo(
            gettext(
                "The legacy source %(source)s is no longer cut over: its exports can "
                "be imported again.",
                source=run.source,
            )
        )


# --- cadence legacy reconcile ---------------------------------------------------------


def missing_left_out_text(count: int) -> str:
    return ngettext(
        "%(num)d open item of earlier runs that this file no longer lists is left "
        "out of the comparison; the run's report lists it.",
        "%(num)d open items of earlier runs that this file no longer lists are left "
        "out of the comparison; the run's report lists them.",
        count,
    )


def print_report(run: ImportRun, report: dict) -> None:
    """Print the totals of both sides, then every difference."""
    totals = report["totals"]
    click.echo(
        gettext(
            "Run %(run)s, %(file)s as of %(date)s:",
            run=run.id,
            file=run.file_name,
            date=run.as_of.isoformat(),
        )
    )
    click.echo(_row("", gettext("In the file"), gettext("In Cadence")))
    amounts = {key for key, _, is_amount in METRICS if is_amount}
    for key, _, _ in METRICS:
        file_value, cadence_value = totals["file"][key], totals["cadence"][key]
        if key in amounts:
            file_value, cadence_value = (
                amount_text(file_value),
                amount_text(cadence_value),
            )
        click.echo(_row(METRIC_LABELS[key], file_value, cadence_value))

    left_out = report.get("missing_left_out", 0)
    if left_out:
        click.echo(missing_left_out_text(left_out))
    if report["status"] == ReconciliationStatus.MATCH:
        click.echo(
            gettext("The file and Cadence match to the cent, per customer and overall.")
        )
        return
    _print_differences(report)


def _print_differences(report: dict) -> None:
    """Print the overall, customer, ageing and document differences of a report."""
    count = (
        len(report["overall_differences"])
        + len(report["differences"])
        + len(report["ageing_differences"])
    )
    click.echo(
        ngettext(
            "%(num)d difference between the file and Cadence:",
            "%(num)d differences between the file and Cadence:",
            count,
        )
    )

    for difference in report["overall_differences"]:
        click.echo("  " + _figure_difference(gettext("All customers"), difference))
    for difference in report["differences"]:
        customer = gettext(
            "Customer %(customer)s (%(name)s)",
            customer=difference["customer"],
            name=difference["name"],
        )
        click.echo("  " + _figure_difference(customer, difference))
    for difference in report["ageing_differences"]:
        click.echo(
            "  "
            + gettext(
                "Ageing %(bucket)s: %(file_count)s invoices for %(file_amount)s in the "
                "file, %(cadence_count)s for %(cadence_amount)s in Cadence",
                bucket=BUCKET_LABELS[difference["bucket"]],
                file_count=difference["file_count"],
                file_amount=amount_text(difference["file_amount"]),
                cadence_count=difference["cadence_count"],
                cadence_amount=amount_text(difference["cadence_amount"]),
            )
        )

    documents = report.get("document_differences", [])
    if documents:
        click.echo(
            ngettext(
                "%(num)d document differs:", "%(num)d documents differ:", len(documents)
            )
        )
    for difference in documents:
        click.echo("  " + document_difference_text(difference))


def _figure_difference(subject: str, difference: dict) -> str:
    metric = difference["metric"]
    if metric == "missing_in_cadence":
        return gettext("%(who)s: %(problem)s", who=subject, problem=METRIC_LABELS[metric])
    values = [difference["file"], difference["cadence"], difference["difference"]]
    if metric in {key for key, _, is_amount in METRICS if is_amount}:
        values = [amount_text(value) for value in values]
    return gettext(
        "%(who)s, %(figure)s: %(file)s in the file, %(cadence)s in Cadence, "
        "difference %(difference)s",
        who=subject,
        figure=METRIC_LABELS.get(metric, metric),
        file=values[0],
        cadence=values[1],
        difference=values[2],
    )


def document_difference_text(difference: dict) -> str:
    """Return one document's difference as a sentence, such as the CLI prints it."""
    return gettext(
        "Customer %(customer)s (%(name)s), document %(document)s: %(file)s in the "
        "file, %(cadence)s in Cadence",
        customer=difference["customer"],
        name=difference["name"],
        document=difference["document"],
        file=_document_side(difference["file_state"], difference["file_amount"]),
        cadence=_document_side(
            difference["cadence_state"], difference["cadence_amount"]
        ),
    )


def _document_side(state: str, amount: str) -> str:
    label = str(DOCUMENT_STATE_LABELS.get(state, state))
    if not amount:
        return label
    return f"{label} {amount_text(amount)}"
