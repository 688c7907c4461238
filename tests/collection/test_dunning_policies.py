"""Dunning policies: the default, level validation and order, assignment, deletion."""

from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.collection.dunning import run_dunning
from app.collection.dunning_policies import (
    DunningError,
    LevelSpec,
    add_level,
    assign_policy,
    create_policy,
    default_policy,
    delete_level,
    delete_policy,
    ensure_default_policy,
    policy_of,
    update_level,
    update_policy,
)
from app.collection.models import DunningPolicy
from app.extensions import db
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    add_user,
    days_ago,
)


@pytest.fixture(autouse=True)
def request_context(app):
    """Service errors carry translatable messages, which need a request's locale.
    English keeps the expected messages stable once the French catalog has them."""
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def manager(app):
    return add_user("manager@test.example", "manager")


def _spec(name="Relance", days=10, channel="letter", key="first_reminder", minimum="0"):
    return LevelSpec(name, days, channel, key, Decimal(minimum))


def _levels(policy) -> list[tuple[int, str, int]]:
    return [
        (level.position, level.name, level.days_from_due) for level in policy.levels
    ]


def test_ensure_default_policy_is_idempotent(app):
    first = ensure_default_policy()
    db.session.commit()
    second = ensure_default_policy()

    assert second.id == first.id
    assert len(db.session.scalars(select(DunningPolicy)).all()) == 1


def test_first_created_policy_becomes_default(app, manager):
    first = create_policy("A", "", manager)
    second = create_policy("B", "", manager)

    assert first.is_default is True
    assert second.is_default is False


def test_making_another_policy_default(app, manager):
    first = create_policy("A", "", manager)
    second = create_policy("B", "", manager)

    update_policy(second, "B", "new text", True, manager)

    assert default_policy().id == second.id
    db.session.refresh(first)
    assert first.is_default is False
    assert second.description == "new text"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_policy_name_is_checked(app, manager, name):
    with pytest.raises(DunningError):
        create_policy(name, "", manager)


def test_policy_name_is_unique(app, manager):
    create_policy("A", "", manager)

    with pytest.raises(DunningError, match="already exists"):
        create_policy(" A ", "", manager)


def test_levels_are_ordered_by_days(app, manager):
    policy = create_policy("A", "", manager)

    add_level(policy, _spec("Late", 30), manager)
    add_level(policy, _spec("Early", -3, "email", "courtesy_reminder"), manager)
    middle = add_level(policy, _spec("Middle", 10), manager)

    assert _levels(policy) == [(1, "Early", -3), (2, "Middle", 10), (3, "Late", 30)]

    update_level(middle, _spec("Middle", 40), manager)

    assert _levels(policy) == [(1, "Early", -3), (2, "Late", 30), (3, "Middle", 40)]


@pytest.mark.parametrize(
    "spec, message",
    [
        (_spec(name=" "), "level name"),
        (_spec(days=-91), "between -90 and 730"),
        (_spec(days=731), "between -90 and 730"),
        (_spec(channel="fax"), "Unknown channel"),
        (_spec(key="no_such_template"), "does not exist"),
        (_spec(key=""), "Choose the letter template that this level sends"),
        (_spec(minimum="-0.01"), "zero or more"),
        (_spec(days=10, name="Twin"), "already starts 10 days"),
    ],
)
def test_invalid_level_is_rejected(app, manager, spec, message):
    policy = create_policy("A", "", manager)
    add_level(policy, _spec("First", 10), manager)

    with pytest.raises(DunningError, match=message):
        add_level(policy, spec, manager)
    db.session.rollback()

    assert _levels(db.session.get(DunningPolicy, policy.id)) == [(1, "First", 10)]


def test_call_level_needs_no_template(app, manager):
    policy = create_policy("A", "", manager)

    level = add_level(
        policy, _spec("Call", 35, "call", "first_reminder", "50"), manager
    )

    assert level.template_key == ""
    assert level.min_amount == Decimal("50.00")


def test_level_with_actions_cannot_be_deleted(app, manager):
    policy = ensure_default_policy()
    db.session.commit()
    add_invoice(add_customer("C-1"), "F-1", days_ago(12), "40.00")
    db.session.commit()
    run_dunning(TODAY)
    used = policy.levels[1]
    unused = policy.levels[2]

    with pytest.raises(DunningError, match="history"):
        delete_level(used, manager)
    delete_level(unused, manager)

    assert [level.name for level in policy.levels] == [
        "Rappel courtois avant échéance",
        "Première relance",
        "Appel de relance",
        "Mise en demeure",
    ]
    assert [level.position for level in policy.levels] == [1, 2, 3, 4]


def test_default_policy_cannot_be_deleted(app, manager):
    policy = create_policy("A", "", manager)

    with pytest.raises(DunningError, match="default policy"):
        delete_policy(policy, manager)


def test_policy_with_customers_cannot_be_deleted(app, manager):
    create_policy("A", "", manager)
    other = create_policy("B", "", manager)
    customer = add_customer("C-1")
    assign_policy(customer, other, manager)

    with pytest.raises(DunningError, match="Customers following this policy: 1."):
        delete_policy(other, manager)

    assign_policy(customer, None, manager)
    delete_policy(other, manager)

    assert db.session.get(DunningPolicy, other.id) is None


def test_policy_of_customer(app, manager):
    default = create_policy("A", "", manager)
    other = create_policy("B", "", manager)
    customer = add_customer("C-1")

    assert policy_of(customer).id == default.id

    assign_policy(customer, other, manager)

    assert policy_of(customer).id == other.id
