"""A collector's day in a real browser: worklist, a call, a promise, a PDF letter."""

from pathlib import Path

import pytest

from tests.collection.dunning_factories import pdf_text
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CUSTOMER = "0783-PEPYR"  # team country-406, invoice 3347423476 is 4 days late


def _submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} [type=submit]")
    assert page.locator(".flash-error").count() == 0, page.locator(
        ".flash-error"
    ).all_inner_texts()
    assert page.locator(".field-error").count() == 0, page.locator(
        ".field-error"
    ).all_inner_texts()


def test_collector_day(live_server, page, users, tmp_path):
    page.goto(live_server + "/login")
    page.fill("#email", "collector406@test.example")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(live_server + "/worklist")

    page.click(f"#worklist a:text-is('{CUSTOMER}')")
    page.wait_for_url("**/customers/*")
    assert page.locator("h1").inner_text().startswith(CUSTOMER)
    customer_url = page.url

    page.select_option("#activity-form select[name$='kind']", "call")
    page.select_option("#activity-form select[name$='outcome']", "reached")
    page.fill(
        "#activity-form textarea[name$='summary']", "Appel : paiement promis vendredi."
    )
    _submit(page, "#activity-form")
    assert "Appel : paiement promis vendredi." in page.content()

    page.goto(customer_url)
    page.fill("#promise-form input[name$='amount']", "104.52")
    page.fill("#promise-form input[name$='promised_date']", "2013-07-05")
    page.check("#promise-form input[type=checkbox] >> nth=0")
    _submit(page, "#promise-form")

    page.goto(customer_url)
    page.click("#customer-letters-link")
    page.wait_for_url("**/letters")
    page.select_option("#letter-form select[name='template_key']", "first_reminder")
    page.select_option("#letter-form select[name='language']", "fr")
    assert page.is_checked("#letter-form input[name='invoices'] >> nth=0")
    with page.expect_navigation():
        page.click("#generate-pdf")
    assert page.locator(".flash-error").count() == 0

    with page.expect_download() as download_info:
        page.click("#letters a.pdf-link >> nth=0")
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    assert download.suggested_filename.startswith(CUSTOMER)
    data = Path(saved).read_bytes()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert f"Réf. client : {CUSTOMER}" in text
    assert "3347423476" in text
    assert "104,52 €" in text
