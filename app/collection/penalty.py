"""French statutory late-payment interest and recovery indemnity between businesses.

Code de commerce L441-10 and D441-5, as applied here:

- Interest accrues from the day after the due date up to and including the payment
  date, or the computation date while the invoice is unpaid.
- It is simple interest on a 365-day year, also in leap years (days / 365).
- The statutory rate is the ECB main refinancing rate in force on 1 January (for days
  in January to June) or on 1 July (for days in July to December), plus 10 percentage
  points. Each semester's days are charged at that semester's rate.
- A contract rate may replace the statutory rate, but never below three times the
  legal interest rate (taux de l'intérêt légal, "autres cas" value) of the semester.
  Where the contract rate is below that floor, the floor applies.
- Every invoice paid late, or still unpaid after its due date, also owes a fixed
  40 EUR recovery indemnity.

The rates are hand-editable YAML files in ``data/``, read by ``load_rate_table`` and
``load_legal_rate_table``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from pathlib import Path

import yaml

from app.ledger.money import ZERO, to_money

DATA_DIR = Path(__file__).parent / "data"
ECB_RATES_PATH = DATA_DIR / "ecb_rates.yaml"
LEGAL_RATES_PATH = DATA_DIR / "legal_interest_rates.yaml"

ECB_RATE_NAME = "ECB main refinancing rate"
LEGAL_RATE_NAME = "legal interest rate"

# Percentage points added to the ECB rate for the statutory rate (L441-10).
STATUTORY_MARGIN = Decimal("10")
# A contract rate may not be lower than this multiple of the legal interest rate.
LEGAL_RATE_FLOOR_FACTOR = Decimal("3")
# Fixed recovery indemnity per late invoice, in EUR (D441-5).
RECOVERY_INDEMNITY = Decimal("40.00")
DAYS_PER_YEAR = 365

# Rates are percentages, so anything outside this range is a typing error such as
# "215" for "2.15".
MAX_ABS_RATE = Decimal("100")
# Enough digits for amount x rate x days to stay exact before the final division.
DECIMAL_PRECISION = 50

_SEMESTER_LABEL = re.compile(r"(\d{4})-H([12])")
_RATE_TEXT = re.compile(r"-?\d+(\.\d+)?")
_ENTRY_KEYS = frozenset({"semester", "rate"})


class RateTableError(ValueError):
    """Invalid content in a semester rate file."""


class MissingRateError(LookupError):
    """A computation needs a semester that its rate table does not contain."""


@dataclass(frozen=True, order=True)
class Semester:
    """Calendar half-year: half 1 is January to June, half 2 is July to December."""

    year: int
    half: int

    def __post_init__(self) -> None:
        if self.half not in (1, 2):
            raise ValueError(f"invalid semester half {self.half}: expected 1 or 2")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"invalid semester year {self.year}")

    @classmethod
    def parse(cls, label: str) -> Semester:
        """Parse a label such as ``2024-H2``."""
        match = _SEMESTER_LABEL.fullmatch(label)
        if match is None:
            raise ValueError(f"invalid semester {label!r}: expected YYYY-H1 or YYYY-H2")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def containing(cls, day: date) -> Semester:
        return cls(day.year, 1 if day.month <= 6 else 2)

    @property
    def first_day(self) -> date:
        return date(self.year, 1, 1) if self.half == 1 else date(self.year, 7, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    def next(self) -> Semester:
        if self.half == 1:
            return Semester(self.year, 2)
        return Semester(self.year + 1, 1)

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}"


@dataclass(frozen=True)
class RateTable:
    """Annual rates in percent by semester, with the file they were loaded from."""

    rates: Mapping[Semester, Decimal]
    source: Path
    name: str = "rate"

    def rate_for(self, semester: Semester) -> Decimal:
        """Return the rate of ``semester`` or raise MissingRateError naming the file."""
        try:
            return self.rates[semester]
        except KeyError:
            raise MissingRateError(
                f"No {self.name} for semester {semester} in {self.source}. "
                f"Add an entry for {semester} to that file."
            ) from None


def missing_current_semester(table: RateTable, today: date) -> Semester | None:
    """Return the semester containing ``today`` if the table lacks it, else None."""
    semester = Semester.containing(today)
    if semester in table.rates:
        return None
    return semester


def load_rate_table(path: Path | str | None = None) -> RateTable:
    """Load ECB main refinancing rates, by default from the packaged file."""
    return _load_semester_rates(Path(path or ECB_RATES_PATH), ECB_RATE_NAME)


def load_legal_rate_table(path: Path | str | None = None) -> RateTable:
    """Load legal interest rates ("autres cas"), by default from the packaged file."""
    return _load_semester_rates(Path(path or LEGAL_RATES_PATH), LEGAL_RATE_NAME)


def _load_semester_rates(path: Path, name: str) -> RateTable:
    """Read and strictly validate a YAML list of ``semester``/``rate`` entries.

    Rates are taken from the literal text of the YAML scalar, quoted or not, so a
    value never passes through a float. Errors name the file, the line and the entry.
    """
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise RateTableError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(root, yaml.SequenceNode) or not root.value:
        raise RateTableError(
            f"{path}: expected a non-empty list of entries, each with "
            "'semester' and 'rate'"
        )
    rates: dict[Semester, Decimal] = {}
    lines: dict[Semester, int] = {}
    for node in root.value:
        line = node.start_mark.line + 1
        semester, rate = _parse_entry(node, f"{path}, entry on line {line}")
        if semester in rates:
            raise RateTableError(
                f"{path}, entry on line {line}: duplicate semester {semester}, "
                f"already given on line {lines[semester]}"
            )
        rates[semester] = rate
        lines[semester] = line
    return RateTable(rates=rates, source=path, name=name)


def _parse_entry(node: yaml.Node, location: str) -> tuple[Semester, Decimal]:
    fields = _entry_fields(node, location)
    try:
        semester = Semester.parse(fields["semester"])
    except ValueError as error:
        raise RateTableError(f"{location}: {error}") from error
    rate = _parse_rate(fields["rate"], f"{location} (semester {semester})")
    return semester, rate


def _entry_fields(node: yaml.Node, location: str) -> dict[str, str]:
    """Return the entry's keys and literal values, requiring exactly the known keys."""
    if not isinstance(node, yaml.MappingNode):
        raise RateTableError(
            f"{location}: expected a mapping with 'semester' and 'rate'"
        )
    fields: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if not isinstance(key_node, yaml.ScalarNode) or key not in _ENTRY_KEYS:
            raise RateTableError(
                f"{location}: unknown key {key!r}, expected 'semester' and 'rate'"
            )
        if key in fields:
            raise RateTableError(f"{location}: key {key!r} is given twice")
        if not isinstance(value_node, yaml.ScalarNode):
            raise RateTableError(f"{location}: {key!r} must be a single value")
        fields[key] = value_node.value
    missing = sorted(_ENTRY_KEYS - fields.keys())
    if missing:
        raise RateTableError(f"{location}: missing {' and '.join(map(repr, missing))}")
    return fields


def _parse_rate(text: str, location: str) -> Decimal:
    if _RATE_TEXT.fullmatch(text.strip()) is None:
        raise RateTableError(
            f"{location}: invalid rate {text!r}, expected a percentage such as "
            '"2.15" with a dot as decimal separator'
        )
    rate = Decimal(text.strip())
    if abs(rate) >= MAX_ABS_RATE:
        raise RateTableError(
            f"{location}: rate {text!r} is out of range, expected a percentage "
            f"between -{MAX_ABS_RATE} and {MAX_ABS_RATE}"
        )
    return rate


class RateBasis(StrEnum):
    """Source of the annual rate applied to a segment."""

    STATUTORY = "statutory"  # ECB main refinancing rate + 10 points
    CONTRACT = "contract"  # customer's contract rate
    LEGAL_FLOOR = "legal_floor"  # contract rate raised to 3 x legal interest rate


@dataclass(frozen=True)
class Segment:
    """Late days within one semester, all charged at the same annual rate."""

    start: date
    end: date  # inclusive
    days: int
    rate: Decimal  # annual rate in percent
    basis: RateBasis
    interest: Decimal  # unrounded, in EUR

    @property
    def rounded_interest(self) -> Decimal:
        """Interest rounded to the cent, for display only."""
        return to_money(self.interest)


@dataclass(frozen=True)
class Penalty:
    """Late-payment interest and indemnity owed on one invoice."""

    days_late: int
    interest: Decimal  # exact sum of the segments, rounded half-up once to the cent
    indemnity: Decimal
    rate_basis: RateBasis  # STATUTORY, or CONTRACT when a contract rate was given
    segments: tuple[Segment, ...]

    @property
    def total(self) -> Decimal:
        return self.interest + self.indemnity


def compute_penalty(
    amount: Decimal,
    due: date,
    paid: date | None,
    as_of: date,
    rates: RateTable,
    contract_rate: Decimal | None = None,
    legal_rates: RateTable | None = None,
) -> Penalty:
    """Compute the interest and indemnity owed for paying ``amount`` late.

    Interest runs to ``paid``, or to ``as_of`` while the invoice is unpaid. With
    ``contract_rate`` (annual percent), ``rates`` is not used, and ``legal_rates``
    (default: the packaged table) supplies each semester's floor. Raises ValueError
    on invalid input and MissingRateError when a needed semester has no rate.
    """
    _validate_penalty_input(amount, paid, as_of, contract_rate)
    end = as_of if paid is None else paid
    basis = RateBasis.STATUTORY if contract_rate is None else RateBasis.CONTRACT
    if end <= due:
        return Penalty(0, ZERO, ZERO, basis, ())
    if contract_rate is not None and legal_rates is None:
        legal_rates = load_legal_rate_table()
    with localcontext() as context:
        context.prec = DECIMAL_PRECISION
        segments = tuple(
            _build_segment(amount, start, stop, rates, contract_rate, legal_rates)
            for start, stop in _split_by_semester(due + timedelta(days=1), end)
        )
        # Dividing the summed numerators once keeps the total exact before rounding,
        # so a value that is exactly half a cent rounds up as it should.
        numerator = sum(amount * segment.rate * segment.days for segment in segments)
        interest = to_money(numerator / (100 * DAYS_PER_YEAR))
    return Penalty((end - due).days, interest, RECOVERY_INDEMNITY, basis, segments)


def _validate_penalty_input(
    amount: Decimal, paid: date | None, as_of: date, contract_rate: Decimal | None
) -> None:
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"invalid amount {amount}: expected a positive number")
    if paid is not None and paid > as_of:
        raise ValueError(
            f"invalid payment date {paid}: it is after the computation date {as_of}"
        )
    if contract_rate is not None and (
        not contract_rate.is_finite() or contract_rate < 0
    ):
        raise ValueError(
            f"invalid contract rate {contract_rate}: expected a percentage >= 0"
        )


def _split_by_semester(first: date, last: date) -> Iterator[tuple[date, date]]:
    """Yield the (start, end) days of ``first``..``last`` within each semester."""
    semester = Semester.containing(first)
    while semester.first_day <= last:
        yield max(first, semester.first_day), min(last, semester.last_day)
        semester = semester.next()


def _build_segment(
    amount: Decimal,
    start: date,
    end: date,
    rates: RateTable,
    contract_rate: Decimal | None,
    legal_rates: RateTable | None,
) -> Segment:
    rate, basis = _annual_rate(
        Semester.containing(start), rates, contract_rate, legal_rates
    )
    days = (end - start).days + 1
    interest = amount * rate * days / (100 * DAYS_PER_YEAR)
    return Segment(start, end, days, rate, basis, interest)


def _annual_rate(
    semester: Semester,
    rates: RateTable,
    contract_rate: Decimal | None,
    legal_rates: RateTable | None,
) -> tuple[Decimal, RateBasis]:
    if contract_rate is None:
        return rates.rate_for(semester) + STATUTORY_MARGIN, RateBasis.STATUTORY
    assert legal_rates is not None  # compute_penalty loads the default table
    floor = legal_rates.rate_for(semester) * LEGAL_RATE_FLOOR_FACTOR
    if contract_rate >= floor:
        return contract_rate, RateBasis.CONTRACT
    return floor, RateBasis.LEGAL_FLOOR
