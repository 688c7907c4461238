"""Every profile through one pipeline: FEC, French CSV and Excel into the database."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.auth.models import Team
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from migration.importer import ExportOptions, run_import
from migration.messages import ReaderError
from migration.models import ImportRejection, ImportRun
from migration.readers import ibm
from tests.migration.legacy_files import (
    AS_OF,
    FRENCH_CSV,
    FRENCH_MAPPING,
    XLSX_MAPPING,
    fec_file,
    ledger_counts,
    open_total,
    write_csv,
    write_xlsx,
)

D = Decimal


def customer_balances() -> dict[str, Decimal]:
    """Return open invoices minus unallocated credits, per customer legacy id."""
    balances: dict[str, Decimal] = {}
    for legacy_id, amount in db.session.execute(
        select(Customer.legacy_id, func.sum(Invoice.open_amount))
        .join(Invoice)
        .where(Invoice.status == "open")
        .group_by(Customer.legacy_id)
    ):
        balances[legacy_id] = D(amount).quantize(D("0.01"))
    unallocated = (
        ~select(Allocation.id).where(Allocation.payment_id == Payment.id).exists()
    )
    for legacy_id, amount in db.session.execute(
        select(Customer.legacy_id, func.sum(Payment.amount))
        .join(Payment)
        .where(unallocated)
        .group_by(Customer.legacy_id)
    ):
        balances[legacy_id] = balances.get(legacy_id, D("0.00")) - D(amount).quantize(
            D("0.01")
        )
    return balances


# --- FEC -----------------------------------------------------------------------------

FEC_VARIANTS = {
    "tab-utf8": {"separator": "\t", "encoding": "utf-8"},
    "tab-utf8-bom": {"separator": "\t", "encoding": "utf-8", "bom": True},
    "pipe-iso-8859-15": {"separator": "|", "encoding": "iso-8859-15"},
    "tab-cp1252": {"separator": "\t", "encoding": "cp1252"},
}


@pytest.mark.parametrize("variant", sorted(FEC_VARIANTS))
def test_fec_import_exact_figures(app, tmp_path, variant):
    path = fec_file(tmp_path / "fec.txt", **FEC_VARIANTS[variant])

    outcome = run_import(path, profile="fec", as_of=AS_OF)

    assert outcome.status == "loaded"
    summary = outcome.summary
    assert summary["rows_read"] == 16
    assert summary["rows_skipped"] == 1  # RG-003, booked after the as-of date
    assert summary["rows_ignored"] == 2  # the 706000 and 445710 lines
    assert summary["rows_rejected"] == 0
    assert summary["customers"] == 5
    assert summary["open_invoices"] == 7
    assert summary["open_amount"] == "3845.50"
    assert summary["paid_invoices"] == 1
    assert summary["paid_amount"] == "1200.00"
    assert summary["open_credits"] == 2
    assert summary["credit_amount"] == "290.00"
    # 5 customers, 8 invoices, 1 settlement payment, 2 open credits.
    assert summary["created"] == 16
    assert ledger_counts() == {
        "customers": 5,
        "invoices": 8,
        "payments": 3,
        "allocations": 1,
    }
    assert open_total() == D("3845.50")


def test_fec_import_ledger_rules(app, tmp_path):
    run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)

    invoices = {
        invoice.number: invoice
        for invoice in db.session.scalars(
            select(Invoice).where(Invoice.legacy_source == "fec")
        )
    }
    # Lettered on 2024-02-20, so paid by a settlement payment.
    assert invoices["FA-001"].status == "paid"
    assert invoices["FA-001"].allocations[0].amount == D("1200.00")
    # Unlettered, and lettered only after the as-of date: open.
    assert invoices["FA-002"].open_amount == D("2400.50")
    assert invoices["FA-003"].open_amount == D("500.00")
    # The opening lines of C002 (800 debit, 300 credit) net into one invoice.
    assert invoices["AN"].open_amount == D("500.00")
    assert invoices["AN"].customer.legacy_id == "C002"
    # Two lines of FA-030 make one invoice.
    assert invoices["FA-030"].amount == D("120.00")
    names = dict(db.session.execute(select(Customer.legacy_id, Customer.name)).all())
    assert names["C001"] == "Société Générale d'Électricité"
    assert names["411DUR"] == "Durand SARL"
    assert customer_balances() == {
        "C001": D("2900.50"),
        "C002": D("650.00"),
        "C003": D("-190.00"),  # in credit: 100.00 owed, 290.00 credited
        "411DUR": D("75.00"),
        "C004": D("120.00"),
    }


def test_fec_import_reconciles(app, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)

    run = db.session.get(ImportRun, outcome.run_id)
    assert run.reconciliation["status"] == "match"
    assert run.reconciliation["totals"]["file"]["balance"] == "3555.50"


def test_fec_account_prefix_option(app, tmp_path):
    options = ExportOptions(account_prefixes=("411DUR",))

    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, options=options
    )

    assert outcome.summary["customers"] == 1
    assert outcome.summary["rows_ignored"] == 15  # every line but the 411DUR one
    assert ledger_counts()["invoices"] == 1


def test_fec_due_dates_file(app, tmp_path):
    due_dates = tmp_path / "due.csv"
    due_dates.write_text("PieceRef;DueDate\nFA-002;30/04/2024\n", encoding="utf-8")
    options = ExportOptions(due_dates=due_dates, payment_term="60 days")

    run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, options=options
    )

    due = dict(db.session.execute(select(Invoice.number, Invoice.due_date)).all())
    assert due["FA-002"].isoformat() == "2024-04-30"
    assert due["FA-010"].isoformat() == "2024-05-04"  # 2024-03-05 + 60 days


def test_fec_dry_run_writes_nothing(app, tmp_path):
    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, dry_run=True
    )

    assert outcome.status == "dry_run"
    assert outcome.summary["created"] == 16
    assert ledger_counts() == {
        "customers": 0,
        "invoices": 0,
        "payments": 0,
        "allocations": 0,
    }
    runs = db.session.scalars(select(ImportRun)).all()
    assert [run.status for run in runs] == ["dry_run"]
    assert runs[0].summary["created"] == 16


# --- French CSV ----------------------------------------------------------------------


def test_french_csv_import_exact_figures(app, tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    outcome = run_import(path, mapping=FRENCH_MAPPING, as_of=AS_OF)

    assert outcome.status == "loaded"
    summary = outcome.summary
    assert summary["rows_read"] == 7
    assert summary["rows_skipped"] == 1  # F004, issued after the as-of date
    assert summary["open_invoices"] == 3
    # F003 is open for 400.00 of its 1000.00: its paid part is allocated to it.
    assert summary["open_amount"] == "2499.99"
    assert summary["paid_invoices"] == 2
    assert summary["paid_amount"] == "1534.56"
    assert summary["open_credits"] == 1
    assert summary["credit_amount"] == "150.00"
    assert summary["paid_parts"] == 1
    # 2 teams, 3 customers, 5 invoices, 2 settlement payments, the paid part of
    # F003 and the credit note A001.
    assert summary["created"] == 14
    assert ledger_counts() == {
        "customers": 3,
        "invoices": 5,
        "payments": 4,
        "allocations": 3,
    }
    assert customer_balances() == {
        "C001": D("2099.99"),
        "C002": D("250.00"),  # 400.00 open on F003, 150.00 credit note
    }
    teams = set(db.session.scalars(select(Team.code)))
    assert teams == {"Nord", "Sud"}
    names = dict(db.session.execute(select(Customer.legacy_id, Customer.name)).all())
    assert names == {
        "C001": "Société Générale d'Électricité",
        "C002": "Café Müller",
        "C003": "Dupont",
    }
    disputed = db.session.scalar(select(Invoice).where(Invoice.number == "F002"))
    assert disputed.disputed is True


def test_french_csv_mapping_file_and_reconciliation(app, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(FRENCH_MAPPING), encoding="utf-8")
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    outcome = run_import(path, mapping=mapping, as_of=AS_OF)

    run = db.session.get(ImportRun, outcome.run_id)
    assert run.source == "mapped"
    assert run.profile == "mapped"
    assert run.reconciliation["status"] == "match"
    assert run.reconciliation["totals"]["cadence"]["balance"] == "2349.99"


def test_cli_prints_detected_format(runner, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(FRENCH_MAPPING), encoding="utf-8")
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
        ]
    )

    assert result.exit_code == 0, result.output
    assert "Detected format of" in result.stdout
    assert "encoding: 'cp1252' (detected)" in result.stdout
    assert "separator: ';' (detected)" in result.stdout
    assert "decimal: ',' (detected)" in result.stdout
    assert "thousands: ' ' (detected)" in result.stdout
    assert "date_format: '%d/%m/%Y' (detected)" in result.stdout
    assert "the file and Cadence match to the cent" in result.stdout


def test_cli_json_includes_detection(runner, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(FRENCH_MAPPING), encoding="utf-8")
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
            "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["detected"]["encoding"]["value"] == "cp1252"
    assert payload["detected"]["separator"]["value"] == ";"
    assert payload["open_amount"] == "2499.99"
    assert payload["reconciliation"] == "match"


# --- Excel ---------------------------------------------------------------------------


def test_xlsx_import_with_accepted_rejects(app, tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")

    outcome = run_import(path, mapping=XLSX_MAPPING, as_of=AS_OF, accept_rejects=True)

    assert outcome.status == "loaded"
    summary = outcome.summary
    assert summary["rows_read"] == 8
    assert summary["rows_skipped"] == 1
    assert summary["rows_rejected"] == 2
    assert summary["open_invoices"] == 3
    assert summary["open_amount"] == "3734.80"
    assert summary["paid_invoices"] == 1
    assert summary["paid_amount"] == "1234.56"
    assert summary["credit_amount"] == "200.10"
    assert ledger_counts() == {
        "customers": 4,
        "invoices": 4,
        "payments": 2,
        "allocations": 1,
    }
    stored = db.session.execute(
        select(ImportRejection.line, ImportRejection.field, ImportRejection.code)
        .where(ImportRejection.run_id == outcome.run_id)
        .order_by(ImportRejection.line)
    ).all()
    assert stored == [
        (9, "Date", "date_impossible"),
        (11, "Montant", "amount_too_precise"),
    ]
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.reconciliation["status"] == "match"
    assert run.reconciliation["rejected_rows"] == 2


# --- Errors of whole files -----------------------------------------------------------


def test_ibm_reader_raises_shared_reader_error():
    assert ibm.ReaderError is ReaderError


def test_ibm_missing_columns_is_clean_cli_error(runner, tmp_path):
    path = tmp_path / "ibm.csv"
    path.write_text("customerID,InvoiceAmount\nA,1.00\n", encoding="utf-8")

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--profile",
            "ibm-ar",
            "--as-of",
            "2013-06-30",
        ]
    )

    assert result.exit_code == 2
    assert "Error:" in result.output
    assert "lacks the columns countryCode" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a;b;c\n1;2;3\n", "cannot detect the column separator"),
        (b"JournalCode\tCompteNum\n", "does not have the FEC columns"),
    ],
)
def test_fec_unreadable_file_exit_2(runner, tmp_path, content, message):
    path = tmp_path / "fec.txt"
    path.write_bytes(content)

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--profile",
            "fec",
            "--as-of",
            "2024-03-31",
        ]
    )

    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_needs_profile_or_mapping(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")

    neither = runner.invoke(
        args=["legacy", "import", str(path), "--as-of", "2024-03-31"]
    )
    both = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--as-of",
            "2024-03-31",
            "--profile",
            "fec",
            "--mapping",
            str(path),
        ]
    )

    assert neither.exit_code == 2
    assert "either --profile or --mapping" in neither.output
    assert both.exit_code == 2


def test_cli_unknown_user(runner, tmp_path):
    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(fec_file(tmp_path / "fec.txt")),
            "--profile",
            "fec",
            "--as-of",
            "2024-03-31",
            "--user",
            "nobody@example.test",
        ]
    )

    assert result.exit_code == 2
    assert "no user with email" in result.output


def test_reader_error_rendered_in_language(app):
    from migration.messages import error_text

    error = ReaderError("file_empty", path="x.txt")

    assert (
        error_text(error, "en")
        == "x.txt is empty; expected a header line and data lines"
    )
