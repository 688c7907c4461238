"""Import runs: what a run records, re-imports, newer exports, the runs command."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.ledger.models import Invoice, Payment
from migration.importer import run_import
from migration.models import ImportRun
from tests.migration.legacy_files import (
    AS_OF,
    FEC_LEDGER,
    entry,
    fec_file,
    ledger_counts,
    write_fec,
)


def newer_ledger() -> list[list[str]]:
    """The ledger a week later: FA-002 paid, FA-004 issued, VIR-77 matched."""
    lines = [list(fields) for fields in FEC_LEDGER]
    fa_002 = lines[2]
    fa_002[13], fa_002[14] = "AC", "20240325"
    vir_77 = lines[10]
    vir_77[13], vir_77[14] = "AD", "20240325"
    return [
        *lines,
        entry(
            "BQ1",
            "11",
            "20240325",
            "411000",
            "C001",
            "RG-002",
            "Règlement FA-002",
            "0,00",
            "2400,50",
            "AC",
            "20240325",
        ),
        entry(
            "VT",
            "12",
            "20240328",
            "411000",
            "C001",
            "FA-004",
            "Facture FA-004",
            "300,00",
            "0,00",
        ),
    ]


def test_run_records_file_and_figures(app, tmp_path, users):
    path = fec_file(tmp_path / "fec.txt")

    outcome = run_import(path, profile="fec", as_of=AS_OF, user=users["admin"])

    run = db.session.get(ImportRun, outcome.run_id)
    assert run.file_name == "fec.txt"
    assert run.file_path == str(path.resolve())
    assert run.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run.source == "fec"
    assert run.profile == "fec"
    assert run.as_of == AS_OF
    assert run.mode == "full"
    assert run.wave is None
    assert run.status == "loaded"
    assert run.user_id == users["admin"].id
    assert run.user_label == "admin@test.example"
    assert run.finished_at >= run.started_at
    assert run.summary["created"] == 16
    assert run.summary["open_amount"] == "3845.50"
    assert run.settings["separator"] == "\t"
    assert run.settings["account_prefixes"] == ["411"]


def test_same_file_and_date_is_a_no_op(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    first = run_import(path, profile="fec", as_of=AS_OF)
    counts = ledger_counts()

    again = run_import(path, profile="fec", as_of=AS_OF)

    assert again.status == "unchanged"
    assert again.previous_run_id == first.run_id
    assert again.summary["created"] == 0
    assert again.summary["updated"] == 0
    assert again.summary["deleted"] == 0
    assert again.summary["unchanged"] == 16
    assert ledger_counts() == counts


def test_cli_says_same_file_and_date(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    args = ["legacy", "import", str(path), "--profile", "fec", "--as-of", "2024-03-31"]
    runner.invoke(args=args)

    result = runner.invoke(args=args)

    assert result.exit_code == 0, result.output
    assert "Nothing to change: the database already matches this file" in result.output
    assert "It is the same file and date as run" in result.output


def test_newer_export_updates_changed_rows(app, tmp_path):
    run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    newer = write_fec(tmp_path / "fec-newer.txt", newer_ledger())

    outcome = run_import(newer, profile="fec", as_of=AS_OF)

    assert outcome.status == "loaded"
    # FA-004 and the settlement of FA-002 are new; FA-002 is now paid; VIR-77 is
    # no longer an open credit.
    assert outcome.summary["created"] == 2
    assert outcome.summary["updated"] == 1
    assert outcome.summary["deleted"] == 1
    assert outcome.summary["unchanged"] == 14
    fa_002 = db.session.scalar(select(Invoice).where(Invoice.number == "FA-002"))
    assert fa_002.status == "paid"
    assert fa_002.open_amount == Decimal("0.00")
    references = set(db.session.scalars(select(Payment.reference)))
    assert references == {"FA-001", "FA-002", "AV-001"}
    assert ledger_counts() == {
        "customers": 5,
        "invoices": 9,
        "payments": 3,
        "allocations": 2,
    }
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.reconciliation["status"] == "match"


def test_later_as_of_date_updates_in_place(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    run_import(path, profile="fec", as_of=AS_OF)

    outcome = run_import(path, profile="fec", as_of=dt.date(2024, 4, 30))

    # FA-003 was lettered on 2024-04-10: paid now, with a settlement payment.
    assert outcome.summary["created"] == 1
    assert outcome.summary["updated"] == 1
    fa_003 = db.session.scalar(select(Invoice).where(Invoice.number == "FA-003"))
    assert fa_003.status == "paid"


def test_runs_command_lists_runs(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    runner.invoke(
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
    runner.invoke(
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

    text = runner.invoke(args=["legacy", "runs"])
    listing = runner.invoke(args=["legacy", "runs", "--json"])

    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert len(lines) == 2
    assert "Unchanged" in lines[0]
    assert "Loaded" in lines[1]
    assert "fec.txt" in lines[1]
    runs = json.loads(listing.output)
    assert [run["status"] for run in runs] == ["unchanged", "loaded"]
    assert runs[1]["reconciliation"] == "match"
    assert runs[1]["summary"]["created"] == 16


def test_runs_command_without_runs(runner):
    result = runner.invoke(args=["legacy", "runs"])

    assert result.exit_code == 0
    assert "No import has run yet." in result.output


def test_import_is_audited_with_counts(app, tmp_path, users):
    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, user=users["admin"]
    )

    entry_ = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "migration.import",
            AuditEntry.target == f"import run {outcome.run_id}",
        )
    )
    assert entry_.actor_label == "admin@test.example"
    assert entry_.after["status"] == "loaded"
    assert entry_.after["created"] == 16
    assert entry_.after["mode"] == "full"
    assert entry_.after["sha256"] == db.session.get(ImportRun, outcome.run_id).sha256
