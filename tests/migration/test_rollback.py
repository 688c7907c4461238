"""Rolling a run back restores the database exactly, or is refused with a reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import Team, User
from app.collection.models import Activity, Dispute, Promise
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from migration.importer import run_import
from migration.models import ImportRun, LegacyCutover
from migration.rollback import RollbackRefused, rollback_run
from tests.conftest import IBM_AS_OF, IBM_SAMPLE
from tests.migration.legacy_files import (
    AS_OF,
    FRENCH_CSV,
    FRENCH_MAPPING,
    fec_file,
    snapshot,
    write_csv,
    write_fec,
)
from tests.migration.test_runs import newer_ledger

LEDGER_TABLES = ("teams", "customers", "invoices", "payments", "allocations")


def run_of(outcome) -> ImportRun:
    return db.session.get(ImportRun, outcome.run_id)


def test_rollback_of_first_run_empties_ledger(app, tmp_path):
    before = snapshot(tables=LEDGER_TABLES)
    outcome = run_import(
        write_csv(tmp_path / "export.csv", FRENCH_CSV),
        mapping=FRENCH_MAPPING,
        as_of=AS_OF,
    )

    result = rollback_run(run_of(outcome))

    assert snapshot(tables=LEDGER_TABLES) == before
    # 2 teams, 3 customers, 5 invoices, 4 payments, 3 allocations (two settlements
    # and the paid part of F003), and the dispute opened for the disputed F002.
    assert result.deleted == 18
    assert result.restored == 0
    assert result.recreated == 0
    run = run_of(outcome)
    assert run.status == "rolled_back"
    assert run.rolled_back_by == "cli"


def test_rollback_of_update_restores_previous_state(app, tmp_path):
    run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    after_first = snapshot(tables=LEDGER_TABLES)
    newer = run_import(
        write_fec(tmp_path / "newer.txt", newer_ledger()), profile="fec", as_of=AS_OF
    )
    assert newer.summary["deleted"] == 1

    result = rollback_run(run_of(newer))

    assert snapshot(tables=LEDGER_TABLES) == after_first
    assert result.restored == 1  # FA-002 open again
    assert result.recreated == 1  # VIR-77 back as an open credit
    # FA-004, the settlement payment of FA-002 and its allocation.
    assert result.deleted == 3


def test_rollback_of_later_as_of_on_ibm(app):
    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)
    after_first = snapshot(tables=LEDGER_TABLES)
    later = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=dt.date(2013, 7, 31))

    rollback_run(run_of(later))

    assert snapshot(tables=LEDGER_TABLES) == after_first
    open_amount = sum(
        db.session.scalars(select(Invoice.open_amount).where(Invoice.status == "open"))
    )
    assert open_amount == Decimal("5119.85")


def test_rollback_refused_when_later_run_changed_rows(app, tmp_path):
    first = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    second = run_import(
        write_fec(tmp_path / "newer.txt", newer_ledger()), profile="fec", as_of=AS_OF
    )
    before = snapshot(tables=LEDGER_TABLES)

    with pytest.raises(RollbackRefused) as refused, force_locale("en"):
        rollback_run(run_of(first))

    assert (
        f"run {second.run_id} changed 2 records that run {first.run_id} wrote: "
        f"roll it back first with cadence legacy rollback {second.run_id}."
    ) in str(refused.value)
    assert "Roll back the later runs first" in str(refused.value)
    assert snapshot(tables=LEDGER_TABLES) == before
    rollback_run(run_of(second))
    rollback_run(run_of(first))
    assert snapshot(tables=("customers", "invoices", "payments")) == {
        "customers": [],
        "invoices": [],
        "payments": [],
    }


def test_unrelated_later_run_does_not_block(app, tmp_path):
    first = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    run_import(
        write_csv(tmp_path / "export.csv", FRENCH_CSV),
        mapping=FRENCH_MAPPING,
        as_of=AS_OF,
    )

    rollback_run(run_of(first))

    sources = set(db.session.scalars(select(Customer.legacy_source)))
    assert sources == {"mapped"}


def add_activity(customer: Customer) -> None:
    db.session.add(Activity(customer_id=customer.id, kind="call", summary="Called"))


def add_payment(customer: Customer) -> None:
    db.session.add(
        Payment(customer_id=customer.id, received_on=AS_OF, amount=Decimal("10.00"))
    )


def add_promise(customer: Customer) -> None:
    db.session.add(
        Promise(customer_id=customer.id, amount=Decimal("10.00"), promised_date=AS_OF)
    )


def add_dispute(customer: Customer) -> None:
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.customer_id == customer.id)
    )
    db.session.add(
        Dispute(invoice_id=invoice.id, customer_id=customer.id, reason="price")
    )


def add_allocation(customer: Customer) -> None:
    invoice = db.session.scalar(
        select(Invoice).where(
            Invoice.customer_id == customer.id, Invoice.status == "open"
        )
    )
    payment = Payment(
        customer_id=customer.id, received_on=AS_OF, amount=Decimal("5.00")
    )
    db.session.add(payment)
    db.session.flush()
    db.session.add(
        Allocation(payment_id=payment.id, invoice_id=invoice.id, amount=Decimal("5.00"))
    )


def add_user_in_team(customer: Customer) -> None:
    team = db.session.scalar(select(Team).where(Team.code == "Nord"))
    db.session.add(
        User(
            email="new@test.example",
            name="New",
            role="collector",
            team_id=team.id,
            password_hash="x",
        )
    )


# Each message names the work by its id, the latest of its table, or the user by
# email.
WORK = {
    "activity": (
        add_activity,
        "1 activity (id {activity}) was logged for a customer that this run created.",
    ),
    "payment": (
        add_payment,
        "1 payment (id {payment}), recorded in Cadence or by another run, belongs "
        "to a customer that this run created.",
    ),
    "promise": (
        add_promise,
        "1 promise to pay (id {promise}) was recorded for a customer that this run "
        "created.",
    ),
    "dispute": (
        add_dispute,
        "1 dispute (id {dispute}) concerns a customer or invoice that this run "
        "created.",
    ),
    "allocation": (
        add_allocation,
        "1 allocation (id {allocation}) settles an invoice that this run created.",
    ),
    "user": (
        add_user_in_team,
        "1 user (new@test.example) belongs to a team that this run created.",
    ),
}


def latest_id(model) -> int | None:
    return db.session.scalar(select(model.id).order_by(model.id.desc()))


@pytest.mark.parametrize("work", sorted(WORK))
def test_rollback_refused_by_collection_work(app, tmp_path, work):
    add, message = WORK[work]
    outcome = run_import(
        write_csv(tmp_path / "export.csv", FRENCH_CSV),
        mapping=FRENCH_MAPPING,
        as_of=AS_OF,
    )
    customer = db.session.scalar(select(Customer).where(Customer.legacy_id == "C001"))
    add(customer)
    db.session.commit()
    before = snapshot(tables=LEDGER_TABLES)

    with pytest.raises(RollbackRefused) as refused, force_locale("en"):
        rollback_run(run_of(outcome))

    expected = message.format(
        activity=latest_id(Activity),
        allocation=latest_id(Allocation),
        dispute=latest_id(Dispute),
        payment=latest_id(Payment),
        promise=latest_id(Promise),
    )
    assert f"- {expected}" in str(refused.value).splitlines()
    assert snapshot(tables=LEDGER_TABLES) == before
    assert run_of(outcome).status == "loaded"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("rejected", "has the status “Rejected, nothing loaded”, so it changed"),
        ("unchanged", "has the status “Unchanged”, so it changed nothing"),
        ("dry_run", "has the status “Dry run, nothing written”, so it changed"),
    ],
)
def test_rollback_refused_for_runs_without_changes(app, status, message):
    run = ImportRun(
        source="fec",
        profile="fec",
        file_name="x.txt",
        sha256="0" * 64,
        as_of=AS_OF,
        status=status,
    )
    db.session.add(run)
    db.session.commit()

    with pytest.raises(RollbackRefused, match=message), force_locale("en"):
        rollback_run(run)


def test_rollback_twice_refused(app, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    rollback_run(run_of(outcome))

    with (
        pytest.raises(RollbackRefused, match="was already rolled back"),
        force_locale("en"),
    ):
        rollback_run(run_of(outcome))


def test_rollback_is_audited(app, tmp_path, users):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)

    rollback_run(run_of(outcome), user=users["admin"])

    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "migration.rollback")
    )
    assert entry.actor_label == "admin@test.example"
    assert entry.target == f"import run {outcome.run_id}"
    assert entry.before == {"status": "loaded", "cutover": None}
    assert entry.after["status"] == "rolled_back"
    assert (
        entry.after["deleted"] == 17
    )  # 5 customers, 8 invoices, 3 payments, 1 allocation


def test_rollback_of_cutover_reopens_source(app, tmp_path):
    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, cutover=True
    )
    assert db.session.scalar(select(LegacyCutover.source)) == "fec"

    rollback_run(run_of(outcome))

    assert db.session.scalar(select(LegacyCutover)) is None
    again = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    assert again.status == "loaded"


def test_cli_rollback(runner, tmp_path):
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
    run_id = db.session.scalar(select(ImportRun.id))

    done = runner.invoke(args=["legacy", "rollback", str(run_id)])
    twice = runner.invoke(args=["legacy", "rollback", str(run_id)])
    missing = runner.invoke(args=["legacy", "rollback", "999"])

    assert done.exit_code == 0, done.output
    assert f"Run {run_id} rolled back." in done.output
    assert "  Records it created, deleted" in done.output
    assert done.output.splitlines()[1].split()[-1] == "17"
    assert twice.exit_code == 1
    assert "was already rolled back" in twice.output
    assert missing.exit_code == 2
    assert "no import run 999" in missing.output
