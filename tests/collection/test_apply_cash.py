"""Applying a customer's unallocated cash to open invoices after it was recorded.

The small ledger on 2013-06-30: A-101 100.00 (due 03-31), A-102 250.00 (05-15),
A-103 400.00 (06-19), A-104 600.00 (07-10), all open. B-201 80.00 belongs to
another customer.
"""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.account import customer_history_events, unallocated_payments
from app.collection.models import Promise, PromiseStatus
from app.collection.services import (
    ActionError,
    AllocationMode,
    apply_unallocated_cash,
    record_payment,
)
from app.extensions import db
from app.ledger.models import Allocation
from app.timeutil import business_date_of, business_now
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day

english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _unallocated(ledger, amount, kind="payment", received_on="06-28", reference=""):
    return record_payment(
        ledger.collector,
        ledger.customer,
        kind=kind,
        received_on=day(received_on),
        amount=Decimal(amount),
        reference=reference,
        allocation=AllocationMode.UNALLOCATED,
    )


def _apply(ledger, **options):
    return apply_unallocated_cash(ledger.collector, ledger.customer, **options)


def _lines(ledger, *pairs):
    return [(ledger.invoices[number].id, Decimal(amount)) for number, amount in pairs]


def _open_amounts(ledger) -> dict[str, tuple[str, str]]:
    db.session.expire_all()
    return {
        number: (str(invoice.open_amount), invoice.status)
        for number, invoice in ledger.invoices.items()
    }


def _rests(ledger) -> list[str]:
    return [str(u.unallocated) for u in unallocated_payments(ledger.customer)]


def _count_allocations() -> int:
    return db.session.scalar(select(func.count(Allocation.id)))


def test_oldest_first_applies_all_cash(ledger):
    payment = _unallocated(ledger, "500.00")

    allocations = _apply(ledger)

    # 100.00 settles A-101, 250.00 settles A-102, and 150.00 goes to A-103.
    assert [(a.invoice.number, str(a.amount)) for a in allocations] == [
        ("A-101", "100.00"),
        ("A-102", "250.00"),
        ("A-103", "150.00"),
    ]
    assert {a.payment_id for a in allocations} == {payment.id}
    assert _open_amounts(ledger) == {
        "A-101": ("0.00", "paid"),
        "A-102": ("0.00", "paid"),
        "A-103": ("250.00", "open"),
        "A-104": ("600.00", "open"),
        "B-201": ("80.00", "open"),
    }
    assert _rests(ledger) == []


def test_applied_allocations_carry_user_and_time(ledger):
    _unallocated(ledger, "100.00")

    [allocation] = _apply(ledger)

    assert allocation.applied_by_id == ledger.collector.id
    assert business_date_of(allocation.applied_at) == day("06-30")


def test_oldest_first_with_amount(ledger):
    _unallocated(ledger, "500.00")

    _apply(ledger, amount=Decimal("120.00"))

    assert _open_amounts(ledger)["A-101"] == ("0.00", "paid")
    assert _open_amounts(ledger)["A-102"] == ("230.00", "open")
    assert _rests(ledger) == ["380.00"]


def test_cash_beyond_open_invoices_stays_unallocated(ledger):
    _unallocated(ledger, "1400.00")

    allocations = _apply(ledger)

    # The four invoices need 1350.00, so 50.00 stays unallocated.
    assert sum(a.amount for a in allocations) == Decimal("1350.00")
    assert _rests(ledger) == ["50.00"]


def test_oldest_first_skips_disputed(ledger):
    ledger.invoices["A-101"].disputed = True
    db.session.commit()
    _unallocated(ledger, "300.00")

    allocations = _apply(ledger)

    assert [(a.invoice.number, str(a.amount)) for a in allocations] == [
        ("A-102", "250.00"),
        ("A-103", "50.00"),
    ]
    assert _open_amounts(ledger)["A-101"] == ("100.00", "open")


def test_chosen_lines_may_name_disputed_invoice(ledger):
    ledger.invoices["A-101"].disputed = True
    db.session.commit()
    _unallocated(ledger, "300.00")

    _apply(
        ledger,
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-101", "100.00"), ("A-104", "50.00")),
    )

    assert _open_amounts(ledger)["A-101"] == ("0.00", "paid")
    assert _open_amounts(ledger)["A-104"] == ("550.00", "open")
    assert _rests(ledger) == ["150.00"]


def test_oldest_cash_used_first(ledger):
    credit = _unallocated(ledger, "60.00", kind="credit_note", received_on="06-01")
    payment = _unallocated(ledger, "100.00", received_on="06-28")

    allocations = _apply(
        ledger,
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-102", "130.00")),
    )

    # The credit note of 06-01 is used up first, then 70.00 of the payment.
    assert [(a.payment_id, str(a.amount)) for a in allocations] == [
        (credit.id, "60.00"),
        (payment.id, "70.00"),
    ]
    assert _open_amounts(ledger)["A-102"] == ("120.00", "open")
    assert _rests(ledger) == ["30.00"]


def test_partly_allocated_payment_rest_applied(ledger):
    payment = record_payment(
        ledger.collector,
        ledger.customer,
        kind="payment",
        received_on=day("06-28"),
        amount=Decimal("300.00"),
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-104", "200.00")),
    )

    [allocation] = _apply(ledger)

    assert allocation.payment_id == payment.id
    assert allocation.invoice.number == "A-101"
    assert str(allocation.amount) == "100.00"
    assert _rests(ledger) == []


def test_application_is_audited(ledger):
    payment = _unallocated(ledger, "400.00")

    _apply(ledger, amount=Decimal("150.00"))

    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "payment.apply")
    )
    assert entry.actor_label == "collector-a@small.example"
    assert entry.target == "customer A-1"
    assert entry.before == {"unallocated": "400.00"}
    assert entry.after == {
        "allocations": [
            {"payment_id": payment.id, "invoice": "A-101", "amount": "100.00"},
            {"payment_id": payment.id, "invoice": "A-102", "amount": "50.00"},
        ],
        "unallocated": "250.00",
    }


def test_application_in_account_history(ledger):
    _unallocated(ledger, "400.00")
    _apply(ledger, amount=Decimal("150.00"))

    entries, truncated = customer_history_events(ledger.customer)

    assert truncated is False
    assert [entry.kind for entry in entries] == ["cash_applied", "payment"]
    applied = entries[0]
    assert applied.on == day("06-30")
    assert applied.user.id == ledger.collector.id
    assert applied.item.total == Decimal("150.00")
    assert applied.item.invoice_numbers == ["A-101", "A-102"]


def test_two_applications_two_history_entries(ledger):
    _unallocated(ledger, "400.00")
    _apply(ledger, amount=Decimal("100.00"))
    _apply(
        ledger,
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-104", "20.00"), ("A-103", "30.00")),
    )

    entries, _ = customer_history_events(ledger.customer)

    applied = [entry.item for entry in entries if entry.kind == "cash_applied"]
    # Newest first, and the invoices of each in the order of its lines.
    assert [(str(a.total), a.invoice_numbers) for a in applied] == [
        ("50.00", ["A-104", "A-103"]),
        ("100.00", ["A-101"]),
    ]


def test_application_keeps_a_promise(ledger):
    promise = Promise(
        customer_id=ledger.customer.id,
        user_id=ledger.collector.id,
        amount=Decimal("250.00"),
        promised_date=day("07-05"),
        status=PromiseStatus.PENDING,
        created_at=business_now(),
        invoices=[ledger.invoices["A-102"]],
    )
    db.session.add(promise)
    db.session.commit()
    # Received today, after the promise was made, but not allocated yet.
    _unallocated(ledger, "250.00", received_on="06-30")
    assert db.session.get(Promise, promise.id).status == PromiseStatus.PENDING

    _apply(
        ledger,
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-102", "250.00")),
    )

    db.session.expire_all()
    kept = db.session.get(Promise, promise.id)
    assert kept.status == PromiseStatus.KEPT
    assert kept.resolved_on == day("06-30")


def test_form_sent_twice_applies_once(ledger, english):
    _unallocated(ledger, "500.00")
    _apply(ledger, expected_unallocated=Decimal("500.00"))
    after_first = _open_amounts(ledger)

    with pytest.raises(ActionError) as raised:
        _apply(ledger, expected_unallocated=Decimal("500.00"))

    assert str(raised.value.message) == (
        "The unallocated cash changed since this page was shown and is now €0.00. "
        "Nothing was applied. Check the account and apply the cash again."
    )
    assert _open_amounts(ledger) == after_first
    assert _count_allocations() == 3


def test_matching_expected_total_applies(ledger):
    _unallocated(ledger, "80.00")
    _unallocated(ledger, "20.00", kind="credit_note")

    allocations = _apply(ledger, expected_unallocated=Decimal("100.00"))

    assert sum(a.amount for a in allocations) == Decimal("100.00")


REJECTED = [
    # (case, options, field, English message)
    (
        "amount above cash",
        {"amount": "200.01"},
        "amount",
        "The amount is above the unallocated cash, €200.00.",
    ),
    (
        "zero amount",
        {"amount": "0.00"},
        "amount",
        "The amount must be greater than zero.",
    ),
    (
        "lines above cash",
        {"allocation": "chosen", "pairs": [("A-102", "150.00"), ("A-103", "50.01")]},
        "allocations",
        "The amounts add up to €200.01, more than the unallocated cash, €200.00.",
    ),
    (
        "line above open amount",
        {"allocation": "chosen", "pairs": [("A-101", "100.01")]},
        "allocations",
        "Invoice A-101 has only €100.00 open.",
    ),
    (
        "other customer's invoice",
        {"allocation": "chosen", "pairs": [("B-201", "10.00")]},
        "allocations",
        "Choose among the open invoices of this customer.",
    ),
    (
        "same invoice twice",
        {"allocation": "chosen", "pairs": [("A-102", "10.00"), ("A-102", "10.00")]},
        "allocations",
        "Choose among the open invoices of this customer.",
    ),
    (
        "negative line",
        {"allocation": "chosen", "pairs": [("A-102", "-1.00")]},
        "allocations",
        "The amount must be greater than zero.",
    ),
    (
        "chosen without lines",
        {"allocation": "chosen", "pairs": []},
        "allocations",
        "Enter the amount to allocate to at least one invoice.",
    ),
    (
        "unallocated mode",
        {"allocation": "unallocated"},
        "allocation",
        "Choose how to apply the cash.",
    ),
    (
        "stale expected total",
        {"expected": "150.00"},
        None,
        "The unallocated cash changed since this page was shown and is now "
        "€200.00. Nothing was applied. Check the account and apply the cash again.",
    ),
]


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_application_rejected(ledger, english, options, field, message):
    _unallocated(ledger, "200.00")
    before = _open_amounts(ledger)
    arguments = {
        "allocation": AllocationMode(options.get("allocation", "oldest_first"))
    }
    if "amount" in options:
        arguments["amount"] = Decimal(options["amount"])
    if "pairs" in options:
        arguments["lines"] = _lines(ledger, *options["pairs"])
    if "expected" in options:
        arguments["expected_unallocated"] = Decimal(options["expected"])

    with pytest.raises(ActionError) as raised:
        _apply(ledger, **arguments)

    assert raised.value.field == field
    assert str(raised.value.message) == message
    assert _open_amounts(ledger) == before
    assert _count_allocations() == 0
    assert _rests(ledger) == ["200.00"]


def test_no_cash_rejected(ledger, english):
    with pytest.raises(ActionError) as raised:
        _apply(ledger)

    assert str(raised.value.message) == "This account has no unallocated cash."


def test_only_disputed_invoices_left_rejected(ledger, english):
    for invoice in ledger.invoices.values():
        invoice.disputed = True
    db.session.commit()
    _unallocated(ledger, "50.00")

    with pytest.raises(ActionError) as raised:
        _apply(ledger)

    assert raised.value.field == "allocation"
    assert str(raised.value.message) == (
        "No undisputed open invoice is left. Choose the invoices to apply the cash to."
    )
    assert _count_allocations() == 0
