"""The dunning run: levels reached, coverage, skips, minimum amounts, dry runs."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.collection.dunning import run_dunning
from app.collection.dunning_policies import (
    DEFAULT_POLICY_NAME,
    LevelSpec,
    add_level,
    create_policy,
    ensure_default_policy,
)
from app.collection.models import (
    DisputeStatus,
    DunningAction,
    DunningActionStatus,
    DunningPolicy,
    PromiseStatus,
)
from app.extensions import db
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_dispute,
    add_invoice,
    add_promise,
    add_team,
    add_user,
    days_ago,
)


def _actions() -> list[DunningAction]:
    return list(db.session.scalars(select(DunningAction).order_by(DunningAction.id)))


def _summary(result) -> list[tuple[str, str, str, Decimal, tuple[str, ...]]]:
    return [
        (a.customer_reference, a.level_name, a.status, a.amount, a.invoice_numbers)
        for a in result.actions
    ]


# Default policy: courtesy email -5, letters +10 and +25, call +35 (min 50.00),
# formal notice +45 (min 100.00). Days late are counted back from 2013-06-30.
LEVEL_CASES = [
    (-6, "150.00", None),
    (-5, "150.00", ("Rappel courtois avant échéance", "ready")),
    (0, "150.00", ("Rappel courtois avant échéance", "ready")),
    (1, "150.00", None),
    (9, "150.00", None),
    (10, "150.00", ("Première relance", "ready")),
    (24, "150.00", ("Première relance", "ready")),
    (25, "150.00", ("Seconde relance", "ready")),
    (35, "150.00", ("Appel de relance", "ready")),
    (44, "150.00", ("Appel de relance", "ready")),
    (45, "150.00", ("Mise en demeure", "pending_approval")),
    (400, "150.00", ("Mise en demeure", "pending_approval")),
]


@pytest.mark.parametrize("days_late, amount, expected", LEVEL_CASES)
def test_level_reached_by_days_late(app, days_late, amount, expected):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(days_late), amount)
    db.session.commit()

    result = run_dunning(TODAY)

    if expected is None:
        assert result.actions == []
    else:
        assert _summary(result) == [
            ("C-1", expected[0], expected[1], Decimal(amount), ("F-1",))
        ]


def test_one_action_per_customer_and_level(app):
    first = add_customer("C-1")
    add_invoice(first, "F-1", days_ago(12), "40.00")
    add_invoice(first, "F-2", days_ago(15), "35.50")
    add_invoice(first, "F-3", days_ago(30), "20.00")
    second = add_customer("C-2")
    add_invoice(second, "F-4", days_ago(11), "12.00")
    db.session.commit()

    result = run_dunning(TODAY)

    assert _summary(result) == [
        ("C-1", "Première relance", "ready", Decimal("75.50"), ("F-2", "F-1")),
        ("C-1", "Seconde relance", "ready", Decimal("20.00"), ("F-3",)),
        ("C-2", "Première relance", "ready", Decimal("12.00"), ("F-4",)),
    ]
    stored = _actions()
    assert [sorted(i.number for i in a.invoices) for a in stored] == [
        ["F-1", "F-2"],
        ["F-3"],
        ["F-4"],
    ]
    assert {a.run_date for a in stored} == {TODAY}


def test_rerun_same_or_next_day_creates_nothing(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    run_dunning(TODAY)

    again = run_dunning(TODAY)
    next_day = run_dunning(TODAY + dt.timedelta(days=1))

    assert again.actions == []
    assert next_day.actions == []
    assert len(_actions()) == 1


def test_new_invoice_reaching_covered_level_gets_own_action(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    run_dunning(TODAY)
    add_invoice(customer, "F-2", days_ago(9), "60.00")
    db.session.commit()

    result = run_dunning(TODAY + dt.timedelta(days=1))

    assert _summary(result) == [
        ("C-1", "Première relance", "ready", Decimal("60.00"), ("F-2",))
    ]


def test_invoice_moves_to_next_level_later(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(10), "40.00")
    db.session.commit()
    run_dunning(TODAY)

    before = run_dunning(TODAY + dt.timedelta(days=14))
    reached = run_dunning(TODAY + dt.timedelta(days=15))

    assert before.actions == []
    assert _summary(reached) == [
        ("C-1", "Seconde relance", "ready", Decimal("40.00"), ("F-1",))
    ]


def test_old_debt_gets_highest_level_only(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(60), "500.00")
    db.session.commit()

    result = run_dunning(TODAY)
    later = run_dunning(TODAY + dt.timedelta(days=30))

    assert [a.level_name for a in result.actions] == ["Mise en demeure"]
    assert later.actions == []


def test_cancelled_action_still_covers_its_invoices(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(50), "500.00")
    db.session.commit()
    run_dunning(TODAY)
    action = _actions()[0]
    action.status = DunningActionStatus.CANCELLED
    db.session.commit()

    assert run_dunning(TODAY + dt.timedelta(days=1)).actions == []


def test_disputed_invoices_are_skipped(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00", disputed=True)
    open_dispute = add_invoice(customer, "F-2", days_ago(12), "30.00")
    add_dispute(open_dispute)
    resolved = add_invoice(customer, "F-3", days_ago(12), "20.00")
    add_dispute(resolved, status=DisputeStatus.RESOLVED)
    db.session.commit()

    result = run_dunning(TODAY)

    assert _summary(result) == [
        ("C-1", "Première relance", "ready", Decimal("20.00"), ("F-3",))
    ]
    assert result.disputed_invoices == 2


@pytest.mark.parametrize(
    "promise_status, expected_actions, expected_skipped",
    [
        (PromiseStatus.PENDING, 0, 1),
        (PromiseStatus.KEPT, 1, 0),
        (PromiseStatus.BROKEN, 1, 0),
    ],
)
def test_pending_promise_skips_customer(
    app, promise_status, expected_actions, expected_skipped
):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    add_invoice(customer, "F-2", days_ago(30), "40.00")
    add_promise(customer, status=promise_status)
    db.session.commit()

    result = run_dunning(TODAY)

    assert len(result.actions) == expected_actions * 2
    assert result.promised_customers == expected_skipped


@pytest.mark.parametrize(
    "days_late, amount, created",
    [
        (35, "49.99", False),
        (35, "50.00", True),
        (45, "99.99", False),
        (45, "100.00", True),
    ],
)
def test_minimum_amount_of_level(app, days_late, amount, created):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(days_late), amount)
    db.session.commit()

    result = run_dunning(TODAY)

    assert len(result.actions) == (1 if created else 0)
    assert result.below_minimum == (0 if created else 1)
    assert len(_actions()) == (1 if created else 0)


def test_minimum_compares_the_sum_of_invoices(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(46), "60.00")
    add_invoice(customer, "F-2", days_ago(50), "40.00")
    db.session.commit()

    result = run_dunning(TODAY)

    assert _summary(result) == [
        (
            "C-1",
            "Mise en demeure",
            "pending_approval",
            Decimal("100.00"),
            ("F-2", "F-1"),
        )
    ]


def test_below_minimum_invoice_is_proposed_again_later(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "5.00")
    db.session.commit()
    first = run_dunning(TODAY)
    add_invoice(customer, "F-2", days_ago(11), "6.00")
    db.session.commit()

    second = run_dunning(TODAY)

    assert first.actions == []
    assert _summary(second) == [
        ("C-1", "Première relance", "ready", Decimal("11.00"), ("F-1", "F-2"))
    ]


@pytest.mark.parametrize(
    "status, open_amount",
    [("paid", "0.00"), ("open", "0.00")],
)
def test_settled_invoices_are_ignored(app, status, open_amount):
    customer = add_customer("C-1")
    add_invoice(
        customer, "F-1", days_ago(12), "40.00", open_amount=open_amount, status=status
    )
    db.session.commit()

    assert run_dunning(TODAY).actions == []


def test_partly_paid_invoice_claims_open_amount(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00", open_amount="15.25")
    db.session.commit()

    assert _summary(run_dunning(TODAY)) == [
        ("C-1", "Première relance", "ready", Decimal("15.25"), ("F-1",))
    ]


def test_customer_policy_replaces_default(app):
    manager = add_user("m@test.example", "manager")
    ensure_default_policy()
    db.session.commit()
    fast = create_policy("Rapide", "", manager)
    add_level(
        fast,
        LevelSpec("Relance J+3", 3, "letter", "first_reminder", Decimal("0")),
        manager,
    )
    special = add_customer("C-1", dunning_policy_id=fast.id)
    add_invoice(special, "F-1", days_ago(4), "40.00")
    usual = add_customer("C-2")
    add_invoice(usual, "F-2", days_ago(4), "40.00")
    db.session.commit()

    result = run_dunning(TODAY)

    assert _summary(result) == [
        ("C-1", "Relance J+3", "ready", Decimal("40.00"), ("F-1",))
    ]


def test_dry_run_saves_nothing(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()

    dry = run_dunning(TODAY, dry_run=True)

    assert _summary(dry) == [
        ("C-1", "Première relance", "ready", Decimal("40.00"), ("F-1",))
    ]
    assert [a.action_id for a in dry.actions] == [None]
    assert _actions() == []
    assert db.session.scalar(select(func.count(DunningPolicy.id))) == 0

    real = run_dunning(TODAY)

    assert _summary(real) == _summary(dry)
    assert real.actions[0].action_id == _actions()[0].id


def test_first_run_creates_default_policy(app):
    run_dunning(TODAY)

    policy = db.session.scalar(select(DunningPolicy))
    assert policy.name == DEFAULT_POLICY_NAME
    assert policy.is_default is True
    assert [
        (level.position, level.days_from_due, level.channel) for level in policy.levels
    ] == [
        (1, -5, "email"),
        (2, 10, "letter"),
        (3, 25, "letter"),
        (4, 35, "call"),
        (5, 45, "formal_notice"),
    ]


def test_run_result_as_json(app):
    team = add_team()
    customer = add_customer("C-1", team)
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    add_invoice(customer, "F-2", days_ago(12), "9.00", disputed=True)
    db.session.commit()

    payload = run_dunning(TODAY).as_json()

    action_id = _actions()[0].id
    assert payload == {
        "date": "2013-06-30",
        "dry_run": False,
        "actions": [
            {
                "id": action_id,
                "customer": "C-1",
                "level": "Première relance",
                "days_from_due": 10,
                "channel": "letter",
                "status": "ready",
                "amount": "40.00",
                "invoices": ["F-1"],
            }
        ],
        "skipped": {
            "disputed_invoices": 1,
            "promised_customers": 0,
            "below_minimum": 0,
            "customers_without_policy": 0,
        },
    }


def test_ibm_sample_on_its_as_of_date(app, ibm_loaded):
    result = run_dunning(TODAY)

    # Nothing undisputed in the sample is 10 days late yet, so only courtesy
    # reminders go out, for invoices due from 30 June to 5 July 2013.
    assert sorted(_summary(result)) == [
        (
            "0688-XNJRO",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("41.56"),
            ("7403439811",),
        ),
        (
            "1604-LIFKX",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("77.66"),
            ("5046787811",),
        ),
        (
            "5529-TBPGK",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("68.40"),
            ("9923678452",),
        ),
        (
            "5573-KSOIA",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("91.21"),
            ("6471713415",),
        ),
        (
            "8690-EEBEO",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("62.35"),
            ("1903828465",),
        ),
        (
            "9014-WENVB",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("26.13"),
            ("8473757844",),
        ),
        (
            "9928-IJYBQ",
            "Rappel courtois avant échéance",
            "ready",
            Decimal("66.38"),
            ("3761658749",),
        ),
    ]
    assert result.disputed_invoices == 5
