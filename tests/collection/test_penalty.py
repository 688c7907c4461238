"""Statutory late-payment interest, indemnity and the semester rate tables.

Expected interest values are computed by hand as amount x rate x days / 36500, with
the rate in percent and a 365-day year.
"""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.collection.penalty import (
    ECB_RATES_PATH,
    LEGAL_RATES_PATH,
    MissingRateError,
    RateBasis,
    RateTableError,
    Semester,
    compute_penalty,
    load_legal_rate_table,
    load_rate_table,
    missing_current_semester,
)

ECB = load_rate_table()
LEGAL = load_legal_rate_table()
FAR_FUTURE = date(2030, 1, 1)


def statutory(amount: str, due: date, paid: date | None, as_of: date = FAR_FUTURE):
    return compute_penalty(Decimal(amount), due, paid, as_of, ECB)


def with_contract(amount: str, due: date, paid: date, contract_rate: str):
    return compute_penalty(
        Decimal(amount),
        due,
        paid,
        FAR_FUTURE,
        ECB,
        contract_rate=Decimal(contract_rate),
        legal_rates=LEGAL,
    )


def write_table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- Semester ---------------------------------------------------------------------


def test_semester_parse_and_bounds():
    semester = Semester.parse("2024-H1")
    assert semester == Semester(2024, 1)
    assert semester.first_day == date(2024, 1, 1)
    assert semester.last_day == date(2024, 6, 30)
    assert str(semester) == "2024-H1"


def test_semester_containing_and_next():
    assert Semester.containing(date(2024, 6, 30)) == Semester(2024, 1)
    assert Semester.containing(date(2024, 7, 1)) == Semester(2024, 2)
    assert Semester(2024, 1).next() == Semester(2024, 2)
    assert Semester(2024, 2).next() == Semester(2025, 1)


@pytest.mark.parametrize("label", ["2024-H3", "2024-h1", "24-H1", "2024H1", ""])
def test_semester_parse_rejects_bad_label(label):
    with pytest.raises(ValueError, match="expected YYYY-H1 or YYYY-H2"):
        Semester.parse(label)


# --- Statutory interest -------------------------------------------------------------


def test_penalty_across_semester_boundary():
    # Due 2013-05-15, paid 2013-08-10: 87 days late.
    # 2013-05-16..2013-06-30: 16 + 30 = 46 days at 0.75 + 10 = 10.75 %
    #   10000 x 10.75 x 46 / 36500 = 4945000 / 36500 = 135.479452...
    # 2013-07-01..2013-08-10: 31 + 10 = 41 days at 0.50 + 10 = 10.50 %
    #   10000 x 10.50 x 41 / 36500 = 4305000 / 36500 = 117.945205...
    # Sum 9250000 / 36500 = 253.424657... -> 253.42, although the segments rounded
    # one by one (135.48 + 117.95) would give 253.43.
    penalty = statutory("10000.00", date(2013, 5, 15), date(2013, 8, 10))

    assert penalty.days_late == 87
    assert penalty.interest == Decimal("253.42")
    assert penalty.indemnity == Decimal("40.00")
    assert penalty.total == Decimal("293.42")
    assert penalty.rate_basis == RateBasis.STATUTORY
    first, second = penalty.segments
    assert (first.start, first.end, first.days) == (
        date(2013, 5, 16),
        date(2013, 6, 30),
        46,
    )
    assert first.rate == Decimal("10.75")
    assert round(first.interest, 6) == Decimal("135.479452")
    assert first.rounded_interest == Decimal("135.48")
    assert (second.start, second.end, second.days) == (
        date(2013, 7, 1),
        date(2013, 8, 10),
        41,
    )
    assert second.rate == Decimal("10.50")
    assert round(second.interest, 6) == Decimal("117.945205")
    assert second.rounded_interest == Decimal("117.95")


def test_penalty_across_year_end():
    # Due 2023-12-15, paid 2024-01-20: 16 + 20 = 36 days late.
    # 2023-12-16..2023-12-31: 16 days at 4.00 + 10 = 14.00 %
    #   5000 x 14.00 x 16 / 36500 = 1120000 / 36500 = 30.684931...
    # 2024-01-01..2024-01-20: 20 days at 4.50 + 10 = 14.50 %
    #   5000 x 14.50 x 20 / 36500 = 1450000 / 36500 = 39.726027...
    # Sum 2570000 / 36500 = 70.410958... -> 70.41
    penalty = statutory("5000.00", date(2023, 12, 15), date(2024, 1, 20))

    assert penalty.days_late == 36
    assert penalty.interest == Decimal("70.41")
    assert [s.days for s in penalty.segments] == [16, 20]
    assert [s.rate for s in penalty.segments] == [Decimal("14.00"), Decimal("14.50")]
    assert [s.rounded_interest for s in penalty.segments] == [
        Decimal("30.68"),
        Decimal("39.73"),
    ]


def test_penalty_over_february_29():
    # Due 2024-02-20, paid 2024-03-10: 2024-02-21..2024-02-29 is 9 days and
    # 2024-03-01..2024-03-10 is 10 days, 19 days at 4.50 + 10 = 14.50 %.
    #   1000 x 14.50 x 19 / 36500 = 275500 / 36500 = 7.547945... -> 7.55
    penalty = statutory("1000.00", date(2024, 2, 20), date(2024, 3, 10))

    assert penalty.days_late == 19
    assert penalty.interest == Decimal("7.55")
    assert len(penalty.segments) == 1
    assert penalty.segments[0].start == date(2024, 2, 21)
    assert penalty.segments[0].end == date(2024, 3, 10)


def test_penalty_leap_year_divides_by_365():
    # Due 2019-12-31, paid 2020-12-31: all 366 days of 2020 at 0.00 + 10 = 10.00 %.
    # 2020-H1 has 31+29+31+30+31+30 = 182 days, 2020-H2 has 184 days.
    #   1000 x 10 x 182 / 36500 = 49.863013...
    #   1000 x 10 x 184 / 36500 = 50.410958...
    # Sum 1000 x 10 x 366 / 36500 = 100.273972... -> 100.27, more than one year's
    # 100.00 because the leap day also counts over 365.
    penalty = statutory("1000.00", date(2019, 12, 31), date(2020, 12, 31))

    assert penalty.days_late == 366
    assert penalty.interest == Decimal("100.27")
    assert [s.days for s in penalty.segments] == [182, 184]
    assert [s.rate for s in penalty.segments] == [Decimal("10.00"), Decimal("10.00")]
    assert [s.rounded_interest for s in penalty.segments] == [
        Decimal("49.86"),
        Decimal("50.41"),
    ]


def test_penalty_rounds_half_cent_up():
    # 5 days at 10.00 % in 2020: 3.65 x 10 x 5 / 36500 = 0.005 exactly -> 0.01
    # (rounding half to even would give 0.00).
    penalty = statutory("3.65", date(2020, 3, 1), date(2020, 3, 6))

    assert penalty.interest == Decimal("0.01")


def test_penalty_unpaid_runs_to_as_of():
    # Due 2025-06-10, unpaid on 2025-07-15: 35 days late.
    # 2025-06-11..2025-06-30: 20 days at 3.15 + 10 = 13.15 %
    #   2000 x 13.15 x 20 / 36500 = 526000 / 36500 = 14.410958...
    # 2025-07-01..2025-07-15: 15 days at 2.15 + 10 = 12.15 %
    #   2000 x 12.15 x 15 / 36500 = 364500 / 36500 = 9.986301...
    # Sum 890500 / 36500 = 24.397260... -> 24.40, plus the 40.00 indemnity.
    penalty = statutory("2000.00", date(2025, 6, 10), None, as_of=date(2025, 7, 15))

    assert penalty.days_late == 35
    assert penalty.interest == Decimal("24.40")
    assert penalty.indemnity == Decimal("40.00")
    assert penalty.total == Decimal("64.40")
    assert [s.end for s in penalty.segments] == [date(2025, 6, 30), date(2025, 7, 15)]


def test_penalty_one_day_late_owes_indemnity():
    # 1 day at 14.50 % in 2024-H1: 100 x 14.5 / 36500 = 0.039726... -> 0.04
    penalty = statutory("100.00", date(2024, 3, 1), date(2024, 3, 2))

    assert penalty.days_late == 1
    assert penalty.interest == Decimal("0.04")
    assert penalty.indemnity == Decimal("40.00")


@pytest.mark.parametrize(
    ("paid", "as_of"),
    [
        (date(2024, 3, 1), FAR_FUTURE),  # paid on the due date
        (date(2024, 2, 1), FAR_FUTURE),  # paid early
        (None, date(2024, 3, 1)),  # unpaid, computed on the due date
        (None, date(2024, 2, 1)),  # unpaid, not yet due
    ],
)
def test_penalty_not_late_is_zero(paid, as_of):
    penalty = statutory("1000.00", date(2024, 3, 1), paid, as_of=as_of)

    assert penalty.days_late == 0
    assert penalty.interest == Decimal("0.00")
    assert penalty.indemnity == Decimal("0.00")
    assert penalty.segments == ()


# --- Contract rate ------------------------------------------------------------------


def test_contract_rate_above_floor_applies():
    # 2025-H2 legal rate 2.76 %, floor 3 x 2.76 = 8.28 %, so 12.00 % applies, even
    # though it is below the statutory 2.15 + 10 = 12.15 %.
    # 30 days (2025-10-01..2025-10-30): 1000 x 12 x 30 / 36500 = 9.863013... -> 9.86
    penalty = with_contract("1000.00", date(2025, 9, 30), date(2025, 10, 30), "12.00")

    assert penalty.rate_basis == RateBasis.CONTRACT
    assert penalty.interest == Decimal("9.86")
    assert penalty.indemnity == Decimal("40.00")
    (segment,) = penalty.segments
    assert segment.rate == Decimal("12.00")
    assert segment.basis == RateBasis.CONTRACT


def test_contract_rate_below_floor_raised():
    # 2024-H1 legal rate 5.07 %, floor 3 x 5.07 = 15.21 % replaces the 5.00 %.
    # 30 days (2024-04-01..2024-04-30): 1000 x 15.21 x 30 / 36500 = 456300 / 36500
    # = 12.501369... -> 12.50
    penalty = with_contract("1000.00", date(2024, 3, 31), date(2024, 4, 30), "5.00")

    assert penalty.rate_basis == RateBasis.CONTRACT
    assert penalty.interest == Decimal("12.50")
    (segment,) = penalty.segments
    assert segment.rate == Decimal("15.21")
    assert segment.basis == RateBasis.LEGAL_FLOOR


def test_contract_rate_floor_per_semester():
    # Contract 15.00 %. 2024-H1 floor is 3 x 5.07 = 15.21 %, above the contract rate.
    # 2024-H2 floor is 3 x 4.92 = 14.76 %, below it.
    # 2024-06-21..2024-06-30: 10 days at 15.21 -> 1000 x 15.21 x 10 = 152100
    # 2024-07-01..2024-07-10: 10 days at 15.00 -> 1000 x 15.00 x 10 = 150000
    # (152100 + 150000) / 36500 = 8.276712... -> 8.28
    penalty = with_contract("1000.00", date(2024, 6, 20), date(2024, 7, 10), "15.00")

    assert penalty.interest == Decimal("8.28")
    assert [s.rate for s in penalty.segments] == [Decimal("15.21"), Decimal("15.00")]
    assert [s.basis for s in penalty.segments] == [
        RateBasis.LEGAL_FLOOR,
        RateBasis.CONTRACT,
    ]


def test_contract_rate_equal_to_floor_kept():
    penalty = with_contract("1000.00", date(2024, 3, 31), date(2024, 4, 30), "15.21")

    assert penalty.segments[0].basis == RateBasis.CONTRACT


def test_contract_rate_uses_packaged_legal_table():
    penalty = compute_penalty(
        Decimal("1000.00"),
        date(2024, 3, 31),
        date(2024, 4, 30),
        FAR_FUTURE,
        ECB,
        contract_rate=Decimal("5.00"),
    )

    assert penalty.segments[0].rate == Decimal("15.21")


def test_contract_rate_without_legal_rate_names_semester():
    # The legal table starts in 2015-H1.
    with pytest.raises(MissingRateError) as raised:
        with_contract("1000.00", date(2014, 3, 1), date(2014, 3, 11), "12.00")

    message = str(raised.value)
    assert "2014-H1" in message
    assert "legal interest rate" in message
    assert str(LEGAL_RATES_PATH) in message


# --- Input checks -------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0", "-10.00", "NaN", "Infinity"])
def test_penalty_rejects_bad_amount(amount):
    with pytest.raises(ValueError, match="invalid amount"):
        statutory(amount, date(2024, 3, 1), date(2024, 3, 2))


def test_penalty_rejects_paid_after_as_of():
    with pytest.raises(ValueError, match="after the computation date 2024-03-05"):
        statutory("100.00", date(2024, 3, 1), date(2024, 3, 10), as_of=date(2024, 3, 5))


def test_penalty_rejects_negative_contract_rate():
    with pytest.raises(ValueError, match="invalid contract rate -1"):
        with_contract("100.00", date(2024, 3, 1), date(2024, 3, 10), "-1")


# --- Rate tables --------------------------------------------------------------------


def test_packaged_ecb_table_is_contiguous():
    semesters = sorted(ECB.rates)

    assert semesters[0] == Semester(2013, 1)
    assert semesters[-1] == Semester(2026, 1)
    assert len(semesters) == 27
    assert ECB.rates[Semester(2013, 1)] == Decimal("0.75")
    assert ECB.rates[Semester(2016, 1)] == Decimal("0.05")
    assert ECB.rates[Semester(2016, 2)] == Decimal("0.00")
    assert ECB.rates[Semester(2022, 2)] == Decimal("0.00")
    assert ECB.rates[Semester(2023, 2)] == Decimal("4.00")
    assert ECB.rates[Semester(2025, 1)] == Decimal("3.15")
    assert ECB.rates[Semester(2026, 1)] == Decimal("2.15")
    assert ECB.source == ECB_RATES_PATH


def test_packaged_legal_table_values():
    assert min(LEGAL.rates) == Semester(2015, 1)
    assert LEGAL.rates[Semester(2015, 1)] == Decimal("0.93")
    assert LEGAL.rates[Semester(2020, 2)] == Decimal("0.84")
    assert LEGAL.rates[Semester(2024, 1)] == Decimal("5.07")
    assert LEGAL.rates[Semester(2025, 2)] == Decimal("2.76")


def test_missing_ecb_semester_names_semester_and_file(tmp_path):
    path = write_table(tmp_path, '- semester: 2013-H1\n  rate: "0.75"\n')
    table = load_rate_table(path)

    with pytest.raises(MissingRateError) as raised:
        compute_penalty(
            Decimal("100.00"), date(2013, 6, 20), date(2013, 7, 5), FAR_FUTURE, table
        )

    message = str(raised.value)
    assert "2013-H2" in message
    assert str(path) in message


def test_missing_current_semester():
    assert missing_current_semester(ECB, date(2026, 3, 1)) is None
    assert missing_current_semester(ECB, date(2026, 7, 1)) == Semester(2026, 2)


def test_rate_table_reads_unquoted_rate_exactly(tmp_path):
    # As a float, 0.1 would be 0.1000000000000000055...
    path = write_table(tmp_path, "- semester: 2013-H1\n  rate: 0.1\n")

    assert load_rate_table(path).rates == {Semester(2013, 1): Decimal("0.1")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '- semester: 2013-H1\n  rate: "0.75"\n- semester: 2013-H3\n  rate: "1"\n',
            r"entry on line 3: invalid semester '2013-H3'",
        ),
        (
            '- semester: 2013-H1\n  rate: "0.75"\n- semester: 2013-H1\n  rate: "1"\n',
            r"entry on line 3: duplicate semester 2013-H1, already given on line 1",
        ),
        (
            '- semester: 2013-H1\n  rate: "abc"\n',
            r"line 1 \(semester 2013-H1\): invalid rate 'abc'",
        ),
        (
            '- semester: 2013-H1\n  rate: "0,75"\n',
            r"invalid rate '0,75', expected a percentage such as \"2.15\" with a dot",
        ),
        ('- semester: 2013-H1\n  rate: ""\n', r"invalid rate ''"),
        ('- semester: 2013-H1\n  rate: "1e2"\n', r"invalid rate '1e2'"),
        ('- semester: 2013-H1\n  rate: "215"\n', r"rate '215' is out of range"),
        ("- semester: 2013-H1\n", r"entry on line 1: missing 'rate'"),
        (
            '- semester: 2013-H1\n  semester: 2013-H2\n  rate: "1"\n',
            r"entry on line 1: key 'semester' is given twice",
        ),
        (
            '- semester: 2013-H1\n  rat: "0.75"\n',
            r"entry on line 1: unknown key 'rat'",
        ),
        (
            '- semester: 2013-H1\n  rate: ["0.75"]\n',
            r"entry on line 1: 'rate' must be a single value",
        ),
        ('- "2013-H1: 0.75"\n', r"entry on line 1: expected a mapping"),
        ('rates:\n  2013-H1: "0.75"\n', r"expected a non-empty list of entries"),
        ("", r"expected a non-empty list of entries"),
        ("[]\n", r"expected a non-empty list of entries"),
        ("- semester: [2013-H1\n", r"invalid YAML"),
    ],
)
def test_rate_table_rejects_invalid_content(tmp_path, text, expected):
    path = write_table(tmp_path, text)

    with pytest.raises(RateTableError, match=expected) as raised:
        load_rate_table(path)

    assert str(raised.value).startswith(str(path))
