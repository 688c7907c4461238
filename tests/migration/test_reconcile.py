"""Reconciliation: the raw file against the database, to the cent."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.ledger.models import Customer, Invoice
from migration.importer import run_import
from migration.models import ImportRun
from migration.reconcile import reconcile_run, report_csv
from tests.conftest import IBM_AS_OF, IBM_SAMPLE
from tests.migration.legacy_files import (
    AS_OF,
    FRENCH_CSV,
    FRENCH_MAPPING,
    fec_file,
    write_csv,
)


@pytest.fixture
def fec_run(app, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    return db.session.get(ImportRun, outcome.run_id)


def tamper(number: str, open_amount: str) -> None:
    db.session.execute(
        update(Invoice).where(Invoice.number == number).values(open_amount=open_amount)
    )
    db.session.commit()


def test_ibm_reconciliation_totals(app):
    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)

    report = db.session.get(ImportRun, outcome.run_id).reconciliation

    assert report["status"] == "match"
    assert report["totals"]["file"] == {
        "open_invoices": 84,
        "open_amount": "5119.85",
        "paid_invoices": 1846,
        "paid_amount": "110324.74",
        "open_credits": 0,
        "credit_amount": "0.00",
        "balance": "5119.85",
    }
    assert report["ageing"]["file"]["not_due"] == {"count": 72, "amount": "4284.29"}
    assert report["ageing"]["cadence"] == report["ageing"]["file"]
    assert len(report["customers"]) == 100


def test_tampered_amount_named_in_report(fec_run):
    tamper("FA-002", "2400.49")

    reconciliation = reconcile_run(fec_run)

    report = reconciliation.report
    assert not reconciliation.matches
    assert report["differences"] == [
        {
            "customer": "C001",
            "name": "Société Générale d'Électricité",
            "metric": "open_amount",
            "file": "2900.50",
            "cadence": "2900.49",
            "difference": "-0.01",
        },
        {
            "customer": "C001",
            "name": "Société Générale d'Électricité",
            "metric": "balance",
            "file": "2900.50",
            "cadence": "2900.49",
            "difference": "-0.01",
        },
    ]
    assert [d["metric"] for d in report["overall_differences"]] == [
        "open_amount",
        "balance",
    ]
    assert [d["bucket"] for d in report["ageing_differences"]] == ["1-30"]
    assert report["customers"][0]["customer"] == "C001"
    assert report["customers"][0]["matches"] is False
    assert all(row["matches"] for row in report["customers"][1:])


def test_cli_reconcile_exit_3_names_customer(runner, fec_run):
    tamper("FA-010", "99.00")

    result = runner.invoke(args=["legacy", "reconcile", str(fec_run.id)])

    assert result.exit_code == 3
    assert (
        "Customer C003 (Martin), Open amount: 100.00 in the file, 99.00 in Cadence, "
        "difference -1.00" in result.output
    )
    assert (
        "Customer C003 (Martin), document FA-010: open 100.00 in the file, "
        "open 99.00 in Cadence" in result.output
    )


def test_cli_reconcile_exit_0_when_matching(runner, fec_run, tmp_path):
    out = tmp_path / "reconciliation.csv"

    result = runner.invoke(
        args=["legacy", "reconcile", str(fec_run.id), "--csv", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert "match to the cent" in result.output
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    c003 = next(row for row in rows if row["Customer"] == "C003")
    assert c003["Balance in the file"] == "-190.00"
    assert c003["Credit amount in Cadence"] == "290.00"
    assert c003["Matches"] == "yes"
    assert c003["Documents that differ"] == ""


def test_cli_reconcile_json(runner, fec_run):
    result = runner.invoke(args=["legacy", "reconcile", str(fec_run.id), "--json"])

    report = json.loads(result.output)
    assert report["status"] == "match"
    assert report["totals"]["cadence"]["open_amount"] == "3845.50"


def test_missing_invoice_and_extra_customer(fec_run):
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "FA-020"))
    db.session.delete(invoice)
    db.session.add(Customer(name="Intrus", legacy_source="fec", legacy_id="C999"))
    db.session.commit()

    report = reconcile_run(fec_run).report

    differences = {(d["customer"], d["metric"]): d for d in report["differences"]}
    assert differences[("411DUR", "open_invoices")]["difference"] == -1
    assert differences[("411DUR", "open_amount")]["difference"] == "-75.00"
    # A customer with no figures on either side matches.
    assert ("C999", "open_invoices") not in differences


def test_changed_file_refused(runner, fec_run):
    with open(fec_run.file_path, "a", encoding="utf-8") as handle:
        handle.write("\n")

    result = runner.invoke(args=["legacy", "reconcile", str(fec_run.id)])

    assert result.exit_code == 2
    assert "is not the file run" in result.output


def test_moved_file_given_with_option(runner, fec_run, tmp_path):
    moved = tmp_path / "moved.txt"
    moved.write_bytes(Path(fec_run.file_path).read_bytes())
    with open(fec_run.file_path, "w") as handle:
        handle.write("gone")

    result = runner.invoke(
        args=["legacy", "reconcile", str(fec_run.id), "--file", str(moved)]
    )

    assert result.exit_code == 0, result.output


def test_mapped_reconciliation_counts_partial_payment(app, tmp_path):
    outcome = run_import(
        write_csv(tmp_path / "export.csv", FRENCH_CSV),
        mapping=FRENCH_MAPPING,
        as_of=AS_OF,
    )

    report = db.session.get(ImportRun, outcome.run_id).reconciliation

    c002 = next(row for row in report["customers"] if row["customer"] == "C002")
    assert c002["file"] == {
        "open_invoices": 1,
        "open_amount": "400.00",  # F003 less its paid part, allocated to it
        "paid_invoices": 0,
        "paid_amount": "0.00",
        "open_credits": 1,  # the credit note A001
        "credit_amount": "150.00",
        "balance": "250.00",
    }
    assert c002["cadence"] == c002["file"]


def test_report_csv_guards_formulas():
    report = {
        "customers": [
            {
                "customer": "=CMD()",
                "name": "@evil",
                "matches": True,
                "file": dict.fromkeys(
                    (
                        "open_invoices",
                        "open_amount",
                        "paid_invoices",
                        "paid_amount",
                        "open_credits",
                        "credit_amount",
                        "balance",
                    ),
                    0,
                ),
                "cadence": dict.fromkeys(
                    (
                        "open_invoices",
                        "open_amount",
                        "paid_invoices",
                        "paid_amount",
                        "open_credits",
                        "credit_amount",
                        "balance",
                    ),
                    0,
                ),
            }
        ]
    }

    rows = list(csv.reader(io.StringIO(report_csv(report))))

    assert rows[1][:2] == ["'=CMD()", "'@evil"]
