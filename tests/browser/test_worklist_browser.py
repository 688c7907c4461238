"""A collector logs in with a real browser and reads the worklist."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page, base_url, email):
    page.goto(base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")


def test_collector_reads_worklist(live_server, page, users):
    _log_in(page, live_server, "collector406@test.example")

    page.wait_for_url(live_server + "/worklist")
    rows = page.locator("#worklist tbody tr")
    assert rows.count() == 5
    first = rows.nth(0).locator("td")
    assert first.nth(1).inner_text().strip() == "5573-KSOIA"
    assert first.nth(4).inner_text().strip() == "98,88\u00a0€"
    assert "Priorité" in page.locator("p.explain").inner_text()


def test_collector_switches_to_english(live_server, page, users):
    _log_in(page, live_server, "collector406@test.example")
    page.wait_for_url(live_server + "/worklist")

    page.click("button[lang=en]")

    page.wait_for_url(live_server + "/worklist")
    assert page.locator("h1").inner_text() == "Worklist"
    assert page.locator("#worklist tbody tr").nth(0).locator("td").nth(4).inner_text() == "€98.88"


def test_wrong_password_stays_on_login(live_server, page, users):
    page.goto(live_server + "/login")
    page.fill("#email", "collector406@test.example")
    page.fill("#password", "wrong-password")
    page.click("#submit")

    assert "incorrect" in page.locator(".flash-error").inner_text()
    assert page.url.endswith("/login")
