"""Shared field parsers: amounts, dates, encodings, separators, payment terms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from migration.messages import MESSAGES, ReaderError, reject
from migration.parsing import (
    NumberFormat,
    ParseError,
    PaymentTerm,
    choose_encoding,
    describe_date_format,
    detect_date_format,
    detect_encoding,
    detect_number_format,
    normalize_date_format,
    parse_amount,
    parse_date,
    parse_payment_term,
    sniff_separator,
)
from migration.records import Rejection

FRENCH = NumberFormat(decimal=",", thousands=" ")
PLAIN_COMMA = NumberFormat(decimal=",")
ENGLISH = NumberFormat(decimal=".", thousands=",")
SWISS = NumberFormat(decimal=".", thousands="'")
GERMAN = NumberFormat(decimal=",", thousands=".")


@pytest.mark.parametrize(
    ("text", "number_format", "expected"),
    [
        ("1234,56", PLAIN_COMMA, "1234.56"),
        ("000001234,50", PLAIN_COMMA, "1234.50"),
        ("+12,00", PLAIN_COMMA, "12.00"),
        ("-12,00", PLAIN_COMMA, "-12.00"),
        ("12,00-", PLAIN_COMMA, "-12.00"),
        ("\u221212,00", PLAIN_COMMA, "-12.00"),
        ("-0,00", PLAIN_COMMA, "0.00"),
        ("1234", PLAIN_COMMA, "1234.00"),
        ("1234,5", PLAIN_COMMA, "1234.50"),
        (",5", PLAIN_COMMA, "0.50"),
        ("1,2300", PLAIN_COMMA, "1.23"),
        ("  7,10  ", PLAIN_COMMA, "7.10"),
        ("1 234 567,89", FRENCH, "1234567.89"),
        ("1\u00a0234,89", FRENCH, "1234.89"),
        ("1\u202f234,89", FRENCH, "1234.89"),
        ("- 1 234,50", FRENCH, "-1234.50"),
        ("1,234,567.89", ENGLISH, "1234567.89"),
        ("1234.5", ENGLISH, "1234.50"),
        ("1'234.50", SWISS, "1234.50"),
        ("1\u2019234.50", SWISS, "1234.50"),
        ("1.234,50", GERMAN, "1234.50"),
    ],
)
def test_parse_amount_valid(text, number_format, expected):
    assert parse_amount(text, number_format) == Decimal(expected)
    assert str(parse_amount(text, number_format)) == expected


@pytest.mark.parametrize(
    ("text", "number_format", "code"),
    [
        ("12,3,4", PLAIN_COMMA, "amount_unreadable"),
        ("12,3,4", ENGLISH, "amount_unreadable"),
        ("1,23,456.00", ENGLISH, "amount_unreadable"),
        ("1 23,00", FRENCH, "amount_unreadable"),
        ("1234 567,00", FRENCH, "amount_unreadable"),
        ("1.234,50", PLAIN_COMMA, "amount_unreadable"),
        ("1 234,50", PLAIN_COMMA, "amount_unreadable"),
        ("abc", PLAIN_COMMA, "amount_unreadable"),
        ("12,00 EUR", PLAIN_COMMA, "amount_unreadable"),
        ("-12,00-", PLAIN_COMMA, "amount_unreadable"),
        ("--12,00", PLAIN_COMMA, "amount_unreadable"),
        ("12,", PLAIN_COMMA, "amount_unreadable"),
        (",", PLAIN_COMMA, "amount_unreadable"),
        ("-", PLAIN_COMMA, "amount_unreadable"),
        ("1e5", PLAIN_COMMA, "amount_unreadable"),
        ("١٢٣", PLAIN_COMMA, "amount_unreadable"),
        ("12,345", PLAIN_COMMA, "amount_too_precise"),
        ("", PLAIN_COMMA, "value_missing"),
        ("   ", PLAIN_COMMA, "value_missing"),
    ],
)
def test_parse_amount_invalid(text, number_format, code):
    with pytest.raises(ParseError) as caught:
        parse_amount(text, number_format)

    assert caught.value.code == code


def test_parse_amount_error_example_follows_format():
    with pytest.raises(ParseError) as caught:
        parse_amount("abc", FRENCH)

    assert caught.value.params == {"example": "1 234,56"}


def test_number_format_rejects_same_marks():
    with pytest.raises(ValueError):
        NumberFormat(decimal=",", thousands=",")


@pytest.mark.parametrize(
    ("values", "default", "decimal", "thousands", "ambiguous"),
    [
        (["1 234,56", "12,5", "-3,00"], ".", ",", " ", False),
        (["1,234.56", "12.5"], ",", ".", ",", False),
        (["1.234,56", "7,00"], ".", ",", ".", False),
        (["1'234.56"], ",", ".", "'", False),
        (["1,234", "2,500"], ",", ".", ",", True),
        (["1.234"], ",", ",", ".", True),
        (["100", "200"], ",", ",", None, False),
        (["100", "200"], ".", ".", None, False),
        (["1.234.567"], ",", ",", ".", False),
    ],
)
def test_detect_number_format(values, default, decimal, thousands, ambiguous):
    detection = detect_number_format(values, default_decimal=default)

    assert detection.number_format.decimal == decimal
    assert detection.number_format.thousands == thousands
    assert (detection.note is not None) == ambiguous


def test_detect_number_format_conflict_note():
    detection = detect_number_format(["1,50", "2,50", "3.50"], default_decimal=",")

    assert detection.number_format.decimal == ","
    assert "both , and ." in detection.note


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("20240131", "%Y%m%d", dt.date(2024, 1, 31)),
        ("31/01/2024", "%d/%m/%Y", dt.date(2024, 1, 31)),
        ("1/2/2024", "%d/%m/%Y", dt.date(2024, 2, 1)),
        ("01/31/2024", "%m/%d/%Y", dt.date(2024, 1, 31)),
        ("2024-01-31", "%Y-%m-%d", dt.date(2024, 1, 31)),
        ("2024-01-31T00:00:00", "%Y-%m-%d", dt.date(2024, 1, 31)),
        ("2024-01-31 13:45", "%Y-%m-%d", dt.date(2024, 1, 31)),
        ("20240131 10:00:00", "%Y%m%d", dt.date(2024, 1, 31)),
        (" 29/02/2024 ", "%d/%m/%Y", dt.date(2024, 2, 29)),
        ("01/01/1990", "%d/%m/%Y", dt.date(1990, 1, 1)),
        ("31/12/2100", "%d/%m/%Y", dt.date(2100, 12, 31)),
    ],
)
def test_parse_date_valid(text, date_format, expected):
    assert parse_date(text, date_format) == expected


@pytest.mark.parametrize(
    ("text", "date_format", "code"),
    [
        ("31/02/2024", "%d/%m/%Y", "date_impossible"),
        ("29/02/2023", "%d/%m/%Y", "date_impossible"),
        ("13/13/2024", "%d/%m/%Y", "date_impossible"),
        ("00000000", "%Y%m%d", "date_impossible"),
        ("20241301", "%Y%m%d", "date_impossible"),
        ("2024-01-31", "%Y%m%d", "date_unreadable"),
        ("2024131", "%Y%m%d", "date_unreadable"),
        ("31.01.2024", "%d/%m/%Y", "date_unreadable"),
        ("tomorrow", "%d/%m/%Y", "date_unreadable"),
        ("31/12/1989", "%d/%m/%Y", "date_out_of_range"),
        ("01/01/2101", "%d/%m/%Y", "date_out_of_range"),
        ("", "%d/%m/%Y", "value_missing"),
    ],
)
def test_parse_date_invalid(text, date_format, code):
    with pytest.raises(ParseError) as caught:
        parse_date(text, date_format)

    assert caught.value.code == code


def test_parse_date_custom_range():
    assert parse_date("01/06/1985", "%d/%m/%Y", years=(1980, 2030)) == dt.date(
        1985, 6, 1
    )
    with pytest.raises(ParseError) as caught:
        parse_date("01/06/2031", "%d/%m/%Y", years=(1980, 2030))
    assert caught.value.params == {"min_year": 1980, "max_year": 2030}


def test_parse_date_error_params():
    with pytest.raises(ParseError) as caught:
        parse_date("31/02/2024", "%d/%m/%Y")

    assert caught.value.params == {"format": "DD/MM/YYYY", "example": "31/01/2024"}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("JJ/MM/AAAA", "%d/%m/%Y"),
        ("jj/mm/aaaa", "%d/%m/%Y"),
        ("AAAAMMJJ", "%Y%m%d"),
        ("DD.MM.YYYY", "%d.%m.%Y"),
        ("%m/%d/%Y", "%m/%d/%Y"),
        ("ISO", "%Y-%m-%d"),
    ],
)
def test_normalize_date_format(pattern, expected):
    assert normalize_date_format(pattern) == expected


@pytest.mark.parametrize(
    "pattern", ["%d/%m/%y", "%d/%m", "%d/%d/%Y", "%H:%M", "JJ/MM/AA"]
)
def test_normalize_date_format_rejects(pattern):
    with pytest.raises(ReaderError) as caught:
        normalize_date_format(pattern)

    assert caught.value.code == "date_format_invalid"


def test_describe_date_format():
    assert describe_date_format("%d/%m/%Y") == "DD/MM/YYYY"
    assert describe_date_format("%Y%m%d") == "YYYYMMDD"


def test_detect_date_format_unambiguous():
    detection = detect_date_format(["31/01/2024", "01/02/2024"], prefer_day_first=False)

    assert detection.date_format == "%d/%m/%Y"
    assert detection.note is None


def test_detect_date_format_ambiguous_day_first():
    detection = detect_date_format(["01/02/2024", "03/04/2024"], prefer_day_first=True)

    assert detection.date_format == "%d/%m/%Y"
    assert detection.note.startswith("ambiguous: the dates also fit MM/DD/YYYY")


def test_detect_date_format_ambiguous_month_first():
    detection = detect_date_format(["01/02/2024", "03/04/2024"], prefer_day_first=False)

    assert detection.date_format == "%m/%d/%Y"
    assert "month-first" in detection.note


def test_detect_date_format_month_first_evidence():
    detection = detect_date_format(["12/31/2024", "01/15/2024"], prefer_day_first=True)

    assert detection.date_format == "%m/%d/%Y"
    assert detection.note is None


def test_detect_date_format_ignores_impossible_date():
    values = ["15/01/2024", "31/02/2024", "20/03/2024"]

    detection = detect_date_format(values, prefer_day_first=True)

    assert detection.date_format == "%d/%m/%Y"


def test_detect_date_format_malformed_values_noted():
    detection = detect_date_format(
        ["2024-01-31", "n/a", "2024-02-01"], prefer_day_first=True
    )

    assert detection.date_format == "%Y-%m-%d"
    assert detection.note == "1 of 3 dates do not fit it"


def test_detect_date_format_nothing_matches():
    detection = detect_date_format(["soon", "later"], prefer_day_first=True)

    assert detection.date_format is None
    assert detection.note.startswith("no date matches a known format")


def test_detect_encoding_utf8(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("Société".encode())

    choice = detect_encoding(path)

    assert choice.encoding == "utf-8-sig"
    assert choice.note == "UTF-8 without BOM"


def test_detect_encoding_utf8_bom(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "Société".encode())

    choice = detect_encoding(path)

    assert choice.encoding == "utf-8-sig"
    assert choice.note == "UTF-8 with BOM"


def test_detect_encoding_ascii(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"plain")

    assert detect_encoding(path).note == "ASCII only, read as UTF-8"


def test_detect_encoding_cp1252_fallback(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("Société l’œuvre €".encode("cp1252"))

    choice = detect_encoding(path)

    assert choice.encoding == "cp1252"
    assert path.read_text(encoding=choice.encoding) == "Société l’œuvre €"


def test_detect_encoding_iso_8859_15_fallback(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("Sœur €".encode("iso-8859-15"))

    choice = detect_encoding(path, fallback="iso-8859-15")

    assert choice.encoding == "iso8859-15"
    assert path.read_text(encoding=choice.encoding) == "Sœur €"


def test_detect_encoding_iso_fallback_switches_to_cp1252(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("l’été".encode("cp1252"))

    choice = detect_encoding(path, fallback="iso-8859-15")

    assert choice.encoding == "cp1252"
    assert "0x80-0x9F" in choice.note


def test_detect_encoding_utf8_split_across_blocks(tmp_path):
    path = tmp_path / "a.csv"
    text = "a" * ((1 << 20) - 1) + "é"  # the two bytes of é straddle the first block
    path.write_bytes(text.encode())

    assert detect_encoding(path).encoding == "utf-8-sig"


def test_detect_encoding_undecodable(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"caf\xe9 \x81")  # 0x81 is undefined in cp1252

    with pytest.raises(ReaderError) as caught:
        detect_encoding(path)

    assert caught.value.code == "encoding_undetected"


def test_choose_encoding_declared(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"x")

    assert choose_encoding(path, "UTF8").encoding == "utf-8-sig"
    assert choose_encoding(path, "ISO-8859-15").encoding == "iso8859-15"
    with pytest.raises(ReaderError) as caught:
        choose_encoding(path, "klingon")
    assert caught.value.code == "encoding_unknown"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["a\tb\tc", "1,5\t2\t3"], "\t"),
        (["a|b|c", "1,5|2|3"], "|"),
        (["a;b;c", "1,5;2;3", "1 000,00;x;y"], ";"),
        (["a,b,c", "1.5,2,3"], ","),
        (['a,"b;c",d', '1,"x;y",2'], ","),
        (["a;b", "1,50;2,75"], ";"),
        (["single"], None),
    ],
)
def test_sniff_separator(lines, expected):
    assert sniff_separator(lines) == expected


def test_sniff_separator_restricted_candidates():
    assert sniff_separator(["a;b;c"], ("\t", "|")) is None


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        ("30 days", dt.date(2024, 1, 31), dt.date(2024, 3, 1)),
        ("60 days", dt.date(2024, 1, 10), dt.date(2024, 3, 10)),
        ("45 days end of month", dt.date(2024, 1, 10), dt.date(2024, 2, 29)),
        ("45 days end of month", dt.date(2024, 1, 20), dt.date(2024, 3, 31)),
        ("45 jours fin de mois", dt.date(2023, 12, 15), dt.date(2024, 1, 31)),
        ("30 jours", dt.date(2024, 2, 1), dt.date(2024, 3, 2)),
        ("0 days", dt.date(2024, 2, 1), dt.date(2024, 2, 1)),
    ],
)
def test_payment_term_due_date(text, start, expected):
    assert parse_payment_term(text).due_date(start) == expected


def test_payment_term_text():
    assert str(PaymentTerm(45, end_of_month=True)) == "45 days end of month"
    with pytest.raises(ReaderError):
        parse_payment_term("end of month")


def test_reject_builds_reason():
    rejection = reject(4, "Montant", "abc", "amount_unreadable", example="1234,56")

    assert rejection == Rejection(
        4, "Montant", "abc", "amount is unreadable; expected a number such as 1234,56"
    )
    assert str(rejection) == (
        'line 4, column Montant, value "abc": amount is unreadable; expected a number '
        "such as 1234,56"
    )


def test_reject_field_placeholder():
    rejection = reject(2, "CompteNum", "", "value_missing")

    assert rejection.reason == "value is missing; column CompteNum is required"


def test_reject_unknown_code_is_a_bug():
    with pytest.raises(KeyError):
        reject(1, "x", "y", "no_such_code")


def test_reader_error_keeps_code_and_params():
    error = ReaderError("sheet_missing", path="a.xlsx", sheet="X", sheets=["A", "B"])

    assert error.code == "sheet_missing"
    assert error.params["sheet"] == "X"
    assert str(error) == "a.xlsx has no sheet X; sheets: A, B"


def test_message_templates_end_without_period():
    assert all(not template.endswith(".") for template in MESSAGES.values())
