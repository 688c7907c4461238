"""How far ahead a promise to pay may go, and how its dunning pause is shown.

The small ledger on 2013-06-30: A-101 100.00, A-102 250.00, A-103 400.00 and A-104
600.00 open for customer A-1. The default horizon is 90 days, so 2013-09-28.
"""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.collection.models import Promise, PromiseStatus
from app.collection.promises import dunning_pause, latest_promise_date
from app.collection.services import (
    ActionError,
    cancel_promise,
    create_promise,
    refresh_promises,
)
from app.collection.worklist import build_worklist
from app.config import _whole_days
from app.extensions import db
from tests.collection import ledger_factory
from tests.collection.ledger_factory import build_small_ledger, day
from tests.conftest import PASSWORD

english = ledger_factory.english


@pytest.fixture
def ledger(app):
    return build_small_ledger()


def _promise(ledger, amount, by: dt.date, *numbers):
    return create_promise(
        ledger.collector,
        ledger.customer,
        amount=Decimal(amount),
        promised_date=by,
        invoice_ids=[ledger.invoices[n].id for n in numbers],
    )


def _promise_count() -> int:
    return db.session.scalar(select(func.count(Promise.id)))


# --- Horizon ----------------------------------------------------------------------


def test_default_horizon_is_90_days(app):
    assert app.config["PROMISE_MAX_DAYS"] == 90
    assert latest_promise_date(day("06-30")) == day("09-28")


def test_promise_on_last_day_accepted(ledger):
    promise = _promise(ledger, "100.00", day("09-28"), "A-101")

    assert promise.status == PromiseStatus.PENDING
    assert promise.promised_date == day("09-28")


@pytest.mark.parametrize(
    "by",
    [day("09-29"), dt.date(2031, 1, 15)],
    ids=["day after horizon", "years ahead"],
)
def test_promise_beyond_horizon_rejected(ledger, english, by):
    with pytest.raises(ActionError) as raised:
        _promise(ledger, "100.00", by, "A-101")

    assert raised.value.field == "promised_date"
    assert str(raised.value.message) == (
        "The promised date can be 90 days from today at most, so 9/28/2013 at the "
        "latest."
    )
    assert _promise_count() == 0


def test_horizon_follows_configuration(app, ledger, english, monkeypatch):
    monkeypatch.setitem(app.config, "PROMISE_MAX_DAYS", 10)

    with pytest.raises(ActionError) as raised:
        _promise(ledger, "100.00", day("07-11"), "A-101")
    promise = _promise(ledger, "100.00", day("07-10"), "A-101")

    assert str(raised.value.message) == (
        "The promised date can be 10 days from today at most, so 7/10/2013 at the "
        "latest."
    )
    assert promise.promised_date == day("07-10")
    assert _promise_count() == 1


def test_horizon_counts_from_business_date(app, ledger, monkeypatch):
    monkeypatch.setitem(app.config, "BUSINESS_DATE", "2013-07-15")

    promise = _promise(ledger, "100.00", day("10-13"), "A-101")

    assert promise.promised_date == day("10-13")
    with pytest.raises(ActionError):
        _promise(ledger, "250.00", day("10-14"), "A-102")


def test_past_date_message(ledger, english):
    with pytest.raises(ActionError) as raised:
        _promise(ledger, "100.00", day("06-29"), "A-101")

    assert raised.value.field == "promised_date"
    assert str(raised.value.message) == "The promised date cannot be in the past."


def test_amount_above_whole_account_rejected(ledger, english):
    # 100 + 250 + 400 + 600 = 1350.00 open on the account.
    with pytest.raises(ActionError) as raised:
        _promise(ledger, "1350.01", day("07-05"))

    assert raised.value.field == "amount"
    assert str(raised.value.message) == (
        "The amount is above the open balance of the account, €1,350.00."
    )
    assert _promise_count() == 0


@pytest.mark.parametrize(
    ("text", "days"),
    [(None, 90), ("", 90), ("30", 30), (" 7 ", 7), ("1", 1)],
)
def test_horizon_variable_read(monkeypatch, text, days):
    if text is None:
        monkeypatch.delenv("CADENCE_PROMISE_MAX_DAYS", raising=False)
    else:
        monkeypatch.setenv("CADENCE_PROMISE_MAX_DAYS", text)

    assert _whole_days("CADENCE_PROMISE_MAX_DAYS", 90) == days


@pytest.mark.parametrize("text", ["0", "-5", "abc", "1.5", "٣"])
def test_horizon_variable_invalid(monkeypatch, text):
    monkeypatch.setenv("CADENCE_PROMISE_MAX_DAYS", text)

    with pytest.raises(ValueError) as raised:
        _whole_days("CADENCE_PROMISE_MAX_DAYS", 90)

    assert str(raised.value) == (
        "CADENCE_PROMISE_MAX_DAYS must be a whole number of days, at least 1, "
        f"not {text!r}"
    )


# --- Dunning pause ----------------------------------------------------------------


def test_pause_is_latest_pending_promise(ledger):
    first = _promise(ledger, "100.00", day("07-20"), "A-101")
    second = _promise(ledger, "250.00", day("08-15"), "A-102")
    third = _promise(ledger, "400.00", day("07-05"), "A-103")

    pause = dunning_pause([first, second, third])

    assert pause.until == day("08-15")
    assert pause.promise_id == second.id
    assert pause.pending_count == 3


def test_no_pause_without_pending_promise(ledger):
    promise = _promise(ledger, "100.00", day("07-20"), "A-101")
    cancel_promise(ledger.collector, promise)

    assert dunning_pause([promise]) is None


def test_pause_ends_when_promise_broken(app, ledger, monkeypatch):
    promise = _promise(ledger, "100.00", day("07-05"), "A-101")
    monkeypatch.setitem(app.config, "BUSINESS_DATE", "2013-07-06")

    refresh_promises(day("07-06"))

    assert promise.status == PromiseStatus.BROKEN
    assert dunning_pause([promise]) is None


def test_worklist_row_carries_pause(ledger):
    _promise(ledger, "100.00", day("07-20"), "A-101")
    later = _promise(ledger, "250.00", day("08-15"), "A-102")

    rows = build_worklist(ledger.collector, day("06-30"))

    [row] = rows
    assert row.reference == "A-1"
    assert row.dunning_pause.until == day("08-15")
    assert row.dunning_pause.promise_id == later.id
    assert row.dunning_pause.pending_count == 2


def test_worklist_row_without_promise(ledger):
    [row] = build_worklist(ledger.collector, day("06-30"))

    assert row.dunning_pause is None


# --- Pages ------------------------------------------------------------------------


def _login_english(client, ledger):
    client.post(
        "/login", data={"email": "collector-a@small.example", "password": PASSWORD}
    )
    client.post("/language/en")


def test_account_page_shows_pause(client, ledger):
    promise = _promise(ledger, "100.00", day("08-15"), "A-101")
    _login_english(client, ledger)

    html = client.get(f"/customers/{ledger.customer.id}").get_data(as_text=True)

    assert (
        f"Dunning of this customer is paused until 8/15/2013 by promise "
        f"#{promise.id}: no reminder is sent while a promise to pay is pending."
    ) in html
    assert f'id="promise-{promise.id}"' in html
    # The date field offers today to the horizon, and its hint shows the last day.
    assert 'min="2013-06-30"' in html
    assert 'max="2013-09-28"' in html
    assert "From today to 9/28/2013 at the latest." in html


def test_account_page_without_pause(client, ledger):
    _login_english(client, ledger)

    html = client.get(f"/customers/{ledger.customer.id}").get_data(as_text=True)

    assert 'id="dunning-pause"' not in html


def test_worklist_page_shows_pause(client, ledger):
    promise = _promise(ledger, "100.00", day("08-15"), "A-101")
    _login_english(client, ledger)

    html = client.get("/worklist").get_data(as_text=True)

    assert f"Dunning paused until 8/15/2013 by promise #{promise.id}" in html


def test_form_beyond_horizon_shows_error(client, ledger):
    _login_english(client, ledger)

    response = client.post(
        f"/customers/{ledger.customer.id}/promises",
        data={
            "promise-amount": "100.00",
            "promise-promised_date": "2031-01-15",
            "promise-invoice_ids": [str(ledger.invoices["A-101"].id)],
        },
    )

    assert response.status_code == 400
    assert (
        "The promised date can be 90 days from today at most, so 9/28/2013 at the "
        "latest."
    ) in response.get_data(as_text=True)
    assert _promise_count() == 0
