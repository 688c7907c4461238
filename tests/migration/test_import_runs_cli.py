"""`cadence legacy`: reconciliation exit codes, legacy sources, cutover rollbacks,
recorded dry runs, and the wording of the output in English and French."""

from __future__ import annotations

import csv
import json
import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, update

from app.extensions import db
from app.ledger.models import Customer, Invoice
from migration import importer
from migration.importer import ImportRefused, run_import
from migration.models import ImportRejection, ImportRun, LegacyCutover
from migration.reconcile import reconcile_run, report_csv
from migration.rollback import RollbackRefused, rollback_run
from migration.sources import SourceError
from tests.migration.legacy_files import (
    AS_OF,
    FRENCH_CSV,
    FRENCH_MAPPING,
    fec_file,
    write_csv,
    write_fec,
)
from tests.migration.test_runs import newer_ledger

FEC_ARGS = ["--profile", "fec", "--as-of", "2024-03-31"]


def import_args(path, *extra) -> list[str]:
    return ["legacy", "import", str(path), *FEC_ARGS, *extra]


# A row whose amount cannot be read, for the mapped French export.
BAD_ROW = "C9;Neuf;F9{number};FA;15/01/2024;14/02/2024;12,3,4;0,00;;;Nord;FR\n"


def run_of(outcome) -> ImportRun:
    return db_get(outcome.run_id)


def db_get(run_id) -> ImportRun:
    return db.session.get(ImportRun, run_id)


def run_ids() -> list[int]:
    """Return the ids of the recorded runs, oldest first.

    PostgreSQL does not restart its sequences between tests, so ids vary.
    """
    return list(db.session.scalars(select(ImportRun.id).order_by(ImportRun.id)))


def count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@pytest.fixture
def tampered_load(monkeypatch):
    """Make every load write FA-010 open for 99.00 where the file has 100.00."""
    real_load = importer.load_items

    def load_then_tamper(*args, **kwargs):
        counts = real_load(*args, **kwargs)
        db.session.execute(
            update(Invoice)
            .where(Invoice.number == "FA-010")
            .values(open_amount="99.00")
        )
        return counts

    monkeypatch.setattr(importer, "load_items", load_then_tamper)


# --- The reconciliation after an import -----------------------------------------------


def test_import_exits_3_on_difference(runner, tmp_path, tampered_load):
    result = runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt")))

    assert result.exit_code == 3, result.output
    [run_id] = run_ids()
    run = db_get(run_id)
    assert run.status == "loaded"
    assert run.reconciliation["status"] == "differences"
    assert (
        f"Reconciliation failed: run {run_id} is loaded, but Cadence differs from "
        f"the file. Run cadence legacy reconcile {run_id} to list the differences, "
        "then roll the run back or correct it."
    ) in result.output.splitlines()
    assert "match to the cent" not in result.output


def test_import_json_reports_difference(runner, tmp_path, tampered_load):
    result = runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt"), "--json"))

    assert result.exit_code == 3
    payload = json.loads(result.output[result.output.index("{") :])
    assert payload["reconciliation"] == "differences"
    assert payload["status"] == "loaded"


def test_import_exits_0_when_matching(runner, tmp_path):
    result = runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt")))

    assert result.exit_code == 0, result.output
    assert "Reconciliation: the file and Cadence match to the cent." in result.output
    [run_id] = run_ids()
    assert db_get(run_id).reconciliation["status"] == "match"


def test_reconcile_names_document(runner, tmp_path, tampered_load):
    runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt")))
    out = tmp_path / "reconciliation.csv"

    result = runner.invoke(
        args=[
            "legacy",
            "reconcile",
            str(run_ids()[0]),
            "--csv",
            str(out),
            "--lang",
            "en",
        ]
    )

    assert result.exit_code == 3
    report = db_get(run_ids()[0]).reconciliation
    assert report["document_differences"] == [
        {
            "customer": "C003",
            "name": "Martin",
            "document": "FA-010",
            "file_state": "open",
            "file_amount": "100.00",
            "cadence_state": "open",
            "cadence_amount": "99.00",
        }
    ]
    assert "1 document differs:" in result.output
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    c003 = next(row for row in rows if row["Customer"] == "C003")
    assert c003["Matches"] == "no"
    assert c003["Documents that differ"] == "FA-010"
    assert c003["Open amount in the file"] == "100.00"
    assert c003["Open amount in Cadence"] == "99.00"


def test_reconcile_names_missing_document(app, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "FA-020"))
    db.session.delete(invoice)
    db.session.commit()

    report = reconcile_run(run_of(outcome)).report

    assert report["document_differences"] == [
        {
            "customer": "411DUR",
            "name": "Durand SARL",
            "document": "FA-020",
            "file_state": "open",
            "file_amount": "75.00",
            "cadence_state": "missing",
            "cadence_amount": "",
        }
    ]


def test_reconciliation_csv_headers_french(app):
    report = {
        "customers": [
            {
                "customer": "=HYPERLINK(1)",
                "name": "+Nom",
                "matches": False,
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
                "documents": ["@SUM(A1)", "FA-1"],
            }
        ]
    }

    with force_locale("fr"):
        text = report_csv(report)

    rows = list(csv.reader(text.splitlines()))
    assert rows[0][:3] == ["Client", "Nom", "Concorde"]
    assert rows[1][:3] == ["'=HYPERLINK(1)", "'+Nom", "non"]
    assert rows[1][-1] == "'@SUM(A1), FA-1"


# --- Legacy sources -------------------------------------------------------------------


def test_two_sources_keep_separate_customers(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")

    first = run_import(path, profile="fec", as_of=AS_OF, source="acme")
    second = run_import(path, profile="fec", as_of=AS_OF, source="globex")

    assert first.status == "loaded"
    assert second.status == "loaded"
    assert second.previous_run_id is None
    sources = db.session.execute(
        select(Customer.legacy_source, func.count()).group_by(Customer.legacy_source)
    ).all()
    assert sorted(sources) == [("acme", 5), ("globex", 5)]
    assert run_of(first).source == "acme"
    assert run_of(second).source == "globex"
    assert run_of(second).reconciliation["status"] == "match"


def test_reimport_detected_per_source(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    first = run_import(path, profile="fec", as_of=AS_OF, source="acme")

    again = run_import(path, profile="fec", as_of=AS_OF, source="acme")

    assert again.status == "unchanged"
    assert again.previous_run_id == first.run_id


def test_cutover_of_one_source_leaves_other_open(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    run_import(path, profile="fec", as_of=AS_OF, source="acme", cutover=True)

    other = run_import(path, profile="fec", as_of=AS_OF, source="globex")

    assert other.status == "loaded"
    with pytest.raises(ImportRefused, match="acme"), force_locale("en"):
        run_import(path, profile="fec", as_of=AS_OF, source="acme")


def test_rollback_of_one_source_leaves_other(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    acme = run_import(path, profile="fec", as_of=AS_OF, source="acme")
    run_import(path, profile="fec", as_of=AS_OF, source="globex")

    rollback_run(run_of(acme))

    sources = set(db.session.scalars(select(Customer.legacy_source)))
    assert sources == {"globex"}


@pytest.mark.parametrize(
    "name", ["ACME", "acme fec", "-acme", "acme-", "a" * 33, "", "acmé", "a/b"]
)
def test_invalid_source_rejected(runner, tmp_path, name):
    result = runner.invoke(
        args=import_args(fec_file(tmp_path / "fec.txt"), "--source", name)
    )

    assert result.exit_code == 2
    assert f"Error: invalid legacy source {name!r}: use 1 to 32 lowercase" in (
        result.output
    )
    assert count(select(ImportRun.id)) == 0


@pytest.mark.parametrize("name", ["a", "acme-fec", "gestcom_2024", "x" * 32])
def test_valid_source_names(app, tmp_path, name):
    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, source=name
    )

    assert run_of(outcome).source == name


def test_mapping_source_conflict_rejected(app, tmp_path):
    mapping = FRENCH_MAPPING | {"source": "gestcom"}
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    with pytest.raises(SourceError, match="the mapping sets source 'gestcom'"):
        run_import(path, mapping=mapping, as_of=AS_OF, source="acme")

    same = run_import(path, mapping=mapping, as_of=AS_OF, source="gestcom")
    assert run_of(same).source == "gestcom"


def test_source_overrides_mapping_default(app, tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    outcome = run_import(path, mapping=FRENCH_MAPPING, as_of=AS_OF, source="acme")

    assert run_of(outcome).source == "acme"
    sources = set(db.session.scalars(select(Customer.legacy_source)))
    assert sources == {"acme"}


def test_cli_source_option(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")

    result = runner.invoke(args=import_args(path, "--source", "acme", "--json"))

    payload = json.loads(result.output[result.output.index("{") :])
    assert payload["source"] == "acme"
    assert db_get(payload["run_id"]).source == "acme"


# --- Cutovers and their rollback ------------------------------------------------------


def cutover_run_ids() -> list[tuple[str, int]]:
    return db.session.execute(select(LegacyCutover.source, LegacyCutover.run_id)).all()


def test_rollback_of_forced_cutover_keeps_first(app, tmp_path):
    first = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, cutover=True
    )
    second = run_import(
        write_fec(tmp_path / "newer.txt", newer_ledger()),
        profile="fec",
        as_of=AS_OF,
        cutover=True,
        force=True,
    )
    assert cutover_run_ids() == [("fec", second.run_id)]

    result = rollback_run(run_of(second))

    assert cutover_run_ids() == [("fec", first.run_id)]
    assert result.cutover_run_id == first.run_id
    assert result.cutover_removed is False
    with pytest.raises(ImportRefused), force_locale("en"):
        run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)


def test_first_cutover_blocked_by_forced_one(app, tmp_path):
    first = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, cutover=True
    )
    second = run_import(
        fec_file(tmp_path / "fec.txt"),
        profile="fec",
        as_of=AS_OF,
        cutover=True,
        force=True,
    )
    assert second.status == "unchanged"

    with pytest.raises(RollbackRefused) as refused, force_locale("en"):
        rollback_run(run_of(first))

    assert (
        f"- run {second.run_id} replaced the cutover of fec that run {first.run_id} "
        f"recorded: roll it back first with cadence legacy rollback {second.run_id}."
    ) in str(refused.value).splitlines()
    assert cutover_run_ids() == [("fec", second.run_id)]


def test_unchanged_cutover_run_rolls_back(app, tmp_path):
    first = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    cutover = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, cutover=True
    )
    assert cutover.status == "unchanged"
    assert cutover.cutover_recorded is True

    result = rollback_run(run_of(cutover))

    assert result.cutover_removed is True
    assert (result.deleted, result.restored, result.recreated) == (0, 0, 0)
    assert cutover_run_ids() == []
    assert run_of(cutover).status == "rolled_back"
    assert run_of(first).status == "loaded"


def test_cli_rollback_reports_cutover(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    newer = write_fec(tmp_path / "newer.txt", newer_ledger())
    runner.invoke(args=import_args(path, "--cutover"))
    runner.invoke(args=import_args(newer, "--cutover", "--force"))

    first, second = run_ids()
    result = runner.invoke(args=["legacy", "rollback", str(second), "--lang", "en"])

    assert result.exit_code == 0, result.output
    assert f"The cutover of fec is again the one of run {first}." in result.output
    refused = runner.invoke(args=import_args(path))
    assert refused.exit_code == 1


# --- Dry runs -------------------------------------------------------------------------


def test_dry_run_recorded_and_listed(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")

    result = runner.invoke(args=import_args(path, "--dry-run", "--lang", "en"))
    listing = runner.invoke(args=["legacy", "runs", "--json"])
    text = runner.invoke(args=["legacy", "runs", "--lang", "en"])

    assert result.exit_code == 0, result.output
    assert (
        f"Dry run {run_ids()[0]}: nothing was written. The records above are what "
        "an import of this file would create, update, delete and leave unchanged."
    ) in result.output.splitlines()
    assert [run["status"] for run in json.loads(listing.output)] == ["dry_run"]
    assert "Dry run, nothing written" in text.output
    assert count(select(Customer.id)) == 0


def test_dry_run_with_rejections_recorded(app, tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV + BAD_ROW.format(number=1))

    outcome = run_import(path, mapping=FRENCH_MAPPING, as_of=AS_OF, dry_run=True)

    run = run_of(outcome)
    assert run.status == "dry_run"
    assert run.summary["rows_rejected"] == 1
    assert count(select(ImportRejection.id)) == 1
    assert db.session.scalar(select(ImportRejection.line)) == 9


def test_dry_run_rollback_refused(app, tmp_path):
    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, dry_run=True
    )

    with (
        pytest.raises(RollbackRefused, match="nothing to roll back"),
        force_locale("en"),
    ):
        rollback_run(run_of(outcome))


def test_dry_run_not_a_previous_run(app, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    run_import(path, profile="fec", as_of=AS_OF, dry_run=True)

    outcome = run_import(path, profile="fec", as_of=AS_OF)

    assert outcome.status == "loaded"
    assert outcome.previous_run_id is None


# --- Wording --------------------------------------------------------------------------


def rejected_export(tmp_path, bad_rows: int):
    text = FRENCH_CSV + "".join(BAD_ROW.format(number=n) for n in range(bad_rows))
    return write_csv(tmp_path / "export.csv", text)


@pytest.mark.parametrize(
    ("bad_rows", "heading"),
    [
        (1, "1 row rejected; nothing was loaded. Fix it in the export"),
        (2, "2 rows rejected; nothing was loaded. Fix them in the export"),
    ],
)
def test_rejection_count_plural(runner, tmp_path, bad_rows, heading):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(json.dumps(FRENCH_MAPPING), encoding="utf-8")
    path = rejected_export(tmp_path, bad_rows)

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(path),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
            "--lang",
            "en",
        ]
    )

    assert result.exit_code == 1
    assert heading in result.output


def test_import_output_in_french(runner, tmp_path):
    result = runner.invoke(
        args=import_args(fec_file(tmp_path / "fec.txt"), "--lang", "fr")
    )
    lines = result.output.splitlines()

    assert result.exit_code == 0, result.output
    assert any(line.split()[:2] == ["Lignes", "lues"] for line in lines)
    assert any(line.startswith("  Factures ouvertes") for line in lines)
    assert any(line.startswith("  Enregistrements créés") for line in lines)
    assert not any(line.startswith("  Rows read") for line in lines)
    # The label is padded with spaces up to the count column.
    assert not any(line.startswith("  Open invoices   ") for line in lines)


def test_import_amounts_in_locale(runner, tmp_path):
    path = fec_file(tmp_path / "fec.txt")
    english = runner.invoke(args=import_args(path, "--dry-run", "--lang", "en"))
    french = runner.invoke(args=import_args(path, "--dry-run", "--lang", "fr"))

    english_row = next(
        line for line in english.output.splitlines() if "Open invoices" in line
    )
    french_row = next(
        line for line in french.output.splitlines() if "Factures ouvertes" in line
    )
    assert re.split(r" {2,}", english_row.strip()) == [
        "Open invoices",
        "7",
        "3,845.50",
    ]
    # CLDR's French group separator is a narrow no-break space.
    assert re.split(r" {2,}", french_row.strip()) == [
        "Factures ouvertes",
        "7",
        "3\u202f845,50",
    ]


def test_runs_status_labels_french(runner, tmp_path):
    runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt")))
    rollback_run(db_get(run_ids()[0]))

    text = runner.invoke(args=["legacy", "runs", "--lang", "fr"])
    listing = runner.invoke(args=["legacy", "runs", "--json"])

    assert "Annulé" in text.output
    assert "rolled_back" not in text.output
    # The run matched its file before the rollback removed what it loaded.
    assert "Concorde" not in text.output
    assert json.loads(listing.output)[0]["status"] == "rolled_back"


def test_reconcile_headings_french(runner, tmp_path):
    runner.invoke(args=import_args(fec_file(tmp_path / "fec.txt")))

    run_id = str(run_ids()[0])
    result = runner.invoke(args=["legacy", "reconcile", run_id, "--lang", "fr"])

    assert result.exit_code == 0, result.output
    assert "Dans le fichier" in result.output
    assert "Dans Cadence" in result.output
    assert "Solde" in result.output
    assert "balance" not in result.output


def test_reconciliation_page_lists_documents(client, auth, users, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    db.session.execute(
        update(Invoice).where(Invoice.number == "FA-010").values(open_amount="99.00")
    )
    db.session.commit()
    reconcile_run(run_of(outcome))
    auth.login(users["admin"].email)
    client.post("/language/en", data={"next": "/"})

    page = client.get(f"/admin/migration/runs/{outcome.run_id}/reconciliation")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="document-differences"' in text
    assert 'data-document="FA-010"' in text
