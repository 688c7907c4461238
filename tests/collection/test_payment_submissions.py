"""A payment form sent twice records one payment, and a retyped payment needs a
confirmation.

The small ledger on 2013-06-30: A-101 100.00 (due 03-31), A-102 250.00 (05-15),
A-103 400.00 (06-19), A-104 600.00 (07-10), all open.
"""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.collection import services
from app.collection.services import (
    ActionError,
    AllocationMode,
    PaymentAlreadyRecorded,
    SimilarPaymentRecorded,
    record_payment,
)
from app.extensions import db
from app.ledger.models import Allocation, Payment
from app.timeutil import business_date_of
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day

english = ledger_factory.english

KEY = "first-form-key-0000000001"
OTHER_KEY = "second-form-key-000000002"


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _pay(ledger, amount, customer=None, **options):
    options.setdefault("kind", "payment")
    options.setdefault("received_on", day("06-28"))
    return record_payment(
        ledger.collector,
        customer or ledger.customer,
        amount=Decimal(amount),
        **options,
    )


def _open_amounts(ledger) -> dict[str, str]:
    db.session.expire_all()
    return {n: str(i.open_amount) for n, i in ledger.invoices.items()}


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_payment_stores_key_and_recorder(ledger):
    payment = _pay(ledger, "420.00", submission_key=KEY)

    assert payment.submission_key == KEY
    assert payment.recorded_by_id == ledger.collector.id
    # Tests pin the business date to 2013-06-30, and the wall-clock time is kept.
    assert business_date_of(payment.recorded_at) == day("06-30")


def test_same_key_records_once(ledger, english):
    first = _pay(ledger, "420.00", reference="VIR-1", submission_key=KEY)
    after_first = _open_amounts(ledger)

    with pytest.raises(PaymentAlreadyRecorded) as raised:
        _pay(ledger, "420.00", reference="VIR-1", submission_key=KEY)

    assert raised.value.payment.id == first.id
    assert str(raised.value.message) == (
        "This payment was already recorded: €420.00 received on 6/28/2013. "
        "Nothing was recorded twice."
    )
    assert _count(Payment) == 1
    assert _count(Allocation) == 3
    assert _open_amounts(ledger) == after_first
    audited = select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "payment.record"
    )
    assert db.session.scalar(audited) == 1


def test_same_key_with_edited_amount_rejected(ledger):
    # Back, change the amount and send again. The form was already recorded once.
    first = _pay(ledger, "100.00", submission_key=KEY)

    with pytest.raises(PaymentAlreadyRecorded) as raised:
        _pay(ledger, "150.00", submission_key=KEY)

    assert raised.value.payment.id == first.id
    assert _count(Payment) == 1
    assert _open_amounts(ledger)["A-102"] == "250.00"


def test_same_key_credit_note_message(ledger, english):
    _pay(ledger, "60.00", kind="credit_note", submission_key=KEY)

    with pytest.raises(PaymentAlreadyRecorded) as raised:
        _pay(ledger, "60.00", kind="credit_note", submission_key=KEY)

    assert str(raised.value.message) == (
        "This credit note was already recorded: €60.00 on 6/28/2013. "
        "Nothing was recorded twice."
    )


def test_key_of_other_customer_rejected(ledger, english):
    _pay(ledger, "100.00", submission_key=KEY)

    with pytest.raises(ActionError) as raised:
        _pay(ledger, "80.00", customer=ledger.other_customer, submission_key=KEY)

    assert not isinstance(raised.value, PaymentAlreadyRecorded)
    assert str(raised.value.message) == (
        "This form was already used. Reload the page and enter the payment again."
    )
    assert _count(Payment) == 1
    assert _open_amounts(ledger)["B-201"] == "80.00"


def test_key_checked_again_after_insert_conflict(ledger, monkeypatch):
    # When two requests both pass the first check, the unique constraint stops
    # the second, which then reports the payment of the first.
    first = _pay(ledger, "100.00", submission_key=KEY)
    check = services._reject_recorded_submission
    calls = []

    def skip_first_check(customer, key):
        calls.append(key)
        if len(calls) == 1:
            return
        check(customer, key)

    monkeypatch.setattr(services, "_reject_recorded_submission", skip_first_check)

    with pytest.raises(PaymentAlreadyRecorded) as raised:
        _pay(ledger, "250.00", submission_key=KEY, confirm_similar=True)

    assert calls == [KEY, KEY]
    assert raised.value.payment.id == first.id
    assert _count(Payment) == 1
    assert _open_amounts(ledger)["A-102"] == "250.00"


@pytest.mark.parametrize(
    "key",
    ["short-key", "x" * 65, "has spaces in the key 0001", "quote'key-000000000001"],
    ids=["too short", "too long", "spaces", "quote"],
)
def test_malformed_key_rejected(ledger, key):
    with pytest.raises(ActionError) as raised:
        _pay(ledger, "100.00", submission_key=key)

    assert raised.value.field is None
    assert _count(Payment) == 0


def test_payment_without_key_recorded_twice(ledger):
    # Callers other than the form, such as scripts, pass no key and confirm.
    _pay(ledger, "10.00")
    _pay(ledger, "10.00", confirm_similar=True)

    assert _count(Payment) == 2


# --- Similar payments recorded in the last minutes ---------------------------------


def test_similar_payment_needs_confirmation(ledger, english):
    first = _pay(ledger, "100.00", reference="VIR-1", submission_key=KEY)

    with pytest.raises(SimilarPaymentRecorded) as raised:
        _pay(ledger, "100.00", reference="  vir-1 ", submission_key=OTHER_KEY)

    assert raised.value.payment.id == first.id
    assert raised.value.field == "confirm_similar"
    assert str(raised.value.message) == (
        "The same amount, €100.00, with the same date and reference was recorded "
        "on this account less than 15 minutes ago. If this is another payment, "
        "tick the box below and record it again."
    )
    assert _count(Payment) == 1
    assert _open_amounts(ledger)["A-102"] == "250.00"


def test_confirmed_similar_payment_recorded(ledger):
    _pay(ledger, "100.00", reference="VIR-1", submission_key=KEY)

    second = _pay(
        ledger,
        "100.00",
        reference="VIR-1",
        submission_key=OTHER_KEY,
        confirm_similar=True,
    )

    assert second.submission_key == OTHER_KEY
    assert _count(Payment) == 2
    # The first settled A-101, the second takes A-102 oldest first.
    assert _open_amounts(ledger)["A-101"] == "0.00"
    assert _open_amounts(ledger)["A-102"] == "150.00"


def test_empty_references_are_similar(ledger):
    _pay(ledger, "35.00", allocation=AllocationMode.UNALLOCATED)

    with pytest.raises(SimilarPaymentRecorded):
        _pay(ledger, "35.00", allocation=AllocationMode.UNALLOCATED)


DIFFERENT = [
    # (case, options of the second payment)
    ("other amount", {"amount": "100.01"}),
    ("other date", {"received_on": day("06-27")}),
    ("other reference", {"reference": "VIR-2"}),
    ("no reference", {"reference": ""}),
    ("credit note", {"kind": "credit_note"}),
]


@pytest.mark.parametrize(
    "options", [case[1] for case in DIFFERENT], ids=[case[0] for case in DIFFERENT]
)
def test_different_payment_not_similar(ledger, options):
    _pay(ledger, "100.00", reference="VIR-1")
    second = {"amount": "100.00", "reference": "VIR-1"} | options

    _pay(ledger, second.pop("amount"), **second)

    assert _count(Payment) == 2


def test_other_customer_payment_not_similar(ledger):
    _pay(ledger, "80.00", reference="VIR-1")

    _pay(ledger, "80.00", customer=ledger.other_customer, reference="VIR-1")

    assert _count(Payment) == 2


@pytest.mark.parametrize(
    ("minutes_ago", "similar"),
    [(14, True), (15, True), (16, False)],
    ids=["14 minutes", "15 minutes", "16 minutes"],
)
def test_similar_window_is_fifteen_minutes(ledger, minutes_ago, similar):
    first = _pay(ledger, "100.00", reference="VIR-1")
    now = services._naive_utc_now()
    # One second inside the window, because the check reads the clock later.
    moved = now - dt.timedelta(minutes=minutes_ago) + dt.timedelta(seconds=1)
    db.session.execute(
        update(Payment).where(Payment.id == first.id).values(recorded_at=moved)
    )
    db.session.commit()

    if similar:
        with pytest.raises(SimilarPaymentRecorded):
            _pay(ledger, "100.00", reference="VIR-1")
        assert _count(Payment) == 1
    else:
        _pay(ledger, "100.00", reference="VIR-1")
        assert _count(Payment) == 2


def test_legacy_payment_never_similar(ledger):
    legacy = Payment(
        customer_id=ledger.customer.id,
        received_on=day("06-28"),
        amount=Decimal("100.00"),
        reference="VIR-1",
        legacy_source="test",
        legacy_id="P-1",
    )
    db.session.add(legacy)
    db.session.commit()

    _pay(ledger, "100.00", reference="VIR-1")

    assert _count(Payment) == 2
