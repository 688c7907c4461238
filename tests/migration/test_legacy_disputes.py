"""Invoices that a legacy export flags as disputed get a dispute record to resolve.

The French CSV export as of 2024-03-31 flags F002 (customer C001, team Nord, 2,000.00
open) as disputed. The tests run on the business date 2013-06-30 unless they move
it, so a resolution made in Cadence is older than the export unless stated.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.auth.services import create_user
from app.collection.legacy_disputes import (
    LEGACY_EXPORT_RESOLUTION,
    resolution_text,
)
from app.collection.models import Dispute, DisputeReason, DisputeStatus
from app.collection.services import (
    DisputeAlreadyResolved,
    dispute_resolver,
    resolve_dispute,
)
from app.extensions import db
from app.ledger.models import Customer, Invoice
from app.timeutil import business_date_of
from migration.importer import run_import
from migration.models import ImportRun, RunChange
from migration.rollback import RollbackRefused, rollback_run
from tests.collection import ledger_factory
from tests.conftest import IBM_AS_OF, IBM_SAMPLE, PASSWORD
from tests.migration.legacy_files import AS_OF, FRENCH_CSV, FRENCH_MAPPING, write_csv

F002_FLAGGED = "F002;FA;20/02/2024;21/03/2024;2 000,00;2 000,00;;oui;Nord;FR"
F002_CLEARED = "F002;FA;20/02/2024;21/03/2024;2 000,00;2 000,00;;;Nord;FR"
F003_PLAIN = "F003;FA;01/03/2024;31/03/2024;1 000,00;400,00;;;Sud;BE"
F003_FLAGGED = "F003;FA;01/03/2024;31/03/2024;1 000,00;400,00;;oui;Sud;BE"
# F006 is paid on 05/04/2024, so an export as of LATER shows nothing open on it.
F006_OPEN = "F006;FA;25/03/2024;24/04/2024;99,99;99,99;05/04/2024"
F006_PAID = "F006;FA;25/03/2024;24/04/2024;99,99;0,00;05/04/2024"
LATER = dt.date(2024, 4, 30)

english = ledger_factory.english


def _export(tmp_path, name: str, *, f002: bool = True, f003: bool = False, later=False):
    """Write the French export, as of LATER when ``later`` is set."""
    text = FRENCH_CSV
    assert F002_FLAGGED in text
    assert F003_PLAIN in text
    assert F006_OPEN in text
    if not f002:
        text = text.replace(F002_FLAGGED, F002_CLEARED)
    if f003:
        text = text.replace(F003_PLAIN, F003_FLAGGED)
    if later:
        text = text.replace(F006_OPEN, F006_PAID)
    return write_csv(tmp_path / name, text)


def _import(path, as_of: dt.date = AS_OF, **options):
    return run_import(path, mapping=FRENCH_MAPPING, as_of=as_of, **options)


def _import_later(tmp_path, name: str, **flags):
    return _import(_export(tmp_path, name, later=True, **flags), as_of=LATER)


def _disputes() -> list[Dispute]:
    return list(db.session.scalars(select(Dispute).order_by(Dispute.id)))


def _invoice(number: str) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def _run(outcome) -> ImportRun:
    return db.session.get(ImportRun, outcome.run_id)


def _manager():
    return create_user(
        email="manager@legacy.example",
        name="Manager",
        role="manager",
        password=PASSWORD,
    )


# --- Opening ----------------------------------------------------------------------


def test_import_opens_dispute_for_flagged_invoice(app, tmp_path):
    outcome = _import(_export(tmp_path, "export.csv"))

    [dispute] = _disputes()
    assert dispute.invoice.number == "F002"
    assert dispute.customer.legacy_id == "C001"
    assert dispute.reason == DisputeReason.LEGACY_IMPORT
    assert dispute.owner_id is None
    assert dispute.status == DisputeStatus.OPEN
    assert business_date_of(dispute.opened_at) == AS_OF
    assert dispute.resolution == ""
    assert dispute.invoice.disputed is True
    assert outcome.summary["legacy_disputes"] == {
        "opened": 1,
        "resolved": 0,
        "flags_cleared": 0,
    }
    change = db.session.scalar(
        select(RunChange).where(RunChange.table_name == "disputes")
    )
    assert (change.run_id, change.row_id, change.action) == (
        outcome.run_id,
        dispute.id,
        "created",
    )


def test_reimport_opens_no_second_dispute(app, tmp_path):
    path = _export(tmp_path, "export.csv")
    _import(path)

    again = _import(path)

    assert again.status == "unchanged"
    assert again.summary["legacy_disputes"]["opened"] == 0
    assert len(_disputes()) == 1


def test_owner_is_customer_collector(app, tmp_path):
    _import(_export(tmp_path, "first.csv", f002=False))
    assert _disputes() == []
    collector = create_user(
        email="nord@legacy.example",
        name="Nord Collector",
        role="collector",
        password=PASSWORD,
        team_code="Nord",
    )
    customer = db.session.scalar(select(Customer).where(Customer.legacy_id == "C001"))
    customer.collector_id = collector.id
    db.session.commit()

    outcome = _import_later(tmp_path, "second.csv")

    [dispute] = _disputes()
    assert dispute.owner_id == collector.id
    assert business_date_of(dispute.opened_at) == LATER
    assert outcome.summary["legacy_disputes"]["opened"] == 1


def test_paid_flagged_invoice_gets_no_dispute(app, tmp_path):
    # F001 is settled on 10/02/2024. Flag it as disputed too.
    text = FRENCH_CSV.replace("10/02/2024;;Nord", "10/02/2024;oui;Nord")
    assert text != FRENCH_CSV
    _import(write_csv(tmp_path / "export.csv", text))

    assert _invoice("F001").disputed is True
    assert [dispute.invoice.number for dispute in _disputes()] == ["F002"]


def test_dry_run_opens_nothing(app, tmp_path):
    outcome = _import(_export(tmp_path, "export.csv"), dry_run=True)

    assert outcome.status == "dry_run"
    assert "legacy_disputes" not in outcome.summary
    assert _disputes() == []


def test_failed_sync_loads_nothing(app, tmp_path, monkeypatch):
    def fail(run):
        raise RuntimeError("injected failure")

    monkeypatch.setattr("migration.importer.sync_legacy_disputes", fail)

    with pytest.raises(RuntimeError, match="injected failure"):
        _import(_export(tmp_path, "export.csv"))

    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    assert _disputes() == []
    assert db.session.scalar(select(ImportRun.status)) == "failed"


def test_ibm_import_opens_one_per_open_flagged_invoice(app):
    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)

    disputes = _disputes()
    flagged_open = db.session.scalar(
        select(func.count(Invoice.id)).where(
            Invoice.disputed.is_(True), Invoice.status == "open"
        )
    )
    # 27 of the 84 invoices open on 2013-06-30 are flagged "Yes" in the file.
    assert len(disputes) == 27
    assert flagged_open == 27
    assert {dispute.reason for dispute in disputes} == {"legacy_import"}
    assert {dispute.status for dispute in disputes} == {"open"}
    assert {business_date_of(dispute.opened_at) for dispute in disputes} == {IBM_AS_OF}


# --- Resolving --------------------------------------------------------------------


def test_resolving_clears_flag(app, tmp_path):
    _import(_export(tmp_path, "export.csv"))
    [dispute] = _disputes()

    resolve_dispute(_manager(), dispute, resolution="Credit note agreed.")

    assert dispute.status == DisputeStatus.RESOLVED
    assert _invoice("F002").disputed is False


def test_newer_export_reopens_after_resolution(app, tmp_path):
    path = _export(tmp_path, "export.csv")
    _import(path)
    [first] = _disputes()
    # Resolved on 2013-06-30, before the export's date.
    resolve_dispute(_manager(), first, resolution="Credit note agreed.")

    outcome = _import(path)

    assert outcome.summary["legacy_disputes"]["opened"] == 1
    assert [dispute.status for dispute in _disputes()] == ["resolved", "open"]
    assert _invoice("F002").disputed is True


def test_older_export_keeps_cadence_resolution(app, tmp_path, monkeypatch):
    path = _export(tmp_path, "export.csv")
    _import(path)
    [dispute] = _disputes()
    monkeypatch.setitem(app.config, "BUSINESS_DATE", "2024-04-05")
    resolve_dispute(_manager(), dispute, resolution="Credit note agreed.")

    outcome = _import(path)

    # The load turned the flag on again from the 2024-03-31 export, and the sync
    # turned it off, because the resolution of 2024-04-05 is newer.
    assert outcome.summary["updated"] == 1
    assert outcome.summary["legacy_disputes"] == {
        "opened": 0,
        "resolved": 0,
        "flags_cleared": 1,
    }
    assert _disputes() == [dispute]
    assert _invoice("F002").disputed is False

    rollback_run(_run(outcome))

    assert _invoice("F002").disputed is False
    assert [d.status for d in _disputes()] == ["resolved"]


def test_export_clearing_flag_resolves_dispute(app, tmp_path, english):
    _import(_export(tmp_path, "first.csv"))

    outcome = _import_later(tmp_path, "newer.csv", f002=False)

    [dispute] = _disputes()
    assert outcome.summary["legacy_disputes"] == {
        "opened": 0,
        "resolved": 1,
        "flags_cleared": 0,
    }
    assert dispute.status == DisputeStatus.RESOLVED
    assert dispute.resolution == LEGACY_EXPORT_RESOLUTION
    assert business_date_of(dispute.resolved_at) == LATER
    assert str(resolution_text(dispute)) == "Closed by the legacy export."
    assert str(dispute_resolver(dispute)) == "the legacy export"
    with pytest.raises(DisputeAlreadyResolved) as raised:
        resolve_dispute(_manager(), dispute, resolution="Agreed.")
    assert str(raised.value.message) == (
        "This dispute was already resolved on 4/30/2024 by the legacy export. "
        "Nothing was recorded."
    )


def test_export_showing_paid_resolves_dispute(app, tmp_path):
    _import(_export(tmp_path, "first.csv"))
    paid = "F002;FA;20/02/2024;21/03/2024;2 000,00;0,00;15/04/2024;oui;Nord;FR"
    text = FRENCH_CSV.replace(F002_FLAGGED, paid).replace(F006_OPEN, F006_PAID)

    outcome = _import(write_csv(tmp_path / "newer.csv", text), as_of=LATER)

    [dispute] = _disputes()
    assert outcome.summary["legacy_disputes"]["resolved"] == 1
    assert _invoice("F002").status == "paid"
    assert _invoice("F002").disputed is True
    assert dispute.status == DisputeStatus.RESOLVED
    assert dispute.resolution == LEGACY_EXPORT_RESOLUTION


def test_export_setting_flag_opens_dispute(app, tmp_path):
    _import(_export(tmp_path, "first.csv"))

    outcome = _import_later(tmp_path, "newer.csv", f003=True)

    assert outcome.summary["legacy_disputes"]["opened"] == 1
    assert [d.invoice.number for d in _disputes()] == ["F002", "F003"]
    assert [business_date_of(d.opened_at) for d in _disputes()] == [AS_OF, LATER]


def test_collector_dispute_kept_when_export_clears_flag(app, tmp_path):
    _import(_export(tmp_path, "first.csv"))
    [legacy] = _disputes()
    invoice = _invoice("F002")
    cadence = Dispute(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        reason=DisputeReason.PRICING,
        status=DisputeStatus.OPEN,
    )
    db.session.add(cadence)
    db.session.commit()

    _import_later(tmp_path, "newer.csv", f002=False)

    db.session.expire_all()
    assert legacy.status == DisputeStatus.RESOLVED
    # Only a legacy export's own disputes are closed by a legacy export.
    assert cadence.status == DisputeStatus.OPEN


# --- Rollback ---------------------------------------------------------------------


def test_rollback_deletes_opened_dispute(app, tmp_path):
    outcome = _import(_export(tmp_path, "export.csv"))

    rollback_run(_run(outcome))

    assert _disputes() == []
    assert db.session.scalar(select(func.count(Invoice.id))) == 0


def test_rollback_reopens_dispute_closed_by_export(app, tmp_path):
    _import(_export(tmp_path, "first.csv"))
    newer = _import_later(tmp_path, "newer.csv", f002=False)

    result = rollback_run(_run(newer))

    db.session.expire_all()
    [dispute] = _disputes()
    assert dispute.status == DisputeStatus.OPEN
    assert dispute.resolved_at is None
    assert dispute.resolution == ""
    assert _invoice("F002").disputed is True
    # F002's flag, F006 open again, and the dispute.
    assert result.restored == 3


def test_rollback_refused_after_resolution_in_cadence(app, tmp_path, english):
    outcome = _import(_export(tmp_path, "export.csv"))
    [dispute] = _disputes()
    resolve_dispute(_manager(), dispute, resolution="Credit note agreed.")

    with pytest.raises(RollbackRefused) as refused, force_locale("en"):
        rollback_run(_run(outcome))

    assert (
        f"- 1 dispute (id {dispute.id}) that this run opened from the legacy "
        "disputed flag was resolved since."
    ) in str(refused.value).splitlines()
    assert len(_disputes()) == 1


def test_rollback_refused_after_later_export_closed_dispute(app, tmp_path):
    first = _import(_export(tmp_path, "first.csv"))
    _import_later(tmp_path, "newer.csv", f002=False)

    with pytest.raises(RollbackRefused):
        rollback_run(_run(first))

    assert len(_disputes()) == 1
