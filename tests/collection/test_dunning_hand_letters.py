"""Letters written by hand from a dunning level's template count as that level."""

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.collection.dunning_policies import LevelSpec, add_level, create_policy
from app.collection.letter_render import LetterError
from app.collection.letters import send_letter
from app.collection.models import DunningAction, DunningActionStatus, Letter
from app.extensions import db
from app.timeutil import business_date_of
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    add_user,
    days_ago,
)
from tests.collection.dunning_steps import actions_at, add_done_action, run_on

FIRST = "Première relance"
SECOND = "Seconde relance"
NOTICE = "Mise en demeure"


@pytest.fixture(autouse=True)
def request_context(app):
    """Service errors carry translatable messages, which need a request's locale."""
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def manager(app):
    return add_user("manager@test.example", "manager")


@pytest.fixture
def customer(app):
    return add_customer("C-1", address="1 rue Haute\n75001 Paris")


def _after(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def _letters() -> list[Letter]:
    return list(db.session.scalars(select(Letter).order_by(Letter.id)))


def test_hand_letter_records_its_level(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()

    letter = send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    [action] = actions_at(FIRST)
    assert letter.action_id == action.id
    assert action.status == DunningActionStatus.DONE
    assert action.channel == "letter"
    assert action.run_date == TODAY
    assert business_date_of(action.done_at) == TODAY
    assert business_date_of(letter.sent_at) == TODAY
    assert action.amount == Decimal("40.00")
    assert [i.number for i in action.invoices] == ["F-1"]


def test_run_goes_on_from_hand_letter(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    same_day = run_on(app, TODAY)
    before_gap = run_on(app, _after(14))
    after_gap = run_on(app, _after(15))

    assert same_day.actions == []
    assert before_gap.actions == []
    assert [(a.level_name, a.invoice_numbers) for a in after_gap.actions] == [
        (SECOND, ("F-1",))
    ]
    assert len(actions_at(FIRST)) == 1


def test_early_hand_letter_waits_for_offset(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(3), "40.00")
    db.session.commit()
    send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    # The second reminder is due 25 days after the due date, which is later
    # than 15 days after the letter.
    assert run_on(app, _after(21)).actions == []
    assert [a.level_name for a in run_on(app, _after(22)).actions] == [SECOND]


def test_hand_letter_skips_reached_invoices(app, manager, customer):
    reminded = add_invoice(customer, "F-1", days_ago(40), "40.00")
    fresh = add_invoice(customer, "F-2", days_ago(12), "25.50")
    add_done_action(customer, FIRST, [reminded], days_ago(20))
    db.session.commit()

    letter = send_letter(
        customer, "first_reminder", "fr", [reminded.id, fresh.id], manager, TODAY
    )

    recorded = db.session.get(DunningAction, letter.action_id)
    assert [i.number for i in recorded.invoices] == ["F-2"]
    assert recorded.amount == Decimal("25.50")
    assert len(actions_at(FIRST)) == 2


def test_same_letter_again_records_nothing_new(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    first = send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    again = send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    assert again.action_id is None
    assert [letter.id for letter in _letters()] == [first.id, again.id]
    assert len(actions_at(FIRST)) == 1


def test_open_action_blocks_hand_letter(app, manager, customer):
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    [planned] = run_on(app, TODAY).actions
    invoice_id = db.session.get(DunningAction, planned.action_id).invoices[0].id

    with pytest.raises(LetterError) as failure:
        send_letter(customer, "second_reminder", "fr", [invoice_id], manager, TODAY)
    db.session.rollback()

    assert str(failure.value) == (
        "Invoices F-1 already have a dunning action to carry out (Première "
        "relance). Send that action from the dunning page, or ask a manager to "
        "cancel it, before writing this letter."
    )
    assert _letters() == []
    assert db.session.get(DunningAction, planned.action_id).status == "ready"


def test_open_higher_action_allows_lower_letter(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(90), "150.00")
    add_done_action(customer, FIRST, [invoice], days_ago(60))
    add_done_action(customer, SECOND, [invoice], days_ago(40))
    add_done_action(customer, "Appel de relance", [invoice], days_ago(20))
    db.session.commit()
    [notice] = run_on(app, TODAY).actions

    letter = send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    assert notice.level_name == NOTICE
    assert letter.action_id is None
    assert db.session.get(DunningAction, notice.action_id).status == (
        "pending_approval"
    )


def test_template_outside_policy_records_nothing(app, manager):
    quick = create_policy("Rapide", "", manager)
    add_level(
        quick,
        LevelSpec("Relance J+3", 3, "letter", "second_reminder", Decimal("0")),
        manager,
    )
    customer = add_customer("C-2", dunning_policy_id=quick.id)
    invoice = add_invoice(customer, "F-9", days_ago(12), "40.00")
    db.session.commit()

    letter = send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)

    assert letter.action_id is None
    assert db.session.scalars(select(DunningAction)).all() == []


def test_shared_template_counts_next_level(app, manager):
    policy = create_policy("Deux relances", "", manager)
    for name, days in (("Relance J+10", 10), ("Relance J+20", 20)):
        add_level(
            policy,
            LevelSpec(name, days, "letter", "first_reminder", Decimal("0")),
            manager,
        )
    customer = add_customer("C-3", dunning_policy_id=policy.id)
    invoice = add_invoice(customer, "F-7", days_ago(30), "40.00")
    db.session.commit()

    letters = [
        send_letter(customer, "first_reminder", "fr", [invoice.id], manager, TODAY)
        for _ in range(3)
    ]

    levels = [
        db.session.get(DunningAction, letter.action_id).level.name
        if letter.action_id
        else None
        for letter in letters
    ]
    assert levels == ["Relance J+10", "Relance J+20", None]


def test_formal_notice_by_hand_records_notice(app, manager, customer):
    invoice = add_invoice(customer, "F-1", days_ago(90), "150.00")
    db.session.commit()

    letter = send_letter(customer, "formal_notice", "fr", [invoice.id], manager, TODAY)

    [action] = actions_at(NOTICE)
    assert letter.action_id == action.id
    assert (action.channel, action.status) == ("formal_notice", "done")
    assert run_on(app, _after(300)).actions == []


def test_courtesy_by_hand_then_first_reminder(app, manager, customer):
    invoice = add_invoice(customer, "F-1", _after(3), "40.00")
    db.session.commit()

    letter = send_letter(
        customer, "courtesy_reminder", "fr", [invoice.id], manager, TODAY
    )

    [action] = actions_at("Rappel courtois avant échéance")
    assert letter.action_id == action.id
    assert action.channel == "letter"
    assert run_on(app, TODAY).actions == []
    assert run_on(app, _after(14)).actions == []
    assert [a.level_name for a in run_on(app, _after(15)).actions] == [FIRST]
