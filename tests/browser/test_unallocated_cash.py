"""In a real browser: a payment form sent again after Back records one payment,
and its unallocated cash is applied to the open invoice later."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.ledger.models import Invoice, Payment
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CUSTOMER = "0783-PEPYR"  # team country-406, one open invoice: 3347423476, 104.52
REFERENCE = "VIR-RENVOI"


def _no_errors(page) -> None:
    for selector in (".flash-error", ".field-error"):
        errors = page.locator(selector)
        assert errors.count() == 0, errors.all_inner_texts()


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text().replace("\u00a0", " ").strip()


def test_resent_payment_then_cash_applied(live_server, page, users):
    page.goto(live_server + "/login")
    page.fill("#email", "collector406@test.example")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(live_server + "/worklist")
    page.click(f"#worklist a:text-is('{CUSTOMER}')")
    page.wait_for_url("**/customers/*")
    assert page.locator("#apply-cash-form").count() == 0

    page.fill("#payment-form input[name='payment-amount']", "150,00")
    page.fill("#payment-form input[name='payment-reference']", REFERENCE)
    page.select_option("#payment-form select[name='payment-allocation']", "unallocated")
    with page.expect_navigation():
        page.click("#payment-form [type=submit]")
    _no_errors(page)
    account_url = page.url

    # Back to the filled form, and send it again.
    page.go_back()
    assert page.input_value("#payment-form input[name='payment-amount']") == "150,00"
    with page.expect_navigation():
        page.click("#payment-form [type=submit]")

    # Chromium either sends the form's own key again, which the server reports as
    # already recorded, or reloads the page with a new key. Then the server
    # requests a confirmation of the same payment.
    already_recorded = page.locator(".flash-warning").count()
    confirmation = page.locator("#payment-confirm-similar .field-error").count()
    assert already_recorded + confirmation == 1
    db.session.expire_all()
    recorded = db.session.scalars(
        select(Payment).where(Payment.reference == REFERENCE)
    ).all()
    assert [str(payment.amount) for payment in recorded] == ["150.00"]

    page.goto(account_url)
    assert _text(page, "#unallocated-total") == "150,00 €"
    page.click("#apply-cash-link")
    page.select_option(
        "#apply-cash-form select[name='apply-allocation']", "oldest_first"
    )
    with page.expect_navigation():
        page.click("#apply-cash-form [type=submit]")
    _no_errors(page)

    # 104.52 settles invoice 3347423476 and 45.48 stays unallocated.
    assert _text(page, "#unallocated-total") == "45,48 €"
    assert page.locator("#open-invoices").count() == 0
    assert page.locator("#history li[data-kind='cash_applied']").count() == 1
    db.session.expire_all()
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "3347423476"))
    assert invoice.open_amount == Decimal("0.00")
    assert invoice.status == "paid"
