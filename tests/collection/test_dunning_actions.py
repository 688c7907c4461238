"""Approving, cancelling and carrying out dunning actions."""

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.collection.dunning import (
    _action_facts,
    approve_action,
    cancel_action,
    execute_action,
    run_dunning,
)
from app.collection.dunning_policies import (
    DunningError,
    DunningPermissionError,
    ensure_default_policy,
)
from app.collection.models import (
    Activity,
    DunningAction,
    DunningActionStatus,
    Letter,
)
from app.extensions import db
from app.timeutil import business_date_of
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    add_promise,
    add_team,
    add_user,
    days_ago,
    pdf_text,
)
from tests.collection.dunning_steps import actions_at, add_done_action, run_on


@pytest.fixture(autouse=True)
def request_context(app):
    """Service errors carry translatable messages, which need a request's locale."""
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def people(app):
    add_team("team-a")
    db.session.commit()
    return {
        "manager": add_user("manager@test.example", "manager"),
        "admin": add_user("admin@test.example", "admin"),
        "collector": add_user("collector@test.example", "collector", "team-a"),
    }


def _action_for(days_late: int, amount: str = "150.00") -> DunningAction:
    """Return the action a run creates today for an invoice ``days_late`` days
    late that went through every earlier level, 20 days apart."""
    customer = add_customer(
        "C-1", add_team("team-a"), address="1 rue Haute\n75001 Paris"
    )
    invoice = add_invoice(customer, "F-1", days_ago(days_late), amount)
    policy = ensure_default_policy()
    reached = [
        level for level in policy.levels if 0 <= level.days_from_due <= days_late
    ]
    for steps_back, level in enumerate(reversed(reached[:-1]), start=1):
        add_done_action(customer, level.name, [invoice], days_ago(20 * steps_back))
    db.session.commit()
    [planned] = run_dunning(TODAY).actions
    return db.session.get(DunningAction, planned.action_id)


def _audit(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(select(AuditEntry).where(AuditEntry.action == action))
    )


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_manager_approves_formal_notice(people, role):
    action = _action_for(50)

    approve_action(action, people[role])

    assert action.status == DunningActionStatus.READY
    assert action.approved_by_id == people[role].id
    assert action.approved_at is not None
    [entry] = _audit("dunning.approve")
    assert entry.actor_id == people[role].id
    assert entry.target == f"dunning_action:{action.id}"
    assert entry.before == {"status": "pending_approval"}
    assert entry.after["status"] == "ready"
    assert entry.after["invoices"] == ["F-1"]
    assert entry.after["earlier_reminders"] == [
        {"level_name": "Première relance", "sent_on": "2013-05-01", "letter_id": None},
        {"level_name": "Seconde relance", "sent_on": "2013-05-21", "letter_id": None},
        {"level_name": "Appel de relance", "sent_on": "2013-06-10", "letter_id": None},
    ]


def test_collector_cannot_approve(people):
    action = _action_for(50)

    with pytest.raises(DunningPermissionError):
        approve_action(action, people["collector"])

    assert action.status == DunningActionStatus.PENDING_APPROVAL
    assert _audit("dunning.approve") == []


def test_only_pending_action_can_be_approved(people):
    action = _action_for(12)

    with pytest.raises(DunningError, match="not waiting for approval"):
        approve_action(action, people["manager"])


def test_cancel_is_audited(people):
    action = _action_for(50)

    cancel_action(action, people["manager"])

    assert action.status == DunningActionStatus.CANCELLED
    [entry] = _audit("dunning.cancel")
    assert entry.before == {"status": "pending_approval"}
    assert entry.after["status"] == "cancelled"


def test_collector_cannot_cancel(people):
    action = _action_for(12)

    with pytest.raises(DunningPermissionError):
        cancel_action(action, people["collector"])


def test_pending_formal_notice_cannot_be_executed(people):
    action = _action_for(50)

    with pytest.raises(DunningError, match="approve"):
        execute_action(action, people["manager"], "fr", TODAY)

    assert action.status == DunningActionStatus.PENDING_APPROVAL


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_closed_action_cannot_be_executed(people, status):
    action = _action_for(12)
    action.status = status
    db.session.commit()

    with pytest.raises(DunningError, match="already done or cancelled"):
        execute_action(action, people["collector"], "fr", TODAY)


def test_letter_action_sends_stored_pdf(people):
    action = _action_for(12)
    collector = people["collector"]

    letter = execute_action(action, collector, "fr", TODAY)

    assert action.status == DunningActionStatus.DONE
    assert action.done_at is not None
    assert letter.action_id == action.id
    assert letter.template_key == "first_reminder"
    assert letter.language == "fr"
    assert letter.subject == "Relance : factures impayées"
    assert letter.sent_at is not None
    assert letter.pdf.startswith(b"%PDF-")
    text = pdf_text(letter.pdf)
    assert "Réf. client : C-1" in text
    assert "F-1" in text
    assert "150,00 €" in text
    assert "Objet : Relance : factures impayées" in letter.html
    [activity] = db.session.scalars(select(Activity)).all()
    assert (activity.kind, activity.user_id, activity.summary, activity.outcome) == (
        "letter",
        collector.id,
        "Relance : factures impayées",
        "sent",
    )
    [entry] = _audit("letter.sent")
    assert entry.actor_id == collector.id
    assert entry.target == f"letter:{letter.id}"
    assert entry.after["customer"] == "C-1"
    assert entry.after["action_id"] == action.id


def test_email_action_stores_html_without_pdf(people):
    action = _action_for(-2)

    letter = execute_action(action, people["collector"], "en", TODAY)

    assert action.channel == "email"
    assert letter.pdf is None
    assert letter.subject == "Reminder: invoices coming due"
    assert "F-1" in letter.html
    assert [a.kind for a in db.session.scalars(select(Activity))] == ["email"]


def test_call_action_logs_call(people):
    action = _action_for(40)

    letter = execute_action(action, people["collector"], "fr", TODAY)

    assert letter is None
    assert action.status == DunningActionStatus.DONE
    [activity] = db.session.scalars(select(Activity)).all()
    assert (activity.kind, activity.summary) == ("call", "Appel de relance")
    # Dated on the business date it was carried out, like the action itself.
    assert business_date_of(activity.occurred_at) == TODAY
    assert db.session.scalars(select(Letter)).all() == []


def test_approved_formal_notice_is_sent(people):
    action = _action_for(50)
    approve_action(action, people["manager"])

    letter = execute_action(action, people["collector"], "fr", TODAY)

    assert letter.template_key == "formal_notice"
    assert "mise en demeure" in pdf_text(letter.pdf)


def test_execution_skips_invoices_paid_since_run(people):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    paid = add_invoice(customer, "F-2", days_ago(12), "60.00")
    db.session.commit()
    run_dunning(TODAY)
    action = db.session.scalar(select(DunningAction))
    paid.open_amount = 0
    paid.status = "paid"
    db.session.commit()

    letter = execute_action(action, people["collector"], "fr", TODAY)

    text = pdf_text(letter.pdf)
    assert "F-1" in text
    assert "F-2" not in text


def test_execution_fails_when_nothing_is_left_to_claim(people):
    action = _action_for(12)
    invoice = action.invoices[0]
    invoice.disputed = True
    db.session.commit()

    with pytest.raises(DunningError, match="Cancel the action"):
        execute_action(action, people["collector"], "fr", TODAY)
    db.session.rollback()

    assert db.session.get(DunningAction, action.id).status == DunningActionStatus.READY
    assert db.session.scalars(select(Letter)).all() == []


def test_execution_waits_for_pending_promise(people):
    action = _action_for(12)
    add_promise(action.customer)
    db.session.commit()

    with pytest.raises(DunningError, match="promised to pay"):
        execute_action(action, people["collector"], "fr", TODAY + dt.timedelta(days=1))


def test_execution_date_starts_the_gap(app, people):
    action = _action_for(12)
    execute_on = TODAY + dt.timedelta(days=7)

    letter = execute_action(action, people["collector"], "fr", execute_on)

    assert business_date_of(action.done_at) == execute_on
    assert business_date_of(letter.sent_at) == execute_on
    assert run_on(app, TODAY + dt.timedelta(days=21)).actions == []
    [second] = run_on(app, TODAY + dt.timedelta(days=22)).actions
    assert second.level_name == "Seconde relance"
    assert _action_facts(actions_at("Seconde relance")[0])["earlier_reminders"] == [
        {
            "level_name": "Première relance",
            "sent_on": execute_on,
            "letter_id": letter.id,
        }
    ]


def test_earlier_reminders_done_levels_only(people):
    customer = add_customer("C-1")
    invoice = add_invoice(customer, "F-1", days_ago(90), "150.00")
    other = add_invoice(customer, "F-2", days_ago(90), "10.00")
    add_done_action(customer, "Première relance", [invoice], days_ago(40))
    cancelled = add_done_action(customer, "Seconde relance", [invoice], days_ago(20))
    cancelled.status = DunningActionStatus.CANCELLED
    add_done_action(customer, "Première relance", [other], days_ago(30))
    db.session.commit()
    _second_for_other, planned = run_dunning(TODAY).actions
    action = db.session.get(DunningAction, planned.action_id)

    assert (planned.level_name, planned.invoice_numbers) == (
        "Appel de relance",
        ("F-1",),
    )
    assert _action_facts(action)["earlier_reminders"] == [
        {"level_name": "Première relance", "sent_on": days_ago(40), "letter_id": None}
    ]
