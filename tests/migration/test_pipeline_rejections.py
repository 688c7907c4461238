"""Validation: every rejection kind, all-or-nothing loads, accepted rejects, CSV."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from migration import load
from migration.importer import ExportOptions, run_import
from migration.messages import rejection_text
from migration.models import ImportRejection, ImportRun
from tests.conftest import IBM_AS_OF, IBM_SAMPLE
from tests.migration.legacy_files import (
    AS_OF,
    FEC_LEDGER,
    fec_file,
    ledger_counts,
    snapshot,
    write_fec,
)

HEADER = "Client;Nom;Facture;Type;Date;Echéance;Montant;Reste"
VALID = "C1;Alpha;F1;FA;15/01/2024;14/02/2024;100,00;100,00"
MAPPING = {
    "columns": {
        "customer_id": "Client",
        "customer_name": "Nom",
        "document": "Facture",
        "kind": "Type",
        "issue_date": "Date",
        "due_date": "Echéance",
        "amount": "Montant",
        "open_amount": "Reste",
    },
    "kind_values": {"FA": "invoice", "AV": "credit_note", "RG": "payment"},
    "separator": ";",
    "decimal": ",",
    "thousands": "",
    "date_format": "JJ/MM/AAAA",
}
EMPTY_LEDGER = {"customers": 0, "invoices": 0, "payments": 0, "allocations": 0}


def write_export(tmp_path, rows: list[str], name: str = "export.csv"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252"))
    return path


def stored_rejections(run_id: int) -> list[tuple]:
    return db.session.execute(
        select(ImportRejection.line, ImportRejection.field, ImportRejection.code)
        .where(ImportRejection.run_id == run_id)
        .order_by(ImportRejection.line, ImportRejection.id)
    ).all()


# Each case: rows after the header (line 2 on), mapping changes, and the expected
# rejections as (line, column, code).
MAPPED_CASES = {
    "duplicate document": (
        [VALID, "C1;Alpha;F1;FA;16/01/2024;15/02/2024;200,00;200,00"],
        {},
        [(3, "Facture", "duplicate_document")],
    ),
    "credit larger than debt": (
        [VALID, "C1;Alpha;A1;AV;20/01/2024;;150,00;150,00"],
        {"credit_exceeds_debt": "reject"},
        [(3, "Montant", "credit_exceeds_debt")],
    ),
    "date out of range": (
        [VALID, "C2;Beta;F2;FA;15/01/1980;14/02/1980;10,00;10,00"],
        {},
        [(3, "Date", "date_out_of_range"), (3, "Echéance", "date_out_of_range")],
    ),
    "date out of the mapping's range": (
        [VALID, "C2;Beta;F2;FA;15/01/2019;14/02/2019;10,00;10,00"],
        {"date_range": [2020, 2030]},
        [(3, "Date", "date_out_of_range"), (3, "Echéance", "date_out_of_range")],
    ),
    "empty required fields": (
        [VALID, ";Beta;;FA;15/01/2024;14/02/2024;10,00;10,00"],
        {},
        [(3, "Client", "value_missing"), (3, "Facture", "value_missing")],
    ),
    "text in a number": (
        [VALID, "C2;Beta;F2;FA;15/01/2024;14/02/2024;12,3,4;10,00"],
        {},
        [(3, "Montant", "amount_unreadable")],
    ),
    "impossible date": (
        [VALID, "C2;Beta;F2;FA;31/02/2024;14/03/2024;10,00;10,00"],
        {},
        [(3, "Date", "date_impossible")],
    ),
    "several bad rows": (
        [
            "C2;Beta;F2;FA;31/02/2024;14/03/2024;10,00;10,00",
            VALID,
            "C3;Gamma;F3;FA;15/01/2024;14/02/2024;abc;10,00",
            "C4;Delta;F4;FA;15/01/2024;10/01/2024;10,00;10,00",
        ],
        {},
        [
            (2, "Date", "date_impossible"),
            (4, "Montant", "amount_unreadable"),
            (5, "Echéance", "date_before"),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(MAPPED_CASES))
def test_mapped_rejection_loads_nothing(app, tmp_path, case):
    rows, changes, expected = MAPPED_CASES[case]
    path = write_export(tmp_path, rows)

    outcome = run_import(path, mapping=MAPPING | changes, as_of=AS_OF)

    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.code) for r in outcome.rejections] == expected
    assert outcome.summary["rows_rejected"] == len({line for line, _, _ in expected})
    assert stored_rejections(outcome.run_id) == expected
    assert ledger_counts() == EMPTY_LEDGER
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.status == "rejected"
    assert run.reconciliation is None


def test_unknown_customer_rejected_when_existing_only(app, tmp_path):
    first = write_export(tmp_path, [VALID], "first.csv")
    run_import(first, mapping=MAPPING, as_of=AS_OF)
    before = snapshot(tables=("customers", "invoices", "payments", "allocations"))
    rows = [
        "C1;Alpha;F5;FA;15/02/2024;15/03/2024;50,00;50,00",
        "C9;Nouveau;F6;FA;15/02/2024;15/03/2024;70,00;70,00",
        "C9;Nouveau;A6;AV;16/02/2024;;10,00;10,00",
    ]
    second = write_export(tmp_path, rows, "second.csv")

    outcome = run_import(
        second, mapping=MAPPING | {"customers": "existing_only"}, as_of=AS_OF
    )

    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.value, r.code) for r in outcome.rejections] == [
        (3, "Client", "C9", "customer_unknown"),
        (4, "Client", "C9", "customer_unknown"),
    ]
    assert outcome.summary["rows_rejected"] == 2
    after = snapshot(tables=("customers", "invoices", "payments", "allocations"))
    assert after == before


def test_unknown_customers_accepted_rejects_load_known(app, tmp_path):
    run_import(
        write_export(tmp_path, [VALID], "first.csv"), mapping=MAPPING, as_of=AS_OF
    )
    rows = [
        "C1;Alpha;F5;FA;15/02/2024;15/03/2024;50,00;50,00",
        "C9;Nouveau;F6;FA;15/02/2024;15/03/2024;70,00;70,00",
    ]

    outcome = run_import(
        write_export(tmp_path, rows, "second.csv"),
        mapping=MAPPING | {"customers": "existing_only"},
        as_of=AS_OF,
        accept_rejects=True,
    )

    assert outcome.status == "loaded"
    assert outcome.summary["rows_rejected"] == 1
    assert ledger_counts() == {
        "customers": 1,
        "invoices": 2,
        "payments": 0,
        "allocations": 0,
    }


def test_fec_duplicate_line_rejected(app, tmp_path):
    lines = [*FEC_LEDGER, FEC_LEDGER[2]]  # FA-002 again, as line 18
    path = write_fec(tmp_path / "fec.txt", lines)

    outcome = run_import(path, profile="fec", as_of=AS_OF)

    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.code) for r in outcome.rejections] == [
        (18, "(whole line)", "duplicate_line")
    ]
    assert ledger_counts() == EMPTY_LEDGER


def test_fec_credit_larger_than_debt_rejected(app, tmp_path):
    options = ExportOptions(credit_exceeds_debt="reject")

    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, options=options
    )

    # C003 owes 100.00 and has 290.00 of open credits: both credits are rejected.
    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.value, r.code) for r in outcome.rejections] == [
        (11, "Credit", "250,00", "credit_exceeds_debt"),
        (12, "Credit", "40,00", "credit_exceeds_debt"),
    ]
    assert outcome.summary["rows_rejected"] == 2


def test_fec_accepted_credit_rejects_reconcile(app, tmp_path):
    options = ExportOptions(credit_exceeds_debt="reject")

    outcome = run_import(
        fec_file(tmp_path / "fec.txt"),
        profile="fec",
        as_of=AS_OF,
        options=options,
        accept_rejects=True,
    )

    assert outcome.status == "loaded"
    assert ledger_counts()["payments"] == 1  # the settlement only
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.reconciliation["status"] == "match"
    assert run.reconciliation["totals"]["file"]["credit_amount"] == "0.00"


def test_ibm_duplicate_invoice_rejected(app, tmp_path):
    lines = IBM_SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "ibm.csv"
    path.write_text("".join([*lines[:4], lines[2]]), encoding="utf-8")

    outcome = run_import(path, profile="ibm-ar", as_of=IBM_AS_OF)

    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.code) for r in outcome.rejections] == [
        (5, "invoiceNumber", "duplicate_invoice")
    ]
    assert outcome.rejections[0].reason.endswith(
        "already appears on line 3; expected each invoice once"
    )


def test_rejection_text_names_line_column_value(app, tmp_path):
    path = write_export(tmp_path, ["C2;Beta;F2;FA;15/01/2024;14/02/2024;12,3,4;10,00"])

    outcome = run_import(path, mapping=MAPPING, as_of=AS_OF)

    assert rejection_text(outcome.rejections[0], "en") == (
        'line 2, column Montant, value "12,3,4": amount is unreadable; expected a '
        "number such as 1234,56"
    )


# --- Accepted rejects and the rejection CSV ------------------------------------------


def test_cli_accept_rejects_loads_valid_rows(runner, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    rows = [
        VALID,
        "C2;Beta;F2;FA;15/01/2024;14/02/2024;=1+1;10,00",
        "C3;Gamma;F3;FA;15/01/2024;14/02/2024;-12,3,4;10,00",
        "@C4;Delta;F4;FA;31/02/2024;14/03/2024;10,00;10,00",
    ]
    rejects = tmp_path / "rejects.csv"

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(write_export(tmp_path, rows)),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
            "--accept-rejects",
            "--rejects",
            str(rejects),
        ]
    )

    assert result.exit_code == 1
    assert "3 rows rejected and not loaded; the other rows were loaded" in result.output
    assert ledger_counts()["invoices"] == 1
    with open(rejects, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["line", "field", "value", "reason"]
    assert [row[:3] for row in table[1:]] == [
        ["3", "Montant", "'=1+1"],
        ["4", "Montant", "'-12,3,4"],
        ["5", "Date", "31/02/2024"],
    ]
    assert table[1][3].startswith("amount is unreadable")
    run = db.session.scalar(select(ImportRun))
    assert run.status == "loaded"
    assert run.summary["rows_rejected"] == 3


def test_cli_rejected_file_exit_1_nothing_loaded(runner, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    rows = [VALID, "C2;Beta;F2;FA;15/01/2024;14/02/2024;12,3,4;10,00"]

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(write_export(tmp_path, rows)),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
            "--lang",
            "en",
        ]
    )

    assert result.exit_code == 1
    assert "1 row rejected; nothing was loaded" in result.output
    assert (
        'line 3, column Montant, value "12,3,4": amount is unreadable' in result.output
    )
    assert ledger_counts() == EMPTY_LEDGER


def test_cli_language_from_environment(runner, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    rows = ["C2;Beta;F2;FA;15/01/2024;14/02/2024;12,3,4;10,00"]

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(write_export(tmp_path, rows)),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
        ],
        env={"CADENCE_LANG": "de"},
    )

    assert result.exit_code == 2
    assert "'de' is not one of 'fr', 'en'" in result.output


# --- Nothing half-loaded -------------------------------------------------------------


class InjectedFailure(RuntimeError):
    pass


def fail_after(batches: int):
    calls = []

    def on_batch(table: str, rows: int) -> None:
        calls.append((table, rows))
        if len(calls) == batches:
            raise InjectedFailure(f"injected after {batches} batches: {calls}")

    return on_batch, calls


@pytest.mark.parametrize("batches", [1, 3, 8])
def test_failure_after_batches_leaves_empty_database(
    app, tmp_path, monkeypatch, batches
):
    monkeypatch.setattr(load, "BATCH_SIZE", 2)
    on_batch, calls = fail_after(batches)
    before = snapshot()

    with pytest.raises(InjectedFailure):
        run_import(
            fec_file(tmp_path / "fec.txt"),
            profile="fec",
            as_of=AS_OF,
            on_batch=on_batch,
        )

    assert len(calls) == batches
    after = snapshot()
    del after["import_runs"], before["import_runs"]
    assert after == before
    statuses = db.session.scalars(select(ImportRun.status)).all()
    assert statuses == ["failed"]


def test_failure_in_update_restores_every_row(app, tmp_path, monkeypatch):
    run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    monkeypatch.setattr(load, "BATCH_SIZE", 1)
    on_batch, calls = fail_after(4)
    before = snapshot()
    tables = ("customers", "invoices", "payments", "allocations", "import_run_changes")

    # A month later everything open on 2024-03-31 changes state.
    with pytest.raises(InjectedFailure):
        run_import(
            fec_file(tmp_path / "fec.txt"),
            profile="fec",
            as_of=AS_OF.replace(month=4, day=30),
            on_batch=on_batch,
        )

    after = snapshot()
    for table in tables:
        assert after[table] == before[table], table
    statuses = db.session.scalars(select(ImportRun.status).order_by(ImportRun.id)).all()
    assert statuses == ["loaded", "failed"]
    assert db.session.scalar(select(func.count()).select_from(ImportRejection)) == 0
