"""Logging activities on an account, and assigning customers to collectors."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.account import customer_history_events
from app.collection.models import Activity
from app.collection.services import ActionError, assign_customers, log_activity
from app.extensions import db
from app.timeutil import business_date_of
from tests.collection.ledger_factory import add_customer, build_small_ledger, day


@pytest.fixture
def ledger(app):
    return build_small_ledger()


# --- Activities -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "email", "letter", "note"])
def test_log_each_kind(ledger, kind):
    activity = log_activity(
        ledger.collector, ledger.customer, kind=kind, summary="  Spoke to Ms Roy.  "
    )

    assert activity.kind == kind
    assert activity.summary == "Spoke to Ms Roy."
    assert activity.user_id == ledger.collector.id
    assert business_date_of(activity.occurred_at) == day("06-30")


def test_outcome_stored(ledger):
    activity = log_activity(
        ledger.collector,
        ledger.customer,
        kind="call",
        summary="Voicemail.",
        outcome="left_message",
    )

    assert activity.outcome == "left_message"


REJECTED = [
    # (case, kind, summary, outcome, field)
    ("promise kind is automatic", "promise", "x", "", "kind"),
    ("unknown kind", "fax", "x", "", "kind"),
    ("empty summary", "call", "   ", "", "summary"),
    ("summary too long", "note", "x" * 2001, "", "summary"),
    ("unknown outcome", "call", "x", "happy", "outcome"),
]


@pytest.mark.parametrize(
    ("kind", "summary", "outcome", "field"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_activity_rejected(ledger, kind, summary, outcome, field):
    with pytest.raises(ActionError) as raised:
        log_activity(
            ledger.collector,
            ledger.customer,
            kind=kind,
            summary=summary,
            outcome=outcome,
        )

    assert raised.value.field == field
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_history_newest_first(ledger):
    for summary in ("First call.", "Second call.", "A note."):
        log_activity(ledger.collector, ledger.customer, kind="call", summary=summary)

    entries, truncated = customer_history_events(ledger.customer)

    assert [entry.item.summary for entry in entries] == [
        "A note.",
        "Second call.",
        "First call.",
    ]
    assert truncated is False


def test_history_limit(ledger):
    for number in range(4):
        log_activity(
            ledger.collector, ledger.customer, kind="note", summary=f"Note {number}."
        )

    entries, truncated = customer_history_events(ledger.customer, limit=3)

    assert [entry.item.summary for entry in entries] == [
        "Note 3.",
        "Note 2.",
        "Note 1.",
    ]
    assert truncated is True


# --- Portfolio assignment ---------------------------------------------------------


def test_assign_many_customers(ledger):
    second = add_customer("A-2", "team-a")
    db.session.commit()

    changed = assign_customers(
        ledger.manager, [ledger.customer.id, second.id], ledger.collector.id
    )

    assert changed == 2
    assert ledger.customer.collector_id == ledger.collector.id
    assert second.collector_id == ledger.collector.id


def test_assignment_is_audited(ledger):
    assign_customers(ledger.admin, [ledger.customer.id], ledger.collector.id)
    assign_customers(ledger.admin, [ledger.customer.id], None)

    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "portfolio.assign")
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.actor_label, e.target, e.before, e.after) for e in entries] == [
        (
            "admin@small.example",
            "customer A-1",
            {"collector": None},
            {"collector": "collector-a@small.example"},
        ),
        (
            "admin@small.example",
            "customer A-1",
            {"collector": "collector-a@small.example"},
            {"collector": None},
        ),
    ]
    assert ledger.customer.collector_id is None


def test_unchanged_assignment_not_counted(ledger):
    assign_customers(ledger.manager, [ledger.customer.id], ledger.collector.id)

    changed = assign_customers(
        ledger.manager, [ledger.customer.id], ledger.collector.id
    )

    assert changed == 0


def test_collector_of_other_team_rejected(ledger):
    second = add_customer("A-2", "team-a")
    db.session.commit()

    with pytest.raises(ActionError) as raised:
        assign_customers(
            ledger.manager,
            [second.id, ledger.other_customer.id],
            ledger.collector.id,
        )

    # All or nothing: A-2, which would have been valid, is not assigned either.
    assert raised.value.field == "customer_ids"
    db.session.expire_all()
    assert second.collector_id is None
    assert ledger.other_customer.collector_id is None


@pytest.mark.parametrize("assignee", ["manager", "trainee"])
def test_non_collector_rejected(ledger, assignee):
    with pytest.raises(ActionError) as raised:
        assign_customers(
            ledger.manager, [ledger.customer.id], getattr(ledger, assignee).id
        )

    assert raised.value.field == "collector_id"


def test_inactive_collector_rejected(ledger):
    ledger.collector.active = False
    db.session.commit()

    with pytest.raises(ActionError):
        assign_customers(ledger.manager, [ledger.customer.id], ledger.collector.id)


@pytest.mark.parametrize("actor", ["collector", "trainee"])
def test_only_managers_assign(ledger, actor):
    with pytest.raises(ActionError):
        assign_customers(
            getattr(ledger, actor), [ledger.customer.id], ledger.collector.id
        )

    assert ledger.customer.collector_id is None


@pytest.mark.parametrize("customer_ids", [[], [999999]], ids=["none", "unknown"])
def test_customers_must_exist(ledger, customer_ids):
    with pytest.raises(ActionError) as raised:
        assign_customers(ledger.manager, customer_ids, ledger.collector.id)

    assert raised.value.field == "customer_ids"
