"""Partly paid invoices, undated payments, rejected rows and items missing from exports.

The exports are mapped CSV files of one legacy source, imported as of the end of
March 2024 and, for the newer exports, of April 2024.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.ledger.models import Allocation, Invoice, Payment
from migration.importer import ImportRefused, run_import
from migration.messages import ReaderError
from migration.models import ImportRun
from migration.readers.mapped import read_mapped
from migration.rollback import rollback_run
from tests.migration.legacy_files import snapshot

D = Decimal
MARCH = dt.date(2024, 3, 31)
APRIL = dt.date(2024, 4, 30)
HEADER = "Client;Nom;Facture;Type;Date;Echéance;Montant;Reste;Réglé le;Equipe"
F1 = "C1;Alpha;F1;FA;01/02/2024;02/03/2024;1000,00;400,00;15/03/2024;Nord"
F2 = "C1;Alpha;F2;FA;05/02/2024;06/03/2024;500,00;500,00;;Nord"
A1 = "C1;Alpha;A1;AV;10/02/2024;;-50,00;-50,00;;Nord"
F3 = "C2;Beta;F3;FA;01/03/2024;20/03/2024;300,00;100,00;;Sud"
F4 = "C2;Beta;F4;FA;01/01/2024;31/01/2024;250,00;0,00;;Sud"
F5 = "C3;Gamma;F5;FA;01/03/2024;31/03/2024;80,00;80,00;;Est"
A2 = "C3;Gamma;A2;AV;02/03/2024;;-30,00;-30,00;;Est"
MARCH_ROWS = [F1, F2, A1, F3, F4, F5, A2]
MAPPING = {
    "source": "gestcom",
    "columns": {
        "customer_id": "Client",
        "customer_name": "Nom",
        "document": "Facture",
        "kind": "Type",
        "issue_date": "Date",
        "due_date": "Echéance",
        "amount": "Montant",
        "open_amount": "Reste",
        "settled_date": "Réglé le",
        "team": "Equipe",
    },
    "kind_values": {"FA": "invoice", "AV": "credit_note"},
    "separator": ";",
    "decimal": ",",
    "thousands": "",
    "date_format": "JJ/MM/AAAA",
    "payment_term": "30 days",
}
PLAN = """\
strategy: phased
waves:
  - name: pilot
    start: 2024-01-01
    teams: [Nord]
  - name: rest
    start: 2024-06-01
    teams: all
flags:
  worklist:
    description: Prioritised worklist.
    waves: [pilot]
"""


def export(tmp_path: Path, rows: list[str], name: str = "march.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def load_march(tmp_path: Path, **options):
    outcome = run_import(
        export(tmp_path, MARCH_ROWS), mapping=MAPPING, as_of=MARCH, **options
    )
    assert outcome.status == "loaded", outcome.rejections
    return outcome


def invoice(number: str) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def payment(legacy_id: str) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.legacy_id == legacy_id))


def allocations_to(number: str) -> list[tuple[str, Decimal]]:
    """Return (payment legacy id, amount) of each allocation to invoice ``number``."""
    rows = db.session.execute(
        select(Payment.legacy_id, Allocation.amount)
        .join(Allocation, Allocation.payment_id == Payment.id)
        .join(Invoice, Allocation.invoice_id == Invoice.id)
        .where(Invoice.number == number)
        .order_by(Payment.legacy_id)
    )
    return [(legacy_id, D(amount).quantize(D("0.01"))) for legacy_id, amount in rows]


def unallocated_credits() -> dict[str, Decimal]:
    allocated = select(Allocation.id).where(Allocation.payment_id == Payment.id)
    rows = db.session.execute(
        select(Payment.reference, Payment.amount).where(~allocated.exists())
    )
    return {reference: D(amount).quantize(D("0.01")) for reference, amount in rows}


def reconciliation_of(outcome) -> dict:
    return db.session.get(ImportRun, outcome.run_id).reconciliation


# --- Reading ------------------------------------------------------------------------


def test_reader_dates_paid_part_on_row_date(tmp_path):
    items, rejections = read_mapped(
        export(tmp_path, [F1]), MAPPING, as_of=MARCH
    ).split()

    assert rejections == []
    invoice_item, paid = items
    assert invoice_item.legacy_id == "gestcom:C1:invoice:F1"
    assert invoice_item.amount == D("1000.00")
    assert invoice_item.settled_date is None
    assert paid.legacy_id == "gestcom:C1:invoice:F1:paid"
    assert paid.amount == D("600.00")
    assert paid.issue_date == dt.date(2024, 3, 15)
    assert paid.is_credit is True
    assert paid.payment_date_assumed is False


@pytest.mark.parametrize(
    ("assumed", "paid_part_date", "settled_date"),
    [
        (None, MARCH, MARCH),
        ("as_of", MARCH, MARCH),
        ("due_date", dt.date(2024, 3, 20), dt.date(2024, 1, 31)),
    ],
)
def test_reader_assumed_payment_date(tmp_path, assumed, paid_part_date, settled_date):
    mapping = dict(MAPPING)
    if assumed is not None:
        mapping["assumed_payment_date"] = assumed
    result = read_mapped(export(tmp_path, [F3, F4]), mapping, as_of=MARCH)

    items, rejections = result.split()

    assert rejections == []
    f3, paid, f4 = items
    assert paid.legacy_id == "gestcom:C2:invoice:F3:paid"
    assert paid.issue_date == paid_part_date
    assert paid.payment_date_assumed is True
    assert f3.payment_date_assumed is False
    assert f4.settled_date == settled_date
    assert f4.payment_date_assumed is True
    assert result.stats.paid_part_dates_assumed == 1
    assert result.stats.settled_dates_assumed == 1


def test_reader_due_date_capped_at_as_of(tmp_path):
    not_yet_due = "C2;Beta;F7;FA;25/03/2024;24/04/2024;100,00;60,00;;Sud"
    mapping = dict(MAPPING, assumed_payment_date="due_date")

    items, _ = read_mapped(
        export(tmp_path, [not_yet_due]), mapping, as_of=MARCH
    ).split()

    assert items[1].issue_date == MARCH
    assert items[1].amount == D("40.00")


def test_reader_rejects_unknown_assumed_date(tmp_path):
    mapping = dict(MAPPING, assumed_payment_date="issue_date")

    with pytest.raises(ReaderError) as raised:
        read_mapped(export(tmp_path, [F1]), mapping, as_of=MARCH)

    assert raised.value.code == "option_invalid"
    assert "assumed_payment_date" in str(raised.value)
    assert "as_of or due_date" in str(raised.value)


def test_reader_payment_after_as_of_keeps_invoice_open(tmp_path):
    paid_in_april = (
        "C1;Alpha;F8;FA;01/02/2024;02/03/2024;1000,00;400,00;10/04/2024;Nord"
    )

    items, rejections = read_mapped(
        export(tmp_path, [paid_in_april]), MAPPING, as_of=MARCH
    ).split()

    assert rejections == []
    assert len(items) == 1
    assert items[0].amount == D("1000.00")
    assert items[0].settled_date is None


def test_reader_partly_used_credit_note_with_date(tmp_path):
    used = "C1;Alpha;A3;AV;10/02/2024;;-50,00;-20,00;20/02/2024;Nord"

    items, rejections = read_mapped(
        export(tmp_path, [used]), MAPPING, as_of=MARCH
    ).split()

    assert rejections == []
    assert len(items) == 1
    assert items[0].amount == D("20.00")
    assert items[0].settled_date is None


def test_reader_rejection_names_document(tmp_path):
    bad_date = F1.replace("01/02/2024", "31/02/2024")
    no_customer = ";Anon;F9;FA;01/02/2024;02/03/2024;10,00;10,00;;Nord"

    _, rejections = read_mapped(
        export(tmp_path, [bad_date, no_customer]), MAPPING, as_of=MARCH
    ).split()

    assert [(r.line, r.customer, r.document) for r in rejections] == [
        (2, "C1", "F1"),
        (3, None, "F9"),
    ]


# --- First load ---------------------------------------------------------------------


def test_first_load_allocates_paid_parts(app, tmp_path):
    outcome = load_march(tmp_path)

    f1 = invoice("F1")
    assert (f1.status, f1.amount, f1.open_amount) == ("open", D("1000.00"), D("400.00"))
    assert allocations_to("F1") == [("gestcom:C1:invoice:F1:paid", D("600.00"))]
    assert payment("gestcom:C1:invoice:F1:paid").received_on == dt.date(2024, 3, 15)
    f3 = invoice("F3")
    assert (f3.status, f3.open_amount) == ("open", D("100.00"))
    assert allocations_to("F3") == [("gestcom:C2:invoice:F3:paid", D("200.00"))]
    assert payment("gestcom:C2:invoice:F3:paid").received_on == MARCH
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}
    summary = outcome.summary
    assert summary["open_invoices"] == 4
    assert summary["open_amount"] == "1080.00"
    assert summary["open_credits"] == 2
    assert summary["credit_amount"] == "80.00"
    assert summary["paid_parts"] == 2
    assert summary["paid_part_dates_assumed"] == 1
    assert summary["settled_dates_assumed"] == 1
    assert reconciliation_of(outcome)["status"] == "match"


def test_first_load_reports_no_missing_items(app, tmp_path):
    outcome = load_march(tmp_path)

    assert outcome.summary["missing"] == {
        "action": "keep",
        "open_invoices": 0,
        "open_credits": 0,
        "settled_invoices": 0,
        "deleted_credits": 0,
        "legacy_ids": [],
    }


def test_reload_of_same_file_changes_nothing(app, tmp_path):
    load_march(tmp_path)
    before = snapshot(tables=("invoices", "payments", "allocations"))

    again = run_import(export(tmp_path, MARCH_ROWS), mapping=MAPPING, as_of=MARCH)

    assert again.status == "unchanged"
    assert snapshot(tables=("invoices", "payments", "allocations")) == before


# --- Newer exports ------------------------------------------------------------------

NEWER_F1 = {
    "more paid": "C1;Alpha;F1;FA;01/02/2024;02/03/2024;1000,00;100,00;25/04/2024;Nord",
    "fully paid": "C1;Alpha;F1;FA;01/02/2024;02/03/2024;1000,00;0,00;28/04/2024;Nord",
    "reopened": "C1;Alpha;F1;FA;01/02/2024;02/03/2024;1000,00;1000,00;;Nord",
}


@pytest.mark.parametrize(
    ("case", "status", "open_amount", "allocations"),
    [
        (
            "more paid",
            "open",
            D("100.00"),
            [("gestcom:C1:invoice:F1:paid", D("900.00"))],
        ),
        (
            "fully paid",
            "paid",
            D("0.00"),
            [("gestcom:C1:invoice:F1#settlement", D("1000.00"))],
        ),
        ("reopened", "open", D("1000.00"), []),
    ],
)
def test_newer_export_updates_paid_part(
    app, tmp_path, case, status, open_amount, allocations
):
    load_march(tmp_path)
    after_march = snapshot()
    rows = [NEWER_F1[case], *MARCH_ROWS[1:]]

    newer = run_import(
        export(tmp_path, rows, "april.csv"), mapping=MAPPING, as_of=APRIL
    )

    assert newer.status == "loaded"
    f1 = invoice("F1")
    assert (f1.status, f1.open_amount) == (status, open_amount)
    assert allocations_to("F1") == allocations
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}
    assert reconciliation_of(newer)["status"] == "match"

    rollback_run(db.session.get(ImportRun, newer.run_id))

    after_rollback = snapshot()
    for table in ("customers", "invoices", "payments", "allocations"):
        assert after_rollback[table] == after_march[table], table


def test_more_paid_dates_payment_on_new_date(app, tmp_path):
    load_march(tmp_path)

    run_import(
        export(tmp_path, [NEWER_F1["more paid"], *MARCH_ROWS[1:]], "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
    )

    paid = payment("gestcom:C1:invoice:F1:paid")
    assert (paid.amount, paid.received_on) == (D("900.00"), dt.date(2024, 4, 25))


# --- Rejected rows of a newer export ------------------------------------------------


def c1_rows() -> dict[str, list[tuple]]:
    """Return C1's invoices, payments and allocations as stored."""
    state = snapshot(tables=("invoices", "payments", "allocations"))
    return {name: rows for name, rows in state.items()}


def test_rejected_rows_keep_derived_credits(app, tmp_path):
    load_march(tmp_path)
    before = c1_rows()
    bad_f1 = F1.replace("01/02/2024", "31/02/2024")  # not a date
    bad_a1 = A1.replace("-50,00;-50,00", "abc;-50,00")  # not an amount
    rows = [bad_f1, F2, bad_a1, F3, F4, F5, A2]

    newer = run_import(
        export(tmp_path, rows, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        accept_rejects=True,
    )

    assert newer.status == "unchanged"
    assert newer.summary["rows_rejected"] == 2
    assert newer.summary["deleted"] == 0
    assert c1_rows() == before
    assert allocations_to("F1") == [("gestcom:C1:invoice:F1:paid", D("600.00"))]
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}
    assert newer.summary["missing"]["open_invoices"] == 0


def test_untraceable_rejection_deletes_nothing(app, tmp_path):
    load_march(tmp_path)
    no_customer = ";Anon;F9;FA;01/02/2024;02/03/2024;10,00;10,00;;Nord"
    # A2 is no longer listed: it would be deleted as matched, but the rejected row
    # could be that credit note.
    rows = [F1, F2, A1, F3, F4, F5, no_customer]

    newer = run_import(
        export(tmp_path, rows, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        accept_rejects=True,
    )

    assert newer.summary["deleted"] == 0
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}


def test_credit_deleted_without_rejections(app, tmp_path):
    load_march(tmp_path)

    newer = run_import(
        export(tmp_path, [F1, F2, A1, F3, F4, F5], "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
    )

    assert newer.summary["deleted"] == 1
    assert unallocated_credits() == {"A1": D("50.00")}


# --- Open items missing from a newer export -----------------------------------------

# F2 (C1) is gone, and so is C3 with its invoice F5 and credit note A2.
APRIL_ROWS = [F1, A1, F3, F4]
MISSING_IDS = [
    "gestcom:C1:invoice:F2",
    "gestcom:C3:credit_note:A2",
    "gestcom:C3:invoice:F5",
]


def test_missing_items_reported_and_kept(app, tmp_path):
    load_march(tmp_path)

    newer = run_import(
        export(tmp_path, APRIL_ROWS, "april.csv"), mapping=MAPPING, as_of=APRIL
    )

    assert newer.summary["missing"] == {
        "action": "keep",
        "open_invoices": 2,
        "open_credits": 1,
        "settled_invoices": 0,
        "deleted_credits": 0,
        "legacy_ids": MISSING_IDS,
    }
    assert (invoice("F2").status, invoice("F2").open_amount) == ("open", D("500.00"))
    assert (invoice("F5").status, invoice("F5").open_amount) == ("open", D("80.00"))
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}
    # The file has no line for the three missing items, so the reconciliation
    # leaves them out and matches.
    report = reconciliation_of(newer)
    assert (report["status"], report["missing_left_out"]) == ("match", 3)
    assert report["totals"]["cadence"] == report["totals"]["file"]


def test_missing_items_settled_and_rolled_back(app, tmp_path):
    load_march(tmp_path)
    after_march = snapshot()

    newer = run_import(
        export(tmp_path, APRIL_ROWS, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        missing="settle",
    )

    missing = newer.summary["missing"]
    assert (missing["action"], missing["settled_invoices"]) == ("settle", 2)
    assert missing["deleted_credits"] == 1
    assert missing["legacy_ids"] == MISSING_IDS
    for number, amount in (("F2", D("500.00")), ("F5", D("80.00"))):
        settled = invoice(number)
        assert (settled.status, settled.open_amount) == ("paid", D("0.00"))
        settlement_id = f"{settled.legacy_id}#settlement"
        assert allocations_to(number) == [(settlement_id, amount)]
        assert payment(settlement_id).received_on == APRIL
    assert unallocated_credits() == {"A1": D("50.00")}
    report = reconciliation_of(newer)
    assert (report["status"], report["missing_left_out"]) == ("match", 3)

    rollback_run(db.session.get(ImportRun, newer.run_id))

    after_rollback = snapshot()
    for table in ("customers", "invoices", "payments", "allocations"):
        assert after_rollback[table] == after_march[table], table


def test_missing_partly_paid_invoice_settles_open_amount(app, tmp_path):
    load_march(tmp_path)

    newer = run_import(
        export(tmp_path, [F2, A1, F3, F4, F5, A2], "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        missing="settle",
    )

    assert newer.summary["missing"]["legacy_ids"] == ["gestcom:C1:invoice:F1"]
    f1 = invoice("F1")
    assert (f1.status, f1.open_amount) == ("paid", D("0.00"))
    assert allocations_to("F1") == [
        ("gestcom:C1:invoice:F1#settlement", D("400.00")),
        ("gestcom:C1:invoice:F1:paid", D("600.00")),
    ]


def test_missing_settle_dry_run_writes_nothing(app, tmp_path):
    load_march(tmp_path)
    before = snapshot(tables=("invoices", "payments", "allocations"))

    newer = run_import(
        export(tmp_path, APRIL_ROWS, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        missing="settle",
        dry_run=True,
    )

    assert newer.summary["missing"]["settled_invoices"] == 2
    assert snapshot(tables=("invoices", "payments", "allocations")) == before


def test_missing_limited_to_wave_customers(app, tmp_path):
    plan = tmp_path / "feature_flags.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    app.config["FEATURE_FLAGS_PATH"] = str(plan)
    load_march(tmp_path)

    # The pilot wave (team Nord) exports C1 only, without F2.
    newer = run_import(
        export(tmp_path, [F1, A1], "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        wave="pilot",
        missing="settle",
    )

    assert newer.summary["missing"]["legacy_ids"] == ["gestcom:C1:invoice:F2"]
    assert invoice("F2").status == "paid"
    assert invoice("F5").status == "open"
    assert invoice("F3").status == "open"
    assert unallocated_credits() == {"A1": D("50.00"), "A2": D("30.00")}


def test_missing_rejects_unknown_action(app, tmp_path):
    with pytest.raises(ValueError, match="missing must be one of"):
        run_import(
            export(tmp_path, MARCH_ROWS), mapping=MAPPING, as_of=MARCH, missing="drop"
        )


# --- Command line -------------------------------------------------------------------


def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    lines = [f"{key}: {value!r}" for key, value in MAPPING.items() if key != "columns"]
    columns = [f"  {field}: {column}" for field, column in MAPPING["columns"].items()]
    path.write_text("\n".join(["columns:", *columns, *lines]) + "\n", encoding="utf-8")
    return path


def test_cli_missing_settle(runner, tmp_path):
    mapping = mapping_file(tmp_path)
    first = runner.invoke(
        args=[
            "legacy",
            "import",
            str(export(tmp_path, MARCH_ROWS)),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-03-31",
        ]
    )
    assert first.exit_code == 0, first.output

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(export(tmp_path, APRIL_ROWS, "april.csv")),
            "--mapping",
            str(mapping),
            "--as-of",
            "2024-04-30",
            "--missing",
            "settle",
            "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    payload = result.stdout[result.stdout.index("{") :]
    assert '"settled_invoices": 2' in payload
    latest = db.session.scalar(select(func.max(ImportRun.id)))
    report = runner.invoke(args=["legacy", "reconcile", str(latest), "--lang", "en"])
    assert report.exit_code == 0, report.output
    assert (
        "3 open items of earlier runs that this file no longer lists are left out "
        "of the comparison; the run's report lists them." in report.output
    )
    assert '"gestcom:C1:invoice:F2"' in payload
    assert (
        db.session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.status == "paid")
        )
        == 3
    )


def test_cli_missing_invalid_choice(runner, tmp_path):
    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(export(tmp_path, MARCH_ROWS)),
            "--mapping",
            str(mapping_file(tmp_path)),
            "--as-of",
            "2024-03-31",
            "--missing",
            "delete",
        ]
    )

    assert result.exit_code == 2
    assert "'delete' is not one of 'keep', 'settle'" in result.output


def test_assumed_dates_kept_on_newer_export(app, tmp_path):
    load_march(tmp_path)

    run_import(export(tmp_path, MARCH_ROWS, "april.csv"), mapping=MAPPING, as_of=APRIL)

    # F3's paid part and F4's settlement have no date in either export, so they
    # keep the as-of date of the first export that showed them.
    assert payment("gestcom:C2:invoice:F3:paid").received_on == MARCH
    assert payment("gestcom:C2:invoice:F4#settlement").received_on == MARCH


# --- An export older than the last one loaded -------------------------------------------


def test_older_export_refused_unless_forced(app, tmp_path):
    load_march(tmp_path)
    # The April export settles what it no longer lists: F2, F5 and A2.
    newer = run_import(
        export(tmp_path, APRIL_ROWS, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        missing="settle",
    )
    after_april = snapshot()

    with pytest.raises(
        ImportRefused,
        match=f"L’import {newer.run_id} a déjà chargé gestcom à la date du 2024-04-30",
    ):
        run_import(
            export(tmp_path, MARCH_ROWS, "march-again.csv"),
            mapping=MAPPING,
            as_of=MARCH,
        )

    assert snapshot() == after_april
    forced = run_import(
        export(tmp_path, MARCH_ROWS, "march-again.csv"),
        mapping=MAPPING,
        as_of=MARCH,
        force=True,
    )
    # Forced, the March export reopens F2 and F5.
    assert forced.status == "loaded"
    assert (invoice("F2").status, invoice("F5").status) == ("open", "open")


def test_older_export_allowed_after_rolling_back_the_newer(app, tmp_path):
    load_march(tmp_path)
    # The April export settles what it no longer lists: F2, F5 and A2.
    newer = run_import(
        export(tmp_path, APRIL_ROWS, "april.csv"),
        mapping=MAPPING,
        as_of=APRIL,
        missing="settle",
    )
    rollback_run(db.session.get(ImportRun, newer.run_id))

    again = run_import(
        export(tmp_path, MARCH_ROWS, "march-again.csv"), mapping=MAPPING, as_of=MARCH
    )

    assert again.status == "unchanged"


def test_reconcile_refuses_a_run_that_loaded_nothing(runner, tmp_path):
    first = runner.invoke(
        args=[
            "legacy",
            "import",
            str(export(tmp_path, MARCH_ROWS)),
            "--mapping",
            str(mapping_file(tmp_path)),
            "--as-of",
            "2024-03-31",
            "--dry-run",
        ]
    )
    assert first.exit_code == 0, first.output
    dry_run = db.session.scalar(select(func.max(ImportRun.id)))

    result = runner.invoke(args=["legacy", "reconcile", str(dry_run), "--lang", "en"])

    assert result.exit_code == 2
    assert (
        f"Run {dry_run} has the status Dry run, nothing written: Cadence holds "
        "nothing of it to compare with its file." in result.output
    )
    assert db.session.get(ImportRun, dry_run).reconciliation is None


def test_rejects_file_written_without_rejections(runner, tmp_path):
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("line,field,value,reason\n3,Montant,x,from an earlier run\n")

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(export(tmp_path, MARCH_ROWS)),
            "--mapping",
            str(mapping_file(tmp_path)),
            "--as-of",
            "2024-03-31",
            "--rejects",
            str(rejects),
        ]
    )

    assert result.exit_code == 0, result.output
    assert rejects.read_text(encoding="utf-8-sig") == "line,field,value,reason\n"
