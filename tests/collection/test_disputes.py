"""Disputes: opening flags the invoice, resolving clears it once none is open."""

import pytest
from sqlalchemy import func, select

from app.collection.models import Dispute, DisputeReason
from app.collection.services import (
    COLLECTOR_DISPUTE_REASONS,
    ActionError,
    dispute_owners,
    open_dispute,
    resolve_dispute,
)
from app.extensions import db
from app.ledger.models import InvoiceStatus
from tests.collection.ledger_factory import build_small_ledger, day


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _open(ledger, number="A-102", reason="pricing", owner=None, note=""):
    return open_dispute(
        ledger.collector,
        ledger.customer,
        invoice_id=ledger.invoices[number].id,
        reason=reason,
        owner_id=(owner or ledger.collector).id,
        note=note,
    )


def _disputed(ledger, number) -> bool:
    invoice = ledger.invoices[number]
    db.session.refresh(invoice)
    return invoice.disputed


def test_open_flags_invoice(ledger):
    dispute = _open(ledger, note="Unit price 12.00, not 12.50.")

    assert dispute.status == "open"
    assert dispute.owner_id == ledger.collector.id
    assert dispute.note == "Unit price 12.00, not 12.50."
    assert _disputed(ledger, "A-102") is True
    assert _disputed(ledger, "A-101") is False


def test_resolve_clears_flag(ledger):
    dispute = _open(ledger)

    resolve_dispute(ledger.manager, dispute, resolution="Credit note AV-3 issued.")

    assert dispute.status == "resolved"
    assert dispute.resolution == "Credit note AV-3 issued."
    assert dispute.resolved_at is not None
    assert _disputed(ledger, "A-102") is False


def test_flag_stays_while_another_open(ledger):
    first = _open(ledger, reason="pricing")
    second = _open(ledger, reason="quantity", owner=ledger.manager)

    resolve_dispute(ledger.manager, first, resolution="Price confirmed.")
    assert _disputed(ledger, "A-102") is True

    resolve_dispute(ledger.manager, second, resolution="Quantity confirmed.")
    assert _disputed(ledger, "A-102") is False


def test_resolve_twice_rejected(ledger):
    dispute = _open(ledger)
    resolve_dispute(ledger.manager, dispute, resolution="Done.")

    with pytest.raises(ActionError):
        resolve_dispute(ledger.manager, dispute, resolution="Again.")


@pytest.mark.parametrize("resolution", ["", "   ", "x" * 2001])
def test_resolution_text_required_and_bounded(ledger, resolution):
    dispute = _open(ledger)

    with pytest.raises(ActionError) as raised:
        resolve_dispute(ledger.manager, dispute, resolution=resolution)

    assert raised.value.field == "resolution"
    assert dispute.status == "open"


@pytest.mark.parametrize(
    "reason", [reason.value for reason in COLLECTOR_DISPUTE_REASONS]
)
def test_every_reason_accepted(ledger, reason):
    assert _open(ledger, reason=reason).reason == reason


def test_owner_choices(ledger):
    names = [user.name for user in dispute_owners(ledger.customer)]

    # Admins, managers and team-a's collector, by name. The trainee is left out.
    assert names == ["Admin", "Collector", "Manager"]


def test_inactive_owner_left_out(ledger):
    ledger.admin.active = False
    db.session.commit()

    assert ledger.admin not in dispute_owners(ledger.customer)


REJECTED = [
    # (case, invoice, reason, owner key, field)
    ("unknown reason", "A-102", "too_expensive", "collector", "reason"),
    (
        "reason of legacy imports",
        "A-102",
        DisputeReason.LEGACY_IMPORT,
        "collector",
        "reason",
    ),
    ("owner of other team", "A-102", "pricing", "other_collector", "owner_id"),
    ("trainee owner", "A-102", "pricing", "trainee", "owner_id"),
    ("invoice of other customer", "B-201", "pricing", "collector", "invoice_id"),
]


@pytest.mark.parametrize(
    ("number", "reason", "owner", "field"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_dispute_rejected(ledger, number, reason, owner, field):
    with pytest.raises(ActionError) as raised:
        _open(ledger, number, reason, getattr(ledger, owner))

    assert raised.value.field == field
    assert db.session.scalar(select(func.count(Dispute.id))) == 0
    assert _disputed(ledger, number) is False


def test_paid_invoice_cannot_be_disputed(ledger):
    invoice = ledger.invoices["A-101"]
    invoice.status = InvoiceStatus.PAID
    invoice.open_amount = 0
    db.session.commit()

    with pytest.raises(ActionError) as raised:
        _open(ledger, "A-101")

    assert raised.value.field == "invoice_id"


def test_opened_on_business_date(ledger):
    from app.timeutil import business_date_of

    dispute = _open(ledger)
    db.session.expire_all()

    assert business_date_of(db.session.get(Dispute, dispute.id).opened_at) == day(
        "06-30"
    )
