"""Vectorised parsers for whole columns of FEC text: amounts and dates.

Each parser returns the values and a mask of the texts it could read. A text outside
the mask is not necessarily invalid: the reader parses those lines again one by one
with ``migration.parsing``, which decides and gives the reason. So these parsers may
refuse unusual but valid texts, and must never read a text differently from
``parse_amount`` and ``parse_date``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from migration.parsing import FEC_DATE, ParseError, parse_date

# Amounts read here: up to 15 integer digits, then optionally a decimal comma and one
# or two decimals. 15 digits keep every amount in cents far below 2**63.
_MAX_INTEGER_DIGITS = 15
_MAX_AMOUNT_LENGTH = _MAX_INTEGER_DIGITS + 3
# Cents that one unit of the last digit is worth, by the number of decimals.
_CENTS_PER_UNIT = np.array([100, 10, 1], dtype=np.int64)


def simple_cents(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the amounts of ``texts`` in integer cents, and which texts were read.

    ``texts`` is an object array of stripped strings. Read are "" (zero) and plain
    amounts such as 1200, 1200,5 and 001200,50, which ``parse_amount`` with
    ``FEC_NUMBERS`` reads as the same value. Signs, spaces, more decimals or more
    digits are left to ``parse_amount``.
    """
    count = len(texts)
    width = _MAX_AMOUNT_LENGTH + 1  # one more byte shows that a text is too long
    octets = _ascii_bytes(texts, width).view(np.uint8).reshape(count, width)
    value = np.zeros(count, dtype=np.int64)  # the digits, read as one integer
    integers = np.zeros(count, dtype=np.int64)  # digits before the comma
    decimals = np.zeros(count, dtype=np.int64)  # digits after it
    commas = np.zeros(count, dtype=np.int64)
    readable = octets[:, -1] == 0
    # One pass per character position, over all texts at once. numpy pads
    # shorter texts with NUL bytes.
    for position in range(width):
        octet = octets[:, position]
        digit = octet - ord("0")  # bytes below "0" wrap around to above 9
        is_digit = digit < 10
        is_comma = octet == ord(",")
        readable &= is_digit | is_comma | (octet == 0)
        value = np.where(is_digit, value * 10 + digit, value)
        decimals += is_digit & (commas > 0)
        integers += is_digit & (commas == 0)
        commas += is_comma
    readable &= (commas <= 1) & (integers <= _MAX_INTEGER_DIGITS)
    readable &= (commas == 0) | ((integers >= 1) & (decimals >= 1) & (decimals <= 2))
    cents = value * _CENTS_PER_UNIT[np.minimum(decimals, 2)]
    return np.where(readable, cents, 0), readable


def _ascii_bytes(texts: np.ndarray, width: int) -> np.ndarray:
    """Return ``texts`` as fixed-width ASCII bytes, with "?" for non-ASCII texts."""
    try:
        return texts.astype(f"S{width}")
    except UnicodeEncodeError:
        is_ascii = pd.Series(texts, dtype=object).str.isascii().to_numpy(dtype=bool)
        return np.where(is_ascii, texts, "?").astype(f"S{width}")


def fec_dates(
    texts: np.ndarray, years: tuple[int, int], *, required: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return the AAAAMMJJ dates of ``texts`` (NaT where unread) and which were read.

    Each distinct text is parsed once by ``parse_date``, so the result is the same as
    parsing every line, and a ledger repeats few dates. An empty text is read (as
    NaT) unless ``required``.
    """
    codes, distinct = pd.factorize(texts)
    parsed = np.array(
        [_date_or_nat(text, years) for text in distinct], dtype="datetime64[D]"
    )
    dates = parsed[codes]
    readable = ~np.isnat(dates)
    if not required:
        readable |= texts == ""
    return dates, readable


def _date_or_nat(text: str, years: tuple[int, int]) -> np.datetime64:
    if not text:
        return np.datetime64("NaT", "D")
    try:
        return np.datetime64(parse_date(text, FEC_DATE, years), "D")
    except ParseError:
        return np.datetime64("NaT", "D")


def to_day(value: dt.date) -> np.datetime64:
    return np.datetime64(value, "D")
