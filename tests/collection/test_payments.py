"""Recording payments and credit notes, and allocating them to invoices.

The small ledger on 2013-06-30: A-101 100.00 (due 03-31), A-102 250.00 (05-15),
A-103 400.00 (06-19), A-104 600.00 (07-10), all open.
"""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.account import unallocated_payments
from app.collection.services import ActionError, AllocationMode, record_payment
from app.extensions import db
from app.ledger.models import Allocation, Invoice, Payment
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day

# A fixture shared with other modules of this folder.
english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _open_amounts(ledger) -> dict[str, tuple[str, str]]:
    db.session.expire_all()
    return {
        number: (str(invoice.open_amount), invoice.status)
        for number, invoice in ledger.invoices.items()
    }


def _pay(ledger, amount, **options):
    options.setdefault("kind", "payment")
    options.setdefault("received_on", day("06-28"))
    return record_payment(
        ledger.collector, ledger.customer, amount=Decimal(amount), **options
    )


def _lines(ledger, *pairs):
    return [(ledger.invoices[number].id, Decimal(amount)) for number, amount in pairs]


def test_oldest_first_allocation(ledger):
    payment = _pay(ledger, "420.00", reference="VIR-1")

    # 100.00 to A-101 and 250.00 to A-102 settle them, and 70.00 goes to A-103.
    assert [(a.invoice.number, str(a.amount)) for a in payment.allocations] == [
        ("A-101", "100.00"),
        ("A-102", "250.00"),
        ("A-103", "70.00"),
    ]
    assert _open_amounts(ledger) == {
        "A-101": ("0.00", "paid"),
        "A-102": ("0.00", "paid"),
        "A-103": ("330.00", "open"),
        "A-104": ("600.00", "open"),
        "B-201": ("80.00", "open"),
    }
    assert unallocated_payments(ledger.customer) == []


def test_overpayment_leaves_unallocated_cash(ledger):
    payment = _pay(ledger, "1500.00")

    # 100 + 250 + 400 + 600 = 1350.00 allocated, 150.00 left.
    assert sum(a.amount for a in payment.allocations) == Decimal("1350.00")
    assert {status for _, status in _open_amounts(ledger).values()} == {"paid", "open"}
    assert _open_amounts(ledger)["A-104"] == ("0.00", "paid")
    [rest] = unallocated_payments(ledger.customer)
    assert rest.payment.id == payment.id
    assert rest.unallocated == Decimal("150.00")


def test_oldest_first_skips_disputed_invoices(ledger):
    ledger.invoices["A-101"].disputed = True
    db.session.commit()

    payment = _pay(ledger, "300.00")

    assert [(a.invoice.number, str(a.amount)) for a in payment.allocations] == [
        ("A-102", "250.00"),
        ("A-103", "50.00"),
    ]
    assert _open_amounts(ledger)["A-101"] == ("100.00", "open")


def test_chosen_allocation(ledger):
    payment = _pay(
        ledger,
        "500.00",
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-103", "400.00"), ("A-104", "100.00")),
    )

    assert len(payment.allocations) == 2
    assert _open_amounts(ledger)["A-103"] == ("0.00", "paid")
    assert _open_amounts(ledger)["A-104"] == ("500.00", "open")
    assert _open_amounts(ledger)["A-101"] == ("100.00", "open")


def test_chosen_allocation_may_leave_a_rest(ledger):
    _pay(
        ledger,
        "300.00",
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-101", "0.01"), ("A-104", "199.99")),
    )

    # 300.00 - 0.01 - 199.99 = 100.00 unallocated.
    assert _open_amounts(ledger)["A-101"] == ("99.99", "open")
    assert _open_amounts(ledger)["A-104"] == ("400.01", "open")
    assert [u.unallocated for u in unallocated_payments(ledger.customer)] == [
        Decimal("100.00")
    ]


def test_chosen_allocation_takes_disputed_invoice(ledger):
    ledger.invoices["A-101"].disputed = True
    db.session.commit()

    _pay(
        ledger,
        "100.00",
        allocation=AllocationMode.CHOSEN,
        lines=_lines(ledger, ("A-101", "100.00")),
    )

    assert _open_amounts(ledger)["A-101"] == ("0.00", "paid")


def test_unallocated_mode_allocates_nothing(ledger):
    payment = _pay(ledger, "75.50", allocation=AllocationMode.UNALLOCATED)

    assert payment.allocations == []
    assert [u.unallocated for u in unallocated_payments(ledger.customer)] == [
        Decimal("75.50")
    ]


def test_credit_note_allocates_like_payment(ledger):
    credit = _pay(ledger, "60.00", kind="credit_note", reference="AV-9")

    assert credit.kind == "credit_note"
    assert _open_amounts(ledger)["A-101"] == ("40.00", "open")


def test_payment_is_audited(ledger):
    payment = _pay(ledger, "1400.00", reference="VIR-77")

    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "payment.record")
    )
    assert entry.actor_label == "collector-a@small.example"
    assert entry.target == "customer A-1"
    assert entry.after == {
        "payment_id": payment.id,
        "kind": "payment",
        "received_on": "2013-06-28",
        "amount": "1400.00",
        "reference": "VIR-77",
        "allocations": [
            {"invoice": "A-101", "amount": "100.00"},
            {"invoice": "A-102", "amount": "250.00"},
            {"invoice": "A-103", "amount": "400.00"},
            {"invoice": "A-104", "amount": "600.00"},
        ],
        "unallocated": "50.00",
    }


def test_payment_today_accepted(ledger):
    payment = _pay(ledger, "10.00", received_on=day("06-30"))

    assert payment.received_on == day("06-30")


REJECTED = [
    # (case, amount, options, field)
    ("zero amount", "0.00", {}, "amount"),
    ("negative amount", "-5.00", {}, "amount"),
    ("three decimals", "10.005", {}, "amount"),
    ("amount too large", "1000000000000.00", {}, "amount"),
    ("amount with exponent", "1E+40", {}, "amount"),
    ("opening balance kind", "10.00", {"kind": "opening"}, "kind"),
    ("unknown kind", "10.00", {"kind": "cheque"}, "kind"),
    ("received tomorrow", "10.00", {"received_on": day("07-01")}, "received_on"),
    ("reference too long", "10.00", {"reference": "R" * 129}, "reference"),
    ("chosen without lines", "10.00", {"allocation": "chosen"}, "allocations"),
]


@pytest.mark.parametrize(
    ("amount", "options", "field"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_payment_rejected(ledger, amount, options, field):
    before = _open_amounts(ledger)

    with pytest.raises(ActionError) as raised:
        _pay(ledger, amount, **options)

    assert raised.value.field == field
    assert db.session.scalar(select(func.count(Payment.id))) == 0
    assert _open_amounts(ledger) == before


BAD_LINES = [
    # (case, payment amount, lines)
    ("above open amount", "500.00", [("A-101", "100.01")]),
    ("above payment", "100.00", [("A-102", "60.00"), ("A-103", "40.01")]),
    ("other customer's invoice", "50.00", [("B-201", "50.00")]),
    ("same invoice twice", "50.00", [("A-102", "20.00"), ("A-102", "20.00")]),
    ("zero line", "50.00", [("A-102", "0.00")]),
    ("negative line", "50.00", [("A-102", "-1.00")]),
]


@pytest.mark.parametrize(
    ("amount", "pairs"),
    [case[1:] for case in BAD_LINES],
    ids=[case[0] for case in BAD_LINES],
)
def test_invalid_allocation_rejected(ledger, amount, pairs):
    before = _open_amounts(ledger)

    with pytest.raises(ActionError) as raised:
        _pay(
            ledger,
            amount,
            allocation=AllocationMode.CHOSEN,
            lines=_lines(ledger, *pairs),
        )

    assert raised.value.field == "allocations"
    assert db.session.scalar(select(func.count(Allocation.id))) == 0
    assert _open_amounts(ledger) == before


def test_paid_invoice_cannot_be_allocated_again(ledger):
    _pay(ledger, "100.00")

    with pytest.raises(ActionError):
        _pay(
            ledger,
            "10.00",
            allocation=AllocationMode.CHOSEN,
            lines=_lines(ledger, ("A-101", "10.00")),
        )


def test_failure_rolls_back_everything(ledger, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("app.collection.services.audit.record", fail)
    before = _open_amounts(ledger)

    with pytest.raises(RuntimeError, match="audit log unavailable"):
        _pay(ledger, "420.00")

    assert _open_amounts(ledger) == before
    assert db.session.scalar(select(func.count(Payment.id))) == 0
    assert db.session.scalar(select(func.count(Allocation.id))) == 0


def test_error_messages_name_the_problem(ledger, english):
    with pytest.raises(ActionError) as raised:
        _pay(
            ledger,
            "500.00",
            allocation=AllocationMode.CHOSEN,
            lines=_lines(ledger, ("A-101", "150.00")),
        )

    assert str(raised.value.message) == "Invoice A-101 has only €100.00 open."


def test_open_amount_sum_matches_ledger(ledger):
    _pay(ledger, "333.33")
    _pay(ledger, "0.67", kind="credit_note")

    open_total = db.session.scalar(
        select(func.sum(Invoice.open_amount)).where(
            Invoice.customer_id == ledger.customer.id
        )
    )
    # 1350.00 - 333.33 - 0.67
    assert open_total == Decimal("1016.00")


def test_error_text_english_outside_requests(ledger):
    with pytest.raises(ActionError) as raised:
        _pay(ledger, "0.00")

    assert str(raised.value) == "The amount must be greater than zero."
