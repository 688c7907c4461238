"""The IBM sample import: known figures, rejections, idempotence, atomicity."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import Team
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from migration import load
from migration.importer import run_import
from migration.models import ImportRun
from tests.conftest import IBM_AS_OF, IBM_SAMPLE

EXPECTED_JUNE_30 = {
    "rows_read": 2466,
    "rows_skipped": 536,
    "rows_rejected": 0,
    "customers": 100,
    "invoices": 1930,
    "open_invoices": 84,
    "open_amount": "5119.85",
    "paid_invoices": 1846,
    "paid_amount": "110324.74",
    "ageing": {
        "not_due": {"count": 72, "amount": "4284.29"},
        "1-30": {"count": 12, "amount": "835.56"},
        "31-60": {"count": 0, "amount": "0.00"},
        "61-90": {"count": 0, "amount": "0.00"},
        "90+": {"count": 0, "amount": "0.00"},
    },
}


def _row_counts() -> dict[str, int]:
    models = {"customers": Customer, "invoices": Invoice, "payments": Payment}
    counts = {name: db.session.scalar(select(func.count()).select_from(model))
              for name, model in models.items()}
    counts["allocations"] = db.session.scalar(
        select(func.count()).select_from(Allocation)
    )
    counts["teams"] = db.session.scalar(select(func.count()).select_from(Team))
    return counts


def test_import_summary_matches_known_values(app):
    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)

    assert outcome.status == "loaded"
    for key, value in EXPECTED_JUNE_30.items():
        assert outcome.summary[key] == value, key
    # 5 teams + 100 customers + 1930 invoices + 1846 settlement payments.
    assert outcome.summary["created"] == 3881
    assert outcome.summary["updated"] == 0


def test_import_database_holds_known_values(app, ibm_loaded):
    open_query = select(func.count(), func.sum(Invoice.open_amount)).where(
        Invoice.status == "open"
    )
    open_count, open_amount = db.session.execute(open_query).one()
    paid_count, paid_amount = db.session.execute(
        select(func.count(), func.sum(Invoice.amount)).where(Invoice.status == "paid")
    ).one()
    disputed_count, disputed_amount = db.session.execute(
        open_query.where(Invoice.disputed.is_(True))
    ).one()

    assert open_count == 84
    assert Decimal(open_amount).quantize(Decimal("0.01")) == Decimal("5119.85")
    assert paid_count == 1846
    assert Decimal(paid_amount).quantize(Decimal("0.01")) == Decimal("110324.74")
    assert disputed_count == 27
    assert Decimal(disputed_amount).quantize(Decimal("0.01")) == Decimal("1806.84")
    assert _row_counts() == {
        "customers": 100,
        "invoices": 1930,
        "payments": 1846,
        "allocations": 1846,
        "teams": 5,
    }
    teams = set(db.session.scalars(select(Team.code)))
    assert teams == {f"country-{code}" for code in (391, 406, 770, 818, 897)}


def test_paid_invoice_has_settlement_payment(app, ibm_loaded):
    # Row "391,0379-NEVHP,...,611365,1/2/2013,2/1/2013,55.94,No,1/15/2013,...".
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "611365"))

    assert invoice.status == "paid"
    assert invoice.open_amount == Decimal("0.00")
    assert len(invoice.allocations) == 1
    allocation = invoice.allocations[0]
    assert allocation.amount == Decimal("55.94")
    assert allocation.payment.received_on == dt.date(2013, 1, 15)
    assert invoice.customer.legacy_id == "0379-NEVHP"
    assert invoice.legacy_source == "ibm-ar"


def test_largest_overdue_customer(app, ibm_loaded):
    overdue = (
        select(Customer.legacy_id, func.sum(Invoice.open_amount).label("overdue"))
        .join(Invoice)
        .where(Invoice.status == "open", Invoice.due_date < IBM_AS_OF)
        .group_by(Customer.legacy_id)
        .order_by(func.sum(Invoice.open_amount).desc())
    )
    first = db.session.execute(overdue).first()

    assert first.legacy_id == "0783-PEPYR"
    assert Decimal(first.overdue).quantize(Decimal("0.01")) == Decimal("104.52")


def test_second_run_changes_nothing(app, ibm_loaded):
    before = _row_counts()

    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)

    assert outcome.status == "unchanged"
    assert outcome.summary["created"] == 0
    assert outcome.summary["updated"] == 0
    assert _row_counts() == before
    runs = db.session.scalars(select(ImportRun.status).order_by(ImportRun.id)).all()
    assert runs == ["loaded", "unchanged"]


def test_later_as_of_updates_in_place(app, ibm_loaded):
    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=dt.date(2013, 7, 31))
    fresh = _row_counts()

    assert outcome.status == "loaded"
    # Invoices issued in July are created, invoices settled in July are updated.
    assert outcome.summary["invoices"] == fresh["invoices"]
    assert fresh["payments"] == outcome.summary["paid_invoices"]
    assert fresh["allocations"] == outcome.summary["paid_invoices"]
    open_count = db.session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.status == "open")
    )
    assert open_count == outcome.summary["open_invoices"]

    # Back to June, forced since the July run is newer: invoices issued by then are
    # as they were on 2013-06-30. Those issued in July are skipped by this run, so
    # they stay as the July run left them.
    back = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, force=True)
    assert back.status == "loaded"
    june = Invoice.issue_date <= IBM_AS_OF
    open_count, open_amount = db.session.execute(
        select(func.count(), func.sum(Invoice.open_amount)).where(
            june, Invoice.status == "open"
        )
    ).one()
    assert open_count == 84
    assert Decimal(open_amount).quantize(Decimal("0.01")) == Decimal("5119.85")
    june_payments = (
        select(func.count())
        .select_from(Payment)
        .join(Allocation)
        .join(Invoice)
        .where(june)
    )
    assert db.session.scalar(june_payments) == 1846


def test_dry_run_writes_nothing(app):
    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, dry_run=True)

    assert outcome.status == "dry_run"
    assert outcome.summary["created"] == 3881
    assert outcome.summary["open_amount"] == "5119.85"
    assert _row_counts() == {
        "customers": 0, "invoices": 0, "payments": 0, "allocations": 0, "teams": 0
    }
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.status == "dry_run"
    assert run.summary["created"] == 3881
    assert run.reconciliation is None


@pytest.fixture
def malformed_copy(tmp_path):
    """The sample with line 5's amount and line 9's due date broken."""
    lines = IBM_SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4].replace("105.92", "10S.92")
    fields = lines[8].split(",")
    fields[5] = "2/30/2013"
    lines[8] = ",".join(fields)
    path = tmp_path / "broken.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_malformed_rows_rejected_nothing_loaded(app, malformed_copy):
    outcome = run_import(malformed_copy, profile="ibm-ar", as_of=IBM_AS_OF)

    assert outcome.status == "rejected"
    assert [(r.line, r.field, r.value) for r in outcome.rejections] == [
        (5, "InvoiceAmount", "10S.92"),
        (9, "DueDate", "2/30/2013"),
    ]
    assert "expected a number" in outcome.rejections[0].reason
    assert "month/day/year" in outcome.rejections[1].reason
    assert outcome.summary["rows_rejected"] == 2
    assert _row_counts()["invoices"] == 0
    run = db.session.scalar(select(ImportRun))
    assert run.status == "rejected"


def test_failure_midway_leaves_database_unchanged(app, ibm_loaded, monkeypatch):
    before = _row_counts()
    invoices_before = {
        number: (status, amount)
        for number, status, amount in db.session.execute(
            select(Invoice.number, Invoice.status, Invoice.open_amount)
        )
    }

    def explode(*args, **kwargs):
        raise RuntimeError("injected failure after invoices were written")

    monkeypatch.setattr(load, "_load_settlements", explode)
    with pytest.raises(RuntimeError):
        run_import(IBM_SAMPLE, profile="ibm-ar", as_of=dt.date(2013, 9, 30))

    assert _row_counts() == before
    invoices_after = {
        number: (status, amount)
        for number, status, amount in db.session.execute(
            select(Invoice.number, Invoice.status, Invoice.open_amount)
        )
    }
    assert invoices_after == invoices_before
    statuses = db.session.scalars(select(ImportRun.status).order_by(ImportRun.id)).all()
    assert statuses == ["loaded", "failed"]


def test_cli_json_output(runner):
    result = runner.invoke(
        args=[
            "legacy", "import", str(IBM_SAMPLE),
            "--profile", "ibm-ar", "--as-of", "2013-06-30", "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    for key, value in EXPECTED_JUNE_30.items():
        assert payload[key] == value, key
    assert payload["created"] == 3881
    assert payload["updated"] == 0
    assert payload["dry_run"] is False


def test_cli_second_run_says_nothing_changed(runner, ibm_loaded):
    result = runner.invoke(
        args=["legacy", "import", str(IBM_SAMPLE), "--profile", "ibm-ar",
              "--as-of", "2013-06-30"]
    )

    assert result.exit_code == 0, result.output
    assert "Nothing to change" in result.output


def test_cli_rejections_exit_1_with_csv(runner, malformed_copy, tmp_path):
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(
        args=["legacy", "import", str(malformed_copy), "--profile", "ibm-ar",
              "--as-of", "2013-06-30", "--rejects", str(rejects)]
    )

    assert result.exit_code == 1
    assert 'line 5, column InvoiceAmount, value "10S.92"' in result.output
    assert "nothing was loaded" in result.output
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith(
        "5,InvoiceAmount,10S.92,"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [("2013-13-01", "not a date"), ("30/06/2013", "not a date")],
)
def test_cli_bad_as_of(runner, value, message):
    result = runner.invoke(
        args=["legacy", "import", str(IBM_SAMPLE), "--profile", "ibm-ar",
              "--as-of", value]
    )

    assert result.exit_code == 2
    assert message in result.output


def test_import_is_audited(app, ibm_loaded):
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "migration.import")
    )

    assert entry.after["status"] == "loaded"
    assert entry.after["as_of"] == "2013-06-30"


def test_header_only_file_is_refused(app, ibm_loaded, runner, tmp_path):
    header_only = tmp_path / "header-only.csv"
    header_only.write_text(
        IBM_SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[0],
        encoding="utf-8",
    )
    before = _row_counts()

    result = runner.invoke(
        args=["legacy", "import", str(header_only), "--profile", "ibm-ar",
              "--as-of", "2013-06-30"]
    )

    assert result.exit_code == 2
    assert "has a header but no data rows" in result.output
    assert _row_counts() == before


def test_partial_export_deletes_no_payment(app, ibm_loaded, tmp_path):
    lines = IBM_SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    partial = tmp_path / "first-1000-rows.csv"
    partial.write_text("".join(lines[:1001]), encoding="utf-8")

    outcome = run_import(partial, profile="ibm-ar", as_of=IBM_AS_OF)

    assert outcome.summary["deleted"] == 0
    assert _row_counts()["payments"] == 1846
    assert _row_counts()["allocations"] == 1846


def test_progress_counts_every_row(app):
    reported: list[int] = []

    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, on_rows=reported.append)

    assert sum(reported) == 2466
