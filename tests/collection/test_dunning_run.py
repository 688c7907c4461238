"""The dunning run: progressive levels, the gap between levels, skips, minimum
amounts, dry runs and the business date."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.collection.dunning import run_dunning
from app.collection.dunning_policies import (
    DEFAULT_POLICY_NAME,
    DunningError,
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
    Promise,
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
from tests.collection.dunning_steps import (
    actions_at,
    add_done_action,
    mark_done,
    run_on,
)

COURTESY = "Rappel courtois avant échéance"
FIRST = "Première relance"
SECOND = "Seconde relance"
CALL = "Appel de relance"
NOTICE = "Mise en demeure"


def _actions() -> list[DunningAction]:
    return list(db.session.scalars(select(DunningAction).order_by(DunningAction.id)))


def _summary(result) -> list[tuple[str, str, str, Decimal, tuple[str, ...]]]:
    return [
        (a.customer_reference, a.level_name, a.status, a.amount, a.invoice_numbers)
        for a in result.actions
    ]


def _after(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


# Default policy: courtesy email -5, letters +10 and +25, call +35 (min 50.00),
# formal notice +45 (min 100.00). Days late are counted back from 2013-06-30.
# A first run starts every overdue invoice at the first reminder, however old.
LEVEL_CASES = [
    (-6, "150.00", None),
    (-5, "150.00", ("Rappel courtois avant échéance", "ready")),
    (0, "150.00", ("Rappel courtois avant échéance", "ready")),
    (1, "150.00", None),
    (9, "150.00", None),
    (10, "150.00", ("Première relance", "ready")),
    (24, "150.00", ("Première relance", "ready")),
    (25, "150.00", ("Première relance", "ready")),
    (35, "150.00", ("Première relance", "ready")),
    (44, "150.00", ("Première relance", "ready")),
    (45, "150.00", ("Première relance", "ready")),
    (400, "150.00", ("Première relance", "ready")),
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
    third = add_invoice(first, "F-3", days_ago(30), "20.00")
    add_done_action(first, FIRST, [third], days_ago(20))
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
        ["F-3"],
        ["F-1", "F-2"],
        ["F-3"],
        ["F-4"],
    ]
    assert [a.run_date for a in stored] == [days_ago(20), TODAY, TODAY, TODAY]


def test_rerun_same_or_next_day_creates_nothing(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    run_dunning(TODAY)

    again = run_dunning(TODAY)
    next_day = run_on(app, _after(1))

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

    result = run_on(app, _after(1))

    assert _summary(result) == [
        ("C-1", "Première relance", "ready", Decimal("60.00"), ("F-2",))
    ]


def test_invoice_moves_to_next_level_later(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(10), "40.00")
    db.session.commit()
    run_dunning(TODAY)
    mark_done(actions_at(FIRST)[0], TODAY)

    before = run_on(app, _after(14))
    reached = run_on(app, _after(15))

    assert before.actions == []
    assert _summary(reached) == [
        ("C-1", "Seconde relance", "ready", Decimal("40.00"), ("F-1",))
    ]


def test_old_debt_walks_every_level(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(90), "500.00")
    db.session.commit()

    first = run_dunning(TODAY)
    same_day = run_dunning(TODAY)
    while_first_is_open = run_on(app, _after(5))

    assert _summary(first) == [("C-1", FIRST, "ready", Decimal("500.00"), ("F-1",))]
    assert same_day.actions == []
    assert while_first_is_open.actions == []

    # The first reminder goes out on day 5, so the second waits 15 days from then.
    mark_done(actions_at(FIRST)[0], _after(5))
    assert run_on(app, _after(19)).actions == []
    second = run_on(app, _after(20))
    assert _summary(second) == [("C-1", SECOND, "ready", Decimal("500.00"), ("F-1",))]

    mark_done(actions_at(SECOND)[0], _after(20))
    assert run_on(app, _after(29)).actions == []
    call = run_on(app, _after(30))
    assert _summary(call) == [("C-1", CALL, "ready", Decimal("500.00"), ("F-1",))]

    mark_done(actions_at(CALL)[0], _after(30))
    assert run_on(app, _after(39)).actions == []
    notice = run_on(app, _after(40))
    assert _summary(notice) == [
        ("C-1", NOTICE, "pending_approval", Decimal("500.00"), ("F-1",))
    ]

    mark_done(actions_at(NOTICE)[0], _after(41))
    assert run_on(app, _after(400)).actions == []
    assert [len(actions_at(name)) for name in (FIRST, SECOND, CALL, NOTICE)] == [
        1,
        1,
        1,
        1,
    ]


@pytest.mark.parametrize(
    "days_late, first_done_after, second_due_after",
    [
        (10, 0, 15),  # done on its own day: due date + 25 and gap agree
        (90, 7, 22),  # done a week after the run: the 15-day gap decides
        (3, 0, 22),  # done before its day (by hand): due date + 25 decides
    ],
)
def test_gap_after_previous_level(app, days_late, first_done_after, second_due_after):
    customer = add_customer("C-1")
    invoice = add_invoice(customer, "F-1", days_ago(days_late), "40.00")
    add_done_action(customer, FIRST, [invoice], _after(first_done_after))
    db.session.commit()

    before = run_on(app, _after(second_due_after - 1))
    due = run_on(app, _after(second_due_after))

    assert before.actions == []
    assert _summary(due) == [("C-1", SECOND, "ready", Decimal("40.00"), ("F-1",))]
    assert due.actions[0].action_id == actions_at(SECOND)[0].id


def test_open_action_holds_next_level_back(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()
    run_dunning(TODAY)

    late = run_on(app, _after(60))

    assert late.actions == []
    [action] = actions_at(FIRST)
    assert action.status == DunningActionStatus.READY


def test_rerun_after_execution_same_day_creates_nothing(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(30), "40.00")
    db.session.commit()
    run_dunning(TODAY)
    mark_done(actions_at(FIRST)[0], TODAY)

    assert run_dunning(TODAY).actions == []
    assert run_dunning(TODAY, dry_run=True).actions == []
    assert len(_actions()) == 1


def test_rerun_on_later_day_creates_level_once(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(30), "40.00")
    db.session.commit()
    run_dunning(TODAY)
    mark_done(actions_at(FIRST)[0], TODAY)

    first = run_on(app, _after(15))
    again = run_on(app, _after(15))
    later = run_on(app, _after(16))

    assert [a.level_name for a in first.actions] == [SECOND]
    assert again.actions == []
    assert later.actions == []
    assert len(actions_at(SECOND)) == 1


def test_cancelled_action_counts_as_its_level(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(50), "500.00")
    db.session.commit()
    run_dunning(TODAY)
    action = _actions()[0]
    action.status = DunningActionStatus.CANCELLED
    db.session.commit()

    next_day = run_on(app, _after(1))
    after_gap = run_on(app, _after(15))

    assert next_day.actions == []
    assert [a.level_name for a in after_gap.actions] == [SECOND]
    assert len(actions_at(FIRST)) == 1


def test_cancelled_formal_notice_is_not_proposed_again(app):
    customer = add_customer("C-1")
    invoice = add_invoice(customer, "F-1", days_ago(120), "500.00")
    add_done_action(customer, FIRST, [invoice], days_ago(60))
    add_done_action(customer, SECOND, [invoice], days_ago(40))
    add_done_action(customer, CALL, [invoice], days_ago(20))
    db.session.commit()
    [notice] = run_dunning(TODAY).actions
    action = db.session.get(DunningAction, notice.action_id)
    action.status = DunningActionStatus.CANCELLED
    db.session.commit()

    assert notice.level_name == NOTICE
    assert run_on(app, _after(30)).actions == []


def test_courtesy_reminder_then_first_reminder(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", _after(5), "40.00")
    db.session.commit()
    courtesy = run_dunning(TODAY)
    mark_done(actions_at(COURTESY)[0], TODAY)

    before = run_on(app, _after(14))
    first = run_on(app, _after(15))

    assert [a.level_name for a in courtesy.actions] == [COURTESY]
    assert before.actions == []
    assert _summary(first) == [("C-1", FIRST, "ready", Decimal("40.00"), ("F-1",))]


def test_one_action_per_level_reached(app):
    customer = add_customer("C-1")
    old = add_invoice(customer, "F-1", days_ago(60), "70.00")
    add_invoice(customer, "F-2", days_ago(60), "30.00")
    add_done_action(customer, FIRST, [old], days_ago(30))
    db.session.commit()

    result = run_dunning(TODAY)

    assert _summary(result) == [
        ("C-1", FIRST, "ready", Decimal("30.00"), ("F-2",)),
        ("C-1", SECOND, "ready", Decimal("70.00"), ("F-1",)),
    ]


def test_real_run_after_business_date_is_rejected(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()

    with pytest.raises(DunningError, match="postérieur à la date de référence du jour, le 2013-06-30"):
        run_dunning(_after(1))

    assert _actions() == []
    assert db.session.scalar(select(func.count(DunningPolicy.id))) == 0


def test_dry_run_after_business_date_is_a_preview(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(5), "40.00")
    db.session.commit()

    preview = run_dunning(_after(5), dry_run=True)

    assert preview.is_future_preview is True
    assert preview.business_date == TODAY
    assert _summary(preview) == [("C-1", FIRST, "ready", Decimal("40.00"), ("F-1",))]
    assert _actions() == []
    assert run_dunning(TODAY, dry_run=True).is_future_preview is False


def test_real_run_on_past_date_is_allowed(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    db.session.commit()

    result = run_dunning(days_ago(1))

    assert _summary(result) == [("C-1", FIRST, "ready", Decimal("40.00"), ("F-1",))]
    assert _actions()[0].run_date == days_ago(1)


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

    assert len(result.actions) == expected_actions
    assert result.promised_customers == expected_skipped


@pytest.mark.parametrize("dry_run, status_after", [(False, "broken"), (True, "pending")])
def test_promise_passed_unpaid_no_longer_pauses_the_run(app, dry_run, status_after):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    promise = add_promise(customer)
    promise.promised_date = TODAY - dt.timedelta(days=1)
    db.session.commit()

    result = run_dunning(TODAY, dry_run=dry_run)

    assert [action.customer_reference for action in result.actions] == ["C-1"]
    assert result.promised_customers == 0
    db.session.expire_all()
    assert db.session.get(Promise, promise.id).status == status_after


def _history(customer, invoices, level_names) -> None:
    """Record ``level_names`` as done, 20 days apart, the last one 20 days ago."""
    for steps_back, name in enumerate(reversed(level_names), start=1):
        add_done_action(customer, name, invoices, days_ago(20 * steps_back))


@pytest.mark.parametrize(
    "done, amount, created",
    [
        ([], "9.99", False),
        ([], "10.00", True),
        ([FIRST, SECOND], "49.99", False),
        ([FIRST, SECOND], "50.00", True),
        ([FIRST, SECOND, CALL], "99.99", False),
        ([FIRST, SECOND, CALL], "100.00", True),
    ],
)
def test_minimum_amount_of_level(app, done, amount, created):
    customer = add_customer("C-1")
    invoice = add_invoice(customer, "F-1", days_ago(90), amount)
    _history(customer, [invoice], done)
    db.session.commit()

    result = run_dunning(TODAY)

    assert len(result.actions) == (1 if created else 0)
    assert result.below_minimum == (0 if created else 1)
    assert len(_actions()) == len(done) + (1 if created else 0)


def test_minimum_compares_the_sum_of_invoices(app):
    customer = add_customer("C-1")
    first = add_invoice(customer, "F-1", days_ago(46), "60.00")
    second = add_invoice(customer, "F-2", days_ago(50), "40.00")
    _history(customer, [first, second], [FIRST, SECOND, CALL])
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
        "business_date": "2013-06-30",
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
