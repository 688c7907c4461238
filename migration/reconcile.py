"""Reconcile a run: the export's counts and totals against what Cadence holds.

The file side comes from ``migration.file_totals``, which reads the raw export again
without the readers. The Cadence side is plain SQL over the ledger tables of the
run's legacy source:

- open invoices: status open, count and sum of the open amount;
- paid invoices: status paid, count and sum of the amount;
- open credits: payments and credit notes with no allocation, count and sum.

Both sides are compared per customer and overall, to the cent, and so are the ageing
buckets of the open invoices on the run's as-of date. For the IBM and FEC profiles,
the documents of each customer that differs are then compared one by one, so that
the report names the invoice or credit concerned. Mapped exports are compared per
customer only. The report is stored on the run as JSON; ``report_csv`` writes it as
CSV with headers in the current locale.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from decimal import Decimal
from pathlib import Path

import pandas as pd
from flask_babel import gettext
from sqlalchemy import BigInteger, case, cast, func, select

from app.extensions import db
from app.ledger.ageing import BUCKETS
from app.ledger.models import Allocation, Customer, Invoice, InvoiceStatus, Payment
from app.timeutil import utcnow
from migration.file_totals import Excluded, Figures, Totals, ageing_of, file_totals
from migration.labels import METRIC_LABELS
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


# Legacy ids per IN (...) list, well below every database's limit on parameters.
_IDS_PER_QUERY = 500


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


def leave_out_missing(totals: Totals, source: str, legacy_ids: list[str]) -> None:
    """Take out of ``totals`` the items of earlier runs that the run's file lacks.

    The file has no line for them, so they are not part of its comparison, whether
    the run kept them open or settled them. The run's report lists them.
    """
    due_rows: list[tuple] = []
    for start in range(0, len(legacy_ids), _IDS_PER_QUERY):
        chunk = legacy_ids[start : start + _IDS_PER_QUERY]
        invoices = db.session.execute(
            select(
                Customer.legacy_id,
                Invoice.status,
                Invoice.open_amount,
                Invoice.amount,
                Invoice.due_date,
            )
            .join(Customer, Invoice.customer_id == Customer.id)
            .where(Invoice.legacy_source == source, Invoice.legacy_id.in_(chunk))
        )
        for customer, status, open_amount, amount, due_date in invoices:
            figures = totals.customers.get(customer)
            if figures is None:
                continue
            if status == InvoiceStatus.OPEN:
                figures.open_count -= 1
                figures.open_cents -= _cents(open_amount)
                due_rows.append((due_date, -1, -_cents(open_amount)))
            else:
                figures.paid_count -= 1
                figures.paid_cents -= _cents(amount)
        unallocated = (
            ~select(Allocation.id).where(Allocation.payment_id == Payment.id).exists()
        )
        credits = db.session.execute(
            select(Customer.legacy_id, Payment.amount)
            .join(Customer, Payment.customer_id == Customer.id)
            .where(
                Payment.legacy_source == source,
                Payment.legacy_id.in_(chunk),
                unallocated,
            )
        )
        for customer, amount in credits:
            figures = totals.customers.get(customer)
            if figures is not None:
                figures.credit_count -= 1
                figures.credit_cents -= _cents(amount)
    if due_rows:
        taken_out = pd.DataFrame(due_rows, columns=["due", "count", "cents"])
        totals.open_items = pd.concat([totals.open_items, taken_out], ignore_index=True)


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


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


def database_documents(source: str, customers: set[str], profile: str) -> pd.DataFrame:
    """Return the documents of ``customers`` as stored in Cadence.

    One row per invoice (state open with its open amount, or paid with its amount)
    and per unallocated payment or credit note (state credit), with the columns
    customer, document, state and cents.
    """
    customer_limit = [
        Customer.legacy_source == source,
        Customer.legacy_id.in_(customers),
    ]
    is_open = Invoice.status == InvoiceStatus.OPEN
    invoice_query = (
        select(
            Customer.legacy_id,
            Invoice.number,
            case((is_open, "open"), else_="paid"),
            _cents_sum(case((is_open, Invoice.open_amount), else_=Invoice.amount)),
        )
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(*customer_limit, Invoice.legacy_source == source)
        .group_by(Customer.legacy_id, Invoice.number, Invoice.status)
    )
    unallocated = (
        ~select(Allocation.id).where(Allocation.payment_id == Payment.id).exists()
    )
    credit_query = (
        select(Customer.legacy_id, Payment.reference, _cents_sum(Payment.amount))
        .join(Customer, Payment.customer_id == Customer.id)
        .where(*customer_limit, Payment.legacy_source == source, unallocated)
        .group_by(Customer.legacy_id, Payment.reference)
    )
    if profile == "fec":
        # The file side leaves out the opening balances, whose FEC legacy ids are
        # the only ones with an "opening" part.
        # NOTE: a PieceRef spelled "opening" is left out as well.
        invoice_query = invoice_query.where(Invoice.legacy_id.not_like("%:opening:%"))
        credit_query = credit_query.where(Payment.legacy_id.not_like("%:opening:%"))
    rows = [
        (customer, number, state, int(cents))
        for customer, number, state, cents in db.session.execute(invoice_query)
    ]
    rows += [
        (customer, reference, "credit", int(cents))
        for customer, reference, cents in db.session.execute(credit_query)
    ]
    return pd.DataFrame(rows, columns=["customer", "document", "state", "cents"])


def document_differences(
    in_file: pd.DataFrame, in_cadence: pd.DataFrame, names: dict[str, str]
) -> list[dict]:
    """Return the documents whose state or amount differ between two document tables.

    Documents match on customer, document number and side: an invoice (open or
    paid) is compared with an invoice, a credit with a credit. A document absent
    from one side has the state missing there.
    """
    sides = []
    for frame in (in_file, in_cadence):
        frame = frame.assign(
            document=frame["document"].astype(str),
            side=frame["state"].eq("credit").map({True: "credit", False: "invoice"}),
            cents=frame["cents"].astype("int64"),
        )
        keys = ["customer", "document", "side"]
        sides.append(
            frame.groupby(keys, sort=False).agg(
                state=("state", "first"), cents=("cents", "sum")
            )
        )
    merged = sides[0].join(sides[1], how="outer", suffixes=("_file", "_cadence"))
    differs = (merged["state_file"] != merged["state_cadence"]) | (
        merged["cents_file"] != merged["cents_cadence"]
    )
    found = []
    for (customer, document, _), row in merged[differs].sort_index().iterrows():
        found.append(
            {
                "customer": customer,
                "name": names.get(customer, customer),
                "document": document,
                "file_state": _state(row["state_file"]),
                "file_amount": _document_amount(row["cents_file"]),
                "cadence_state": _state(row["state_cadence"]),
                "cadence_amount": _document_amount(row["cents_cadence"]),
            }
        )
    return found


def _state(value: object) -> str:
    return "missing" if pd.isna(value) else str(value)


def _document_amount(cents: object) -> str:
    return "" if pd.isna(cents) else _amount(int(cents))


def _add_document_differences(
    report: dict, run: ImportRun, expected: Totals, actual: Totals
) -> None:
    """Add ``document_differences`` to ``report`` and name them on customer rows.

    Only the customers that differ are looked up, one query per table.
    """
    differing = {row["customer"] for row in report["customers"] if not row["matches"]}
    report["document_differences"] = []
    if expected.documents is None or not differing:
        return
    in_file = expected.documents[expected.documents["customer"].isin(differing)]
    in_cadence = database_documents(run.source, differing, run.profile)
    names = actual.names | {
        key: value for key, value in expected.names.items() if key not in actual.names
    }
    found = document_differences(in_file, in_cadence, names)
    report["document_differences"] = found
    documents_of: dict[str, list[str]] = {}
    for difference in found:
        documents_of.setdefault(difference["customer"], []).append(
            difference["document"]
        )
    for row in report["customers"]:
        row["documents"] = documents_of.get(row["customer"], [])


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
    from migration.importer import ImportStatus, file_sha256
    from migration.labels import STATUS_LABELS

    if run.status not in (ImportStatus.LOADED, ImportStatus.UNCHANGED):
        raise ReconcileError(
            gettext(
                "Run %(run)s has the status %(status)s: Cadence holds nothing of it "
                "to compare with its file. Reconcile a loaded or unchanged run.",
                run=run.id,
                status=str(STATUS_LABELS.get(run.status, run.status)),
            )
        )
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
    missing_ids = settings.get("missing_legacy_ids") or []
    leave_out_missing(actual, run.source, missing_ids)
    reconciliation = compare(expected, actual, run.as_of, len(excluded.lines))
    reconciliation.report["missing_left_out"] = len(missing_ids)
    _add_document_differences(reconciliation.report, run, expected, actual)
    run.reconciliation = reconciliation.report
    db.session.commit()
    logger.info(
        "reconciliation of run %d: %s, %d differences",
        run.id,
        reconciliation.report["status"],
        len(reconciliation.report["differences"]),
    )
    return reconciliation


def csv_header() -> list[str]:
    """Return the column headers of ``report_csv`` in the current locale."""
    header = [gettext("Customer"), gettext("Name"), gettext("Matches")]
    header += [
        gettext("%(figure)s in the file", figure=METRIC_LABELS[key])
        for key, _, _ in METRICS
    ]
    header += [
        gettext("%(figure)s in Cadence", figure=METRIC_LABELS[key])
        for key, _, _ in METRICS
    ]
    header.append(gettext("Documents that differ"))
    return header


def report_csv(report: dict) -> str:
    """Return the per-customer table of a report as CSV text, differences first.

    Headers and yes/no values are in the current locale. The last column lists the
    documents that differ, for profiles compared document by document. Customer
    ids, names and document numbers starting with = + - @ or a tab or carriage
    return get a leading quote, so that a spreadsheet shows them as text instead of
    running them as formulas.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_header())
    for row in report["customers"]:
        values = [
            safe_cell(row["customer"]),
            safe_cell(row["name"]),
            gettext("yes") if row["matches"] else gettext("no"),
        ]
        values += [row["file"][key] for key, _, _ in METRICS]
        values += [row["cadence"][key] for key, _, _ in METRICS]
        values.append(safe_cell(", ".join(row.get("documents", []))))
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
    "database_documents",
    "database_totals",
    "document_differences",
    "reconcile_run",
    "report_csv",
    "safe_cell",
]
