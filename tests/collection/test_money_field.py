"""How the money fields read what a collector types: exact Decimals, no guessing."""

from decimal import Decimal

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict
from wtforms import Form

from app.collection.forms import MoneyField


class _AmountForm(Form):
    amount = MoneyField("Amount")


def _read(app, typed: str):
    with app.test_request_context(), force_locale("en"):
        form = _AmountForm(MultiDict({"amount": typed}))
        form.validate()
        return form.amount.data, [str(error) for error in form.amount.errors]


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1250.00", Decimal("1250.00")),
        ("1250,00", Decimal("1250.00")),
        ("1 250,00", Decimal("1250.00")),
        ("1\u00a0250,00", Decimal("1250.00")),
        ("1\u202f250,00", Decimal("1250.00")),
        ("12 345 678,9", Decimal("12345678.9")),
        (" 104,52 ", Decimal("104.52")),
        ("-5", Decimal("-5")),
    ],
)
def test_amounts_read_exactly(app, typed, amount):
    assert _read(app, typed) == (amount, [])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1 04,52", "Enter an amount such as 1250.00."),
        ("1 0,0", "Enter an amount such as 1250.00."),
        ("1e3", "Enter an amount such as 1250.00."),
        ("NaN", "Enter an amount such as 1250.00."),
        ("Infinity", "Enter an amount such as 1250.00."),
        (".5", "Enter an amount such as 1250.00."),
        ("1  250", "Enter an amount such as 1250.00."),
        ("abc", "Enter an amount such as 1250.00."),
        ("1,250.00", "Write the amount with one decimal separator, such as 1250.00."),
    ],
)
def test_malformed_amounts_refused(app, typed, message):
    assert _read(app, typed) == (None, [message])
