"""Payments recorded at the same moment never lose an allocation."""

import threading
from decimal import Decimal

from sqlalchemy import select

from app.auth.models import User
from app.collection.services import AllocationMode, record_payment
from app.extensions import db
from app.ledger.models import Customer, Invoice
from tests.conftest import IBM_AS_OF

WORKERS = 6


def test_parallel_payments_keep_open_amount_exact(app, users):
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "3347423476"))
    invoice_id = invoice.id
    customer_id = invoice.customer_id
    start = invoice.open_amount
    manager_id = users["manager"].id
    db.session.commit()
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def pay(index: int) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, manager_id)
                customer = db.session.get(Customer, customer_id)
                barrier.wait(timeout=10)
                record_payment(
                    user,
                    customer,
                    kind="payment",
                    received_on=IBM_AS_OF,
                    amount=Decimal("1.00"),
                    reference=f"PARALLEL-{index}",
                    allocation=AllocationMode.CHOSEN,
                    lines=[(invoice_id, Decimal("1.00"))],
                )
            except BaseException as error:  # reported by the assert below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice_id)
    assert invoice.open_amount == start - Decimal("6.00")
    allocated = sum(a.amount for a in invoice.allocations)
    assert allocated == Decimal("6.00")
