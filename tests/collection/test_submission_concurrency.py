"""The same payment form sent at the same moment from several threads records one
payment, and the same cash applied at the same moment is applied once."""

import threading
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import func, select

from app.auth.models import User
from app.collection.services import (
    ActionError,
    AllocationMode,
    PaymentAlreadyRecorded,
    apply_unallocated_cash,
    record_payment,
)
from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from tests.conftest import IBM_AS_OF

WORKERS = 6
KEY = "parallel-form-key-0000001"


def _run_in_parallel(
    app, action: Callable[[User, Customer], None], user_id: int, customer_id: int
) -> list[BaseException]:
    """Run ``action`` in WORKERS threads released together, and return the
    exceptions they raised."""
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                customer = db.session.get(Customer, customer_id)
                barrier.wait(timeout=10)
                action(user, customer)
            except BaseException as error:  # checked by the caller
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _invoice() -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.number == "3347423476"))


def test_parallel_same_key_records_once(app, users):
    invoice = _invoice()
    invoice_id, customer_id, start = (
        invoice.id,
        invoice.customer_id,
        invoice.open_amount,
    )
    manager_id = users["manager"].id
    payments_before = db.session.scalar(select(func.count(Payment.id)))
    db.session.commit()

    def pay(user, customer):
        record_payment(
            user,
            customer,
            kind="payment",
            received_on=IBM_AS_OF,
            amount=Decimal("1.00"),
            reference="DOUBLE-CLICK",
            allocation=AllocationMode.CHOSEN,
            lines=[(invoice_id, Decimal("1.00"))],
            submission_key=KEY,
        )

    errors = _run_in_parallel(app, pay, manager_id, customer_id)

    assert len(errors) == WORKERS - 1
    assert all(isinstance(error, PaymentAlreadyRecorded) for error in errors), errors
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Payment.id))) == payments_before + 1
    assert db.session.get(Invoice, invoice_id).open_amount == start - Decimal("1.00")


def test_parallel_applications_apply_cash_once(app, users):
    invoice = _invoice()
    invoice_id, customer_id, start = (
        invoice.id,
        invoice.customer_id,
        invoice.open_amount,
    )
    manager = users["manager"]
    record_payment(
        manager,
        db.session.get(Customer, customer_id),
        kind="payment",
        received_on=IBM_AS_OF,
        amount=Decimal("2.00"),
        allocation=AllocationMode.UNALLOCATED,
    )
    manager_id = manager.id
    db.session.commit()

    def apply(user, customer):
        apply_unallocated_cash(
            user,
            customer,
            allocation=AllocationMode.CHOSEN,
            lines=[(invoice_id, Decimal("2.00"))],
            expected_unallocated=Decimal("2.00"),
        )

    errors = _run_in_parallel(app, apply, manager_id, customer_id)

    assert len(errors) == WORKERS - 1
    assert all(type(error) is ActionError for error in errors), errors
    db.session.expire_all()
    applied = db.session.scalar(
        select(func.sum(Allocation.amount)).where(Allocation.applied_at.is_not(None))
    )
    assert applied == Decimal("2.00")
    assert db.session.get(Invoice, invoice_id).open_amount == start - Decimal("2.00")
