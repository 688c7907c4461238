"""Reconcile a run: the export's counts and totals against what Cadence holds.

The file side comes from ``migration.file_totals``, which reads the raw export again
without the readers. The Cadence side is plain SQL over the ledger tables of the
run's legacy source:

- open invoices: status open, count and sum of the open amount;
- paid invoices: status paid, count and sum of the amount;
- open credits: payments and credit notes with no allocation, count and sum.

Both sides are compared per customer and overall, to the cent, and so are the ageing
buckets of the open invoices on the run's as-of date. The report is stored on the
run as JSON; ``report_csv`` writes it as CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import BigInteger, case, cast, func, select

from app.extensions import db
from app.ledger.ageing import BUCKETS
from app.ledger.models import Allocation, Customer, Invoice, InvoiceStatus, Payment
from app.timeutil import utcnow
from migration.file_totals import Excluded, Figures, Totals, ageing_of, file_totals
from migration.models import ImportRejection, ImportRun, RunMode

logger = logging.getLogger(__name__)

# Figures compared per customer: (report key, Figures attribute, is an amount).
METRICS = (
    ("open_invoices", "open_count", False),
    ("open_amount", "open_cents", True),
    ("paid_invoices", "paid_count", False),
    ("paid_amount", "paid_cents", True),
    ("open_credits", "credit_count", False),
    ("credit_amount", "credit_cents", True),
    ("balance", "balance_cents", True),
)


class ReconcileError(Exception):
    """The run's file cannot be read again (missing, or changed since the run)."""


def _amount(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))


def _cents_sum(column):
    """Sum a money column as integer cents, exact on SQLite's floating point too."""
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def database_totals(source: str, customers: set[str] | None) -> Totals:
    """Return the figures of the source's customers as stored in the Cadence database."""
    limit = [Customer.legacy_source == source]
    if customers is not None:
        limit.append(Customer.legacy_id.in_(customers))
    figures: dict[str, Figures] = {}
    names: dict[str, str] = {}
    for legacy_id, name in db.session.execute(
        select(Customer.legacy_id, Customer.name).where(*limit)
    ):
        figures[legacy_id] = Figures()
        names[legacy_id] = name

    is_open = Invoice.status == InvoiceStatus.OPEN
    invoice_rows = db.session.execute(
        select(
            Customer.legacy_id,
            func.count(case((is_open, 1))),
            _cents_sum(case((is_open, Invoice.open_amount), else_=0)),
            func.count(case((Invoice.status == InvoiceStatus.PAID, 1))),
            _cents_sum(
                case((Invoice.status == InvoiceStatus.PAID, Invoice.amount), else_=0)
            ),
        )
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(*limit, Invoice.legacy_source == source)
        .group_by(Customer.legacy_id)
    )
    for legacy_id, open_count, open_cents, paid_count, paid_cents in invoice_rows:
        entry = figures[legacy_id]
        entry.open_count, entry.open_cents = open_count, int(open_cents)
        entry.paid_count, entry.paid_cents = paid_count, int(paid_cents)

    unallocated = (
        ~select(Allocation.id).where(Allocation.payment_id == Payment.id).exists()
    )
    credit_rows = db.session.execute(
        select(Customer.legacy_id, func.count(Payment.id), _cents_sum(Payment.amount))
        .join(Customer, Payment.customer_id == Customer.id)
        .where(*limit, Payment.legacy_source == source, unallocated)
        .group_by(Customer.legacy_id)
    )
    for legacy_id, count, cents in credit_rows:
        figures[legacy_id].credit_count, figures[legacy_id].credit_cents = (
            count,
            int(cents),
        )

    # The ageing needs only the open amount per due date, and far fewer due dates
    # than invoices come back.
    by_due_date = db.session.execute(
        select(
            Invoice.due_date,
            func.count(Invoice.id),
            _cents_sum(Invoice.open_amount),
        )
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(*limit, Invoice.legacy_source == source, is_open)
        .group_by(Invoice.due_date)
    ).all()
    open_items = pd.DataFrame(by_due_date, columns=["due", "count", "cents"])
    open_items["cents"] = open_items["cents"].astype("int64")
    return Totals(figures, names, open_items)


@dataclasses.dataclass
class Reconciliation:
    """The comparison of one run's file with Cadence; ``report`` is JSON."""

    report: dict

    @property
    def matches(self) -> bool:
        return self.report["status"] == "match"


def _figures_json(figures: Figures) -> dict[str, object]:
    return {
        key: _amount(getattr(figures, attribute))
        if is_amount
        else getattr(figures, attribute)
        for key, attribute, is_amount in METRICS
    }


def compare(
    expected: Totals, actual: Totals, as_of, rejected_rows: int
) -> Reconciliation:
    """Compare the file's totals with Cadence's, per customer, overall and by bucket."""
    differences: list[dict] = []
    rows: list[dict] = []
    total_file, total_cadence = Figures(), Figures()

    for customer in sorted(expected.customers.keys() | actual.customers.keys()):
        in_file = expected.customers.get(customer, Figures())
        in_cadence = actual.customers.get(customer, Figures())
        total_file.add(in_file)
        total_cadence.add(in_cadence)
        name = actual.names.get(customer) or expected.names.get(customer) or customer
        customer_differences = _differences(customer, name, in_file, in_cadence)
        if customer not in actual.customers:
            customer_differences.append(_missing(customer, name, "missing_in_cadence"))
        differences += customer_differences
        rows.append(
            {
                "customer": customer,
                "name": name,
                "file": _figures_json(in_file),
                "cadence": _figures_json(in_cadence),
                "matches": not customer_differences,
            }
        )
    overall = _differences("", "", total_file, total_cadence)
    ageing_file = expected.ageing(as_of)
    ageing_cadence = actual.ageing(as_of)
    ageing_differences = _ageing_differences(ageing_file, ageing_cadence)

    matches = not (differences or overall or ageing_differences)
    report = {
        "status": "match" if matches else "differences",
        "checked_at": utcnow().isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "rejected_rows": rejected_rows,
        "totals": {
            "file": _figures_json(total_file),
            "cadence": _figures_json(total_cadence),
        },
        "overall_differences": overall,
        "differences": differences,
        "ageing": {
            "file": _ageing_json(ageing_file),
            "cadence": _ageing_json(ageing_cadence),
        },
        "ageing_differences": ageing_differences,
        "customers": sorted(rows, key=lambda row: (row["matches"], row["customer"])),
    }
    return Reconciliation(report)


def _ageing_differences(ageing_file: dict, ageing_cadence: dict) -> list[dict]:
    return [
        {
            "bucket": bucket,
            "file_count": ageing_file[bucket]["count"],
            "cadence_count": ageing_cadence[bucket]["count"],
            "file_amount": _amount(ageing_file[bucket]["cents"]),
            "cadence_amount": _amount(ageing_cadence[bucket]["cents"]),
        }
        for bucket in BUCKETS
        if ageing_file[bucket] != ageing_cadence[bucket]
    ]


def _ageing_json(ageing: dict) -> dict:
    return {
        bucket: {"count": values["count"], "amount": _amount(values["cents"])}
        for bucket, values in ageing.items()
    }


def _differences(customer: str, name: str, in_file: Figures, in_cadence: Figures):
    found = []
    for key, attribute, is_amount in METRICS:
        file_value = getattr(in_file, attribute)
        cadence_value = getattr(in_cadence, attribute)
        if file_value == cadence_value:
            continue
        difference = cadence_value - file_value
        found.append(
            {
                "customer": customer,
                "name": name,
                "metric": key,
                "file": _amount(file_value) if is_amount else file_value,
                "cadence": _amount(cadence_value) if is_amount else cadence_value,
                "difference": _amount(difference) if is_amount else difference,
            }
        )
    return found


def _missing(customer: str, name: str, metric: str) -> dict:
    return {
        "customer": customer,
        "name": name,
        "metric": metric,
        "file": "",
        "cadence": "",
        "difference": "",
    }


def excluded_rows(run: ImportRun) -> Excluded:
    """Return the lines the run rejected, and those rejected with their document."""
    rows = db.session.execute(
        select(ImportRejection.line, ImportRejection.code, ImportRejection.field).where(
            ImportRejection.run_id == run.id
        )
    ).all()
    lines = frozenset(line for line, _, _ in rows)
    whole_documents = frozenset(
        line
        for line, code, field in rows
        if run.profile == "fec"
        and (
            code == "credit_exceeds_debt"
            or (code == "date_before" and field == "DueDate")
        )
    )
    return Excluded(lines=lines, document_lines=whole_documents)


def reconcile_run(run: ImportRun, path: Path | None = None) -> Reconciliation:
    """Reconcile ``run`` with its file (or ``path``), store the report and commit.

    Raises ReconcileError when the file is missing or its SHA-256 differs from the
    run's.
    """
    from migration.importer import file_sha256

    path = Path(path or run.file_path or run.file_name)
    if not path.is_file():
        raise ReconcileError(
            f"the file of run {run.id} is not at {path}; give its path with --file"
        )
    if file_sha256(path) != run.sha256:
        raise ReconcileError(
            f"{path} is not the file run {run.id} imported (its SHA-256 differs); "
            "give the file that run read with --file"
        )
    settings = run.settings or {}
    customers = None
    if run.mode == RunMode.WAVE:
        customers = set(settings.get("customers") or [])
    excluded = excluded_rows(run)
    expected = file_totals(run.profile, path, run.as_of, settings, excluded, customers)
    actual = database_totals(run.source, customers)
    reconciliation = compare(expected, actual, run.as_of, len(excluded.lines))
    run.reconciliation = reconciliation.report
    db.session.commit()
    logger.info(
        "reconciliation of run %d: %s, %d differences",
        run.id,
        reconciliation.report["status"],
        len(reconciliation.report["differences"]),
    )
    return reconciliation


CSV_COLUMNS = (
    "customer",
    "name",
    "matches",
    *(f"file_{key}" for key, _, _ in METRICS),
    *(f"cadence_{key}" for key, _, _ in METRICS),
)


def report_csv(report: dict) -> str:
    """Return the per-customer table of a report as CSV text, differences first.

    Customer ids and names starting with = + - or @ get a leading quote, so that a
    spreadsheet shows them as text instead of running them as formulas.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in report["customers"]:
        values = [
            safe_cell(row["customer"]),
            safe_cell(row["name"]),
            "yes" if row["matches"] else "no",
        ]
        values += [row["file"][key] for key, _, _ in METRICS]
        values += [row["cadence"][key] for key, _, _ in METRICS]
        writer.writerow(values)
    return buffer.getvalue()


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Return ``value`` with a leading quote when a spreadsheet would read a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


__all__ = [
    "ReconcileError",
    "Reconciliation",
    "ageing_of",
    "compare",
    "database_totals",
    "reconcile_run",
    "report_csv",
    "safe_cell",
]
