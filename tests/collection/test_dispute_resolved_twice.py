"""Resolving a dispute that is already resolved records nothing and names who did.

The small ledger on 2013-06-30: customer A-1 of team-a, with open invoice A-102.
"""

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.collection.models import Dispute, DisputeStatus
from app.collection.services import (
    ActionError,
    DisputeAlreadyResolved,
    dispute_resolver,
    open_dispute,
    resolve_dispute,
)
from app.extensions import db
from app.timeutil import business_date_of, start_of_business_day
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day
from tests.conftest import PASSWORD

english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


@pytest.fixture
def dispute(ledger):
    return open_dispute(
        ledger.collector,
        ledger.customer,
        invoice_id=ledger.invoices["A-102"].id,
        reason="pricing",
        owner_id=ledger.collector.id,
    )


def _audit_count() -> int:
    return db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action == "dispute.resolve")
    )


def test_resolution_is_audited(ledger, dispute):
    resolve_dispute(ledger.manager, dispute, resolution="Price confirmed.")

    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "dispute.resolve")
    )
    assert entry.actor_id == ledger.manager.id
    assert entry.target == f"dispute {dispute.id}"
    assert entry.before == {"status": "open"}
    assert entry.after == {
        "status": "resolved",
        "invoice": "A-102",
        "invoice_disputed": False,
    }
    assert dispute_resolver(dispute) == "Manager"


def test_second_resolution_names_first(ledger, dispute, english):
    resolve_dispute(ledger.manager, dispute, resolution="Price confirmed.")

    with pytest.raises(DisputeAlreadyResolved) as raised:
        resolve_dispute(ledger.collector, dispute, resolution="Again.")

    assert isinstance(raised.value, ActionError)
    assert str(raised.value.message) == (
        "This dispute was already resolved on 6/30/2013 by Manager. Nothing was "
        "recorded."
    )
    db.session.refresh(dispute)
    assert dispute.resolution == "Price confirmed."
    assert _audit_count() == 1


def test_second_resolution_checked_before_text(ledger, dispute):
    resolve_dispute(ledger.manager, dispute, resolution="Price confirmed.")

    with pytest.raises(DisputeAlreadyResolved):
        resolve_dispute(ledger.collector, dispute, resolution="")


def test_resolution_without_audit_entry(ledger, dispute, english):
    # A dispute resolved before resolutions were audited.
    resolve_dispute(ledger.manager, dispute, resolution="Price confirmed.")
    db.session.execute(
        AuditEntry.__table__.delete().where(AuditEntry.action == "dispute.resolve")
    )
    db.session.commit()

    with pytest.raises(DisputeAlreadyResolved) as raised:
        resolve_dispute(ledger.collector, dispute, resolution="Again.")

    assert str(raised.value.message) == (
        "This dispute was already resolved on 6/30/2013. Nothing was recorded."
    )


def test_concurrent_resolution_loses(app, ledger, dispute, english):
    # Another request resolves the dispute after this one read it as open.
    assert dispute.status == DisputeStatus.OPEN
    with db.engine.begin() as connection:
        connection.execute(
            update(Dispute)
            .where(Dispute.id == dispute.id)
            .values(
                status=DisputeStatus.RESOLVED,
                resolved_at=start_of_business_day(day("06-30")),
                resolution="Settled by phone.",
            )
        )

    with pytest.raises(DisputeAlreadyResolved) as raised:
        resolve_dispute(ledger.collector, dispute, resolution="Too late.")

    assert str(raised.value.message) == (
        "This dispute was already resolved on 6/30/2013. Nothing was recorded."
    )
    db.session.expire_all()
    stored = db.session.get(Dispute, dispute.id)
    assert stored.resolution == "Settled by phone."
    assert business_date_of(stored.resolved_at) == day("06-30")
    assert _audit_count() == 0


# --- Through the customer page ------------------------------------------------------


def _resolve_url(ledger, dispute) -> str:
    return f"/customers/{ledger.customer.id}/disputes/{dispute.id}/resolve"


def _login(client, email="collector-a@small.example", language="en"):
    client.post("/login", data={"email": email, "password": PASSWORD})
    client.post(f"/language/{language}")


@pytest.mark.parametrize("resolution", ["Price confirmed again.", ""])
def test_resend_goes_back_with_message(client, ledger, dispute, resolution):
    _login(client)
    first = client.post(
        _resolve_url(ledger, dispute),
        data={f"resolve-{dispute.id}-resolution": "Price confirmed."},
    )

    again = client.post(
        _resolve_url(ledger, dispute),
        data={f"resolve-{dispute.id}-resolution": resolution},
    )

    assert first.status_code == 302
    assert again.status_code == 302
    assert again.headers["Location"] == f"/customers/{ledger.customer.id}#disputes"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert (
        "This dispute was already resolved on 6/30/2013 by Collector. Nothing was "
        "recorded."
    ) in page
    db.session.expire_all()
    assert db.session.get(Dispute, dispute.id).resolution == "Price confirmed."
    assert _audit_count() == 1


def test_resend_of_other_customer_is_404(client, ledger, dispute):
    _login(client)
    client.post(
        _resolve_url(ledger, dispute),
        data={f"resolve-{dispute.id}-resolution": "Price confirmed."},
    )

    response = client.post(
        f"/customers/{ledger.other_customer.id}/disputes/{dispute.id}/resolve",
        data={f"resolve-{dispute.id}-resolution": "Again."},
    )

    # The collector of team-a may not see customer B-1 of team-b at all.
    assert response.status_code == 404
    assert _audit_count() == 1
