"""Promises to pay: validation, and kept or broken from the recorded payments.

The small ledger on 2013-06-30: A-101 100.00 (due 03-31), A-102 250.00 (05-15),
A-103 400.00 (06-19), A-104 600.00 (07-10), all open. B-201 80.00 belongs to
another customer. Promises are made on the business date, which is 06-30 unless the
test moves it.
"""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.collection.models import Promise, PromiseStatus
from app.collection.promises import evaluate
from app.collection.services import (
    ActionError,
    AllocationMode,
    cancel_promise,
    create_promise,
    record_payment,
    refresh_promises,
)
from app.extensions import db
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day

# A fixture shared with other modules of this folder.
english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _set_today(app, text: str) -> None:
    app.config["BUSINESS_DATE"] = day(text).isoformat()


def _promise(ledger, amount, by, *numbers, note=""):
    return create_promise(
        ledger.collector,
        ledger.customer,
        amount=Decimal(amount),
        promised_date=day(by),
        invoice_ids=[ledger.invoices[n].id for n in numbers],
        note=note,
    )


def _pay(ledger, amount, received, *, kind="payment", to=None):
    options = {"allocation": AllocationMode.OLDEST_FIRST}
    if to == "nothing":
        options = {"allocation": AllocationMode.UNALLOCATED}
    elif to is not None:
        options = {
            "allocation": AllocationMode.CHOSEN,
            "lines": [(ledger.invoices[to].id, Decimal(amount))],
        }
    return record_payment(
        ledger.collector,
        ledger.customer,
        kind=kind,
        received_on=day(received),
        amount=Decimal(amount),
        **options,
    )


def _state(promise) -> tuple[str, str | None]:
    db.session.refresh(promise)
    resolved = promise.resolved_on.isoformat() if promise.resolved_on else None
    return promise.status, resolved


# --- Kept -----------------------------------------------------------------------


def test_kept_when_invoices_paid(app, ledger):
    promise = _promise(ledger, "350.00", "07-10", "A-101", "A-102")
    _pay(ledger, "100.00", "06-30")  # oldest first: A-101

    assert _state(promise) == ("pending", None)

    _set_today(app, "07-05")
    _pay(ledger, "250.00", "07-05", to="A-102")

    # 100.00 + 250.00 reach the promised 350.00 on 07-05.
    assert _state(promise) == ("kept", "2013-07-05")


def test_kept_on_the_promised_date_itself(app, ledger):
    promise = _promise(ledger, "100.00", "07-03", "A-101")
    _set_today(app, "07-03")

    _pay(ledger, "100.00", "07-03")

    assert _state(promise) == ("kept", "2013-07-03")


def test_whole_account_promise_counts_any_payment(ledger):
    promise = _promise(ledger, "300.00", "07-05")

    _pay(ledger, "300.00", "06-30", to="nothing")

    assert _state(promise) == ("kept", "2013-06-30")


def test_partial_payments_add_up(app, ledger):
    promise = _promise(ledger, "300.00", "07-10")
    _pay(ledger, "120.00", "06-30")
    _set_today(app, "07-04")
    _pay(ledger, "100.00", "07-02", to="A-104")

    assert _state(promise) == ("pending", None)

    _pay(ledger, "80.00", "07-04", to="A-104")

    # 120.00 + 100.00 + 80.00 = 300.00 on 07-04.
    assert _state(promise) == ("kept", "2013-07-04")


def test_same_day_payment_counts(ledger):
    _pay(ledger, "100.00", "06-30", to="A-102")

    promise = _promise(ledger, "100.00", "07-05", "A-102")

    assert _state(promise) == ("kept", "2013-06-30")


# --- Not counted ------------------------------------------------------------------


def test_payment_to_other_invoice_does_not_count(ledger):
    promise = _promise(ledger, "100.00", "07-10", "A-104")

    _pay(ledger, "100.00", "06-30")  # oldest first goes to A-101

    assert _state(promise) == ("pending", None)


def test_credit_note_does_not_count(ledger):
    promise = _promise(ledger, "100.00", "07-10", "A-101")

    _pay(ledger, "100.00", "06-30", kind="credit_note")

    assert _state(promise) == ("pending", None)


def test_earlier_payment_not_counted(ledger):
    promise = _promise(ledger, "50.00", "07-10")

    _pay(ledger, "50.00", "06-29", to="nothing")

    assert _state(promise) == ("pending", None)


def test_late_payment_not_counted(app, ledger):
    promise = _promise(ledger, "100.00", "07-01", "A-101")
    _set_today(app, "07-03")

    _pay(ledger, "100.00", "07-03")

    assert _state(promise) == ("broken", "2013-07-02")


# --- Broken -----------------------------------------------------------------------


def test_broken_the_day_after_the_date(ledger):
    promise = _promise(ledger, "200.00", "07-02", "A-103")

    assert refresh_promises(day("07-02")).broken == 0
    assert _state(promise) == ("pending", None)

    refresh = refresh_promises(day("07-03"))

    assert (refresh.kept, refresh.broken) == (0, 1)
    assert _state(promise) == ("broken", "2013-07-03")


def test_backdated_payment_keeps_broken_promise(app, ledger):
    promise = _promise(ledger, "100.00", "07-01", "A-101")
    _set_today(app, "07-03")
    refresh_promises(day("07-03"))
    assert _state(promise) == ("broken", "2013-07-02")

    # The transfer arrived on 07-01 but is recorded on 07-03.
    _pay(ledger, "100.00", "07-01")

    assert _state(promise) == ("kept", "2013-07-01")


def test_refresh_for_customers_only(ledger):
    promise = _promise(ledger, "100.00", "07-01", "A-101")

    refresh = refresh_promises(day("07-05"), [ledger.other_customer.id])

    assert refresh.changed == 0
    assert _state(promise) == ("pending", None)


# --- Cancel -----------------------------------------------------------------------


def test_cancel_pending_promise(ledger):
    promise = _promise(ledger, "100.00", "07-01", "A-101")

    cancel_promise(ledger.collector, promise)

    assert _state(promise) == ("cancelled", "2013-06-30")
    assert refresh_promises(day("07-05")).changed == 0
    assert _state(promise) == ("cancelled", "2013-06-30")


def test_cancel_frees_invoices_for_new_promise(ledger):
    first = _promise(ledger, "100.00", "07-01", "A-101")
    cancel_promise(ledger.collector, first)

    second = _promise(ledger, "90.00", "07-08", "A-101")

    assert second.status == PromiseStatus.PENDING


def test_cancel_resolved_promise_rejected(ledger):
    promise = _promise(ledger, "100.00", "07-01", "A-101")
    _pay(ledger, "100.00", "06-30")

    with pytest.raises(ActionError):
        cancel_promise(ledger.collector, promise)


# --- Validation -------------------------------------------------------------------

REJECTED = [
    # (case, amount, promised date, invoices, field)
    ("zero amount", "0.00", "07-05", ["A-101"], "amount"),
    ("negative amount", "-1.00", "07-05", [], "amount"),
    ("three decimals", "1.001", "07-05", [], "amount"),
    ("above chosen invoices", "350.01", "07-05", ["A-101", "A-102"], "amount"),
    # 100 + 250 + 400 + 600 = 1350.00 open on the account.
    ("above account balance", "1350.01", "07-05", [], "amount"),
    ("date in the past", "10.00", "06-29", ["A-101"], "promised_date"),
    ("invoice of other customer", "10.00", "07-05", ["B-201"], "invoice_ids"),
]


@pytest.mark.parametrize(
    ("amount", "by", "numbers", "field"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_promise_rejected(ledger, amount, by, numbers, field):
    with pytest.raises(ActionError) as raised:
        _promise(ledger, amount, by, *numbers)

    assert raised.value.field == field
    assert db.session.scalar(select(func.count(Promise.id))) == 0


@pytest.mark.parametrize(
    ("amount", "by", "numbers"),
    [
        ("350.00", "07-05", ["A-101", "A-102"]),
        ("1350.00", "06-30", []),
        # 90 days after 2013-06-30, the default horizon.
        ("0.01", "09-28", ["A-104"]),
    ],
    ids=["chosen invoices total", "account balance today", "one cent, latest date"],
)
def test_promise_at_the_limits_accepted(ledger, amount, by, numbers):
    promise = _promise(ledger, amount, by, *numbers)

    assert promise.status == PromiseStatus.PENDING
    assert sorted(i.number for i in promise.invoices) == sorted(numbers)


def test_paid_invoice_cannot_be_promised(ledger):
    _pay(ledger, "100.00", "06-30")  # settles A-101

    with pytest.raises(ActionError) as raised:
        _promise(ledger, "10.00", "07-05", "A-101")

    assert raised.value.field == "invoice_ids"


def test_invoice_in_one_pending_promise(ledger, english):
    _promise(ledger, "100.00", "07-05", "A-101", "A-102")

    with pytest.raises(ActionError) as raised:
        _promise(ledger, "50.00", "07-08", "A-102", "A-103")

    assert raised.value.field == "invoice_ids"
    assert str(raised.value.message) == (
        "Invoices A-102 already have a pending promise. Cancel it first."
    )


def test_one_pending_whole_account_promise(ledger):
    _promise(ledger, "100.00", "07-05")

    with pytest.raises(ActionError) as raised:
        _promise(ledger, "50.00", "07-08")

    assert raised.value.field == "invoice_ids"


def test_amount_message_shows_the_limit(ledger, english):
    with pytest.raises(ActionError) as raised:
        _promise(ledger, "350.01", "07-05", "A-101", "A-102")

    assert str(raised.value.message) == (
        "The amount is above the open total of the chosen invoices, €350.00."
    )


# --- Evaluation rule --------------------------------------------------------------

# A promise of 100.00 made on 06-30 for 07-10, evaluated on ``on``.
EVALUATIONS = [
    # (case, payments as (received, amount), on, expected status, resolved on)
    ("nothing paid, before date", [], "07-09", "pending", None),
    ("nothing paid, on date", [], "07-10", "pending", None),
    ("nothing paid, day after", [], "07-11", "broken", "07-11"),
    ("exact amount", [("07-02", "100")], "07-20", "kept", "07-02"),
    ("overpaid", [("07-02", "150")], "07-20", "kept", "07-02"),
    ("reached by second", [("07-08", "60"), ("07-01", "40")], "07-20", "kept", "07-08"),
    ("one cent short", [("07-02", "99.99")], "07-20", "broken", "07-11"),
    ("paid before made", [("06-29", "100")], "07-20", "broken", "07-11"),
    ("paid on made day", [("06-30", "100")], "07-01", "kept", "06-30"),
    ("paid after date", [("07-11", "100")], "07-20", "broken", "07-11"),
    ("payment not yet seen", [("07-05", "100")], "07-04", "pending", None),
]


@pytest.mark.parametrize(
    ("payments", "on", "status", "resolved"),
    [case[1:] for case in EVALUATIONS],
    ids=[case[0] for case in EVALUATIONS],
)
def test_evaluation_rule(payments, on, status, resolved):
    outcome = evaluate(
        Decimal("100.00"),
        day("07-10"),
        day("06-30"),
        [(day(paid_on), Decimal(paid)) for paid_on, paid in payments],
        day(on),
    )

    assert outcome.status == status
    assert outcome.resolved_on == (day(resolved) if resolved else None)
