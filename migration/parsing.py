"""Field parsers and format detection shared by the legacy readers.

Parsers take the text of one field and either return a typed value or raise
``ParseError`` with a code of ``migration.messages.MESSAGES``, which the reader turns
into a ``Rejection``. Detection functions look at a whole file or column and return
the setting they chose with a note for the operator.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import dataclasses
import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from migration.messages import ReaderError


class ParseError(ValueError):
    """Error for a field value that cannot be parsed, with a MESSAGES template code."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


# --- Amounts -----------------------------------------------------------------------

SPACE_MARKS = (" ", "\u00a0", "\u202f")  # space, no-break space, narrow no-break space
APOSTROPHE_MARKS = ("'", "\u2019")  # ASCII apostrophe and right single quotation mark
MINUS_SIGNS = ("-", "\u2212")  # hyphen-minus and the Unicode minus sign
THOUSANDS_MARKS = (*SPACE_MARKS, *APOSTROPHE_MARKS, ".", ",")
CENT_PLACES = 2
CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True, slots=True)
class NumberFormat:
    """Decimal mark and optional thousands separator of the amounts in one file.

    A space-like thousands separator also accepts the other two space characters of
    ``SPACE_MARKS``, and an apostrophe also accepts the typographic one, because
    spreadsheets swap them silently.
    """

    decimal: str = ","
    thousands: str | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (",", "."):
            raise ValueError(
                f"decimal mark {self.decimal!r} is invalid; expected , or ."
            )
        if self.thousands is not None and self.thousands not in THOUSANDS_MARKS:
            raise ValueError(f"thousands separator {self.thousands!r} is invalid")
        if self.thousands == self.decimal:
            raise ValueError("the thousands separator cannot be the decimal mark")

    @property
    def thousands_marks(self) -> tuple[str, ...]:
        if self.thousands is None:
            return ()
        if self.thousands in SPACE_MARKS:
            return SPACE_MARKS
        if self.thousands in APOSTROPHE_MARKS:
            return APOSTROPHE_MARKS
        return (self.thousands,)

    @property
    def example(self) -> str:
        """An amount written in this format, for messages."""
        integer = f"1{self.thousands}234" if self.thousands else "1234"
        return f"{integer}{self.decimal}56"


FEC_NUMBERS = NumberFormat(decimal=",", thousands=None)


def parse_amount(text: str, number_format: NumberFormat) -> Decimal:
    """Parse an amount such as ``-1 234,50``, ``1234,50-`` or ``000001234,50``.

    The sign may lead (+ or -) or trail (-). Digits may be zero-padded, and thousands
    separators must group the integer part by three. Raises ParseError with
    value_missing, amount_unreadable or amount_too_precise (more than two decimal
    places that are not zeros). The result has exactly two decimal places.
    """
    raw = text.strip()
    if not raw:
        raise ParseError("value_missing")
    unreadable = ParseError("amount_unreadable", example=number_format.example)

    negative, body = _split_sign(raw)
    integer_text, fraction = _split_decimal(body, number_format.decimal)
    if integer_text is None:
        raise unreadable
    integer = _join_thousands(integer_text, number_format.thousands_marks)
    if integer is None or not (integer or fraction):
        raise unreadable

    value = Decimal(f"{integer or '0'}.{fraction or '0'}")
    cents = value.quantize(CENT)
    if value != cents:
        raise ParseError(
            "amount_too_precise", places=CENT_PLACES, example=number_format.example
        )
    if negative and cents != 0:
        return -cents
    return cents


def _split_sign(raw: str) -> tuple[bool, str]:
    """Split a leading + or - or a trailing - from the digits."""
    if raw[0] == "+":
        return False, raw[1:].strip()
    if raw[0] in MINUS_SIGNS:
        return True, raw[1:].strip()
    if raw[-1] in MINUS_SIGNS:
        return True, raw[:-1].strip()
    return False, raw


def _split_decimal(body: str, decimal: str) -> tuple[str | None, str]:
    """Return the integer text and the fraction digits, or None when malformed."""
    if body.count(decimal) > 1:
        return None, ""
    integer, _, fraction = body.partition(decimal)
    if decimal in body and not (fraction.isascii() and fraction.isdigit()):
        return None, ""
    return integer, fraction


def _join_thousands(integer: str, marks: tuple[str, ...]) -> str | None:
    """Return the digits of ``integer`` without thousands separators, or None."""
    if integer == "" or (integer.isascii() and integer.isdigit()):
        return integer
    if not marks:
        return None
    groups = re.split("|".join(re.escape(mark) for mark in marks), integer)
    if not all(group.isascii() and group.isdigit() for group in groups):
        return None
    if not 1 <= len(groups[0]) <= 3:
        return None
    if any(len(group) != 3 for group in groups[1:]):
        return None
    return "".join(groups)


def format_amount(value: Decimal, decimal: str = ",") -> str:
    """Format ``value`` with two decimals and the given decimal mark, for messages."""
    return f"{value:.2f}".replace(".", decimal)


@dataclasses.dataclass(frozen=True, slots=True)
class NumberDetection:
    number_format: NumberFormat
    note: str | None = None


def detect_number_format(
    values: Iterable[str], *, default_decimal: str
) -> NumberDetection:
    """Choose the decimal mark and thousands separator that fit the amount texts.

    A value with both , and . uses the last one as decimal mark. A single mark
    followed by one, two or more than three digits is the decimal mark. A single mark
    followed by exactly three digits (1.234) is read as a thousands separator,
    because amounts rarely have three decimals, and the note reports the ambiguity.
    ``default_decimal`` applies when no value has a mark.
    """
    decimal_votes: Counter[str] = Counter()
    thousands_votes: Counter[str] = Counter()
    three_digit_marks: Counter[str] = Counter()
    for text in values:
        _classify_marks(text, decimal_votes, thousands_votes, three_digit_marks)

    ambiguous = not decimal_votes and bool(three_digit_marks)
    if decimal_votes:
        decimal = decimal_votes.most_common(1)[0][0]
    elif three_digit_marks:
        decimal = "." if three_digit_marks.most_common(1)[0][0] == "," else ","
    else:
        decimal = default_decimal
    for mark, count in three_digit_marks.items():
        if mark != decimal:
            thousands_votes[mark] += count
    thousands_votes.pop(decimal, None)
    thousands = thousands_votes.most_common(1)[0][0] if thousands_votes else None

    note = None
    if len(decimal_votes) > 1:
        note = (
            f"amounts use both , and . as decimal mark, so {decimal!r}, the most "
            "frequent, was chosen and the other amounts will be rejected"
        )
    elif ambiguous:
        note = (
            f"every amount with a mark has exactly three digits after it, so "
            f"{thousands!r} was read as a thousands separator. Set decimal if it is "
            "a decimal mark"
        )
    return NumberDetection(NumberFormat(decimal=decimal, thousands=thousands), note)


def _classify_marks(
    text: str,
    decimal_votes: Counter[str],
    thousands_votes: Counter[str],
    three_digit_marks: Counter[str],
) -> None:
    body = text.strip().strip("+-\u2212").strip()
    for mark in (*SPACE_MARKS, *APOSTROPHE_MARKS):
        if mark in body:
            thousands_votes[mark] += 1
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        decimal_votes[decimal] += 1
        thousands_votes["." if decimal == "," else ","] += 1
        return
    if not (commas or dots):
        return
    mark = "," if commas else "."
    if max(commas, dots) > 1:
        thousands_votes[mark] += 1
        return
    digits_after = len(body) - body.rfind(mark) - 1
    has_space_grouping = any(
        space in body for space in (*SPACE_MARKS, *APOSTROPHE_MARKS)
    )
    if digits_after == 3 and not has_space_grouping:
        three_digit_marks[mark] += 1
    else:
        decimal_votes[mark] += 1


# --- Dates -------------------------------------------------------------------------

DEFAULT_YEARS = (1990, 2100)
ISO_DATE = "%Y-%m-%d"
FEC_DATE = "%Y%m%d"
DATE_FORMAT_CANDIDATES = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    ISO_DATE,
    FEC_DATE,
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
)
# Letters of French (JJ/MM/AAAA) and English (DD/MM/YYYY) date patterns.
_PATTERN_TOKENS = (
    ("AAAA", "%Y"),
    ("YYYY", "%Y"),
    ("JJ", "%d"),
    ("DD", "%d"),
    ("MM", "%m"),
)
# Database and spreadsheet exports often append a time of day, which is ignored.
_TIME_SUFFIX = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_EXAMPLE_DATE = dt.date(2024, 1, 31)


def normalize_date_format(pattern: str) -> str:
    """Return ``pattern`` as a strftime format, accepting JJ/MM/AAAA and ISO.

    Raises ReaderError unless the result contains %d, %m and %Y once each and no
    other directive.
    """
    text = pattern.strip()
    if text.upper() == "ISO":
        return ISO_DATE
    if "%" not in text:
        text = text.upper()
        for token, directive in _PATTERN_TOKENS:
            text = text.replace(token, directive)
    _date_regex(text)
    return text


@functools.lru_cache(maxsize=64)
def _date_regex(date_format: str) -> re.Pattern[str]:
    """Compile ``date_format`` into a regex with year, month and day groups.

    Day and month take exactly two digits in a format without separators such as
    %Y%m%d, and one or two digits otherwise.
    """
    has_separator = re.sub(r"%.", "", date_format) != ""
    width = r"\d{1,2}" if has_separator else r"\d{2}"
    groups = {
        "Y": r"(?P<year>\d{4})",
        "m": rf"(?P<month>{width})",
        "d": rf"(?P<day>{width})",
    }
    parts = []
    position = 0
    while position < len(date_format):
        character = date_format[position]
        if character != "%":
            parts.append(re.escape(character))
            position += 1
            continue
        directive = date_format[position + 1 : position + 2]
        if directive not in groups or groups[directive] in parts:
            raise ReaderError("date_format_invalid", format=date_format)
        parts.append(groups[directive])
        position += 2
    if len([part for part in parts if part in groups.values()]) != 3:
        raise ReaderError("date_format_invalid", format=date_format)
    return re.compile("".join(parts) + _TIME_SUFFIX)


def describe_date_format(date_format: str) -> str:
    """Return ``date_format`` in the DD/MM/YYYY notation that people read."""
    return date_format.replace("%d", "DD").replace("%m", "MM").replace("%Y", "YYYY")


def _date_error(code: str, date_format: str) -> ParseError:
    return ParseError(
        code,
        format=describe_date_format(date_format),
        example=_EXAMPLE_DATE.strftime(date_format),
    )


def parse_date(
    text: str, date_format: str, years: tuple[int, int] = DEFAULT_YEARS
) -> dt.date:
    """Parse ``text`` in ``date_format`` (strftime with %d, %m and %Y only).

    Raises ParseError with value_missing, date_unreadable (wrong shape),
    date_impossible (31/02/2024, month 13) or date_out_of_range (year outside
    ``years``, both ends included).
    """
    raw = text.strip()
    if not raw:
        raise ParseError("value_missing")
    match = _date_regex(date_format).fullmatch(raw)
    if match is None:
        raise _date_error("date_unreadable", date_format)
    try:
        value = dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        raise _date_error("date_impossible", date_format) from None
    check_date_range(value, years)
    return value


def check_date_range(value: dt.date, years: tuple[int, int]) -> dt.date:
    """Return ``value``, or raise ParseError when its year is outside ``years``."""
    min_year, max_year = years
    if not min_year <= value.year <= max_year:
        raise ParseError("date_out_of_range", min_year=min_year, max_year=max_year)
    return value


def _is_real_date(text: str, date_format: str) -> bool:
    try:
        parse_date(text, date_format, years=(dt.MINYEAR, dt.MAXYEAR))
    except ParseError:
        return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class DateDetection:
    date_format: str | None
    note: str | None = None
    ambiguous: bool = False  # another candidate fits the values as well
    unmatched: int = 0  # values whose shape does not fit ``date_format``


def detect_date_format(
    values: Iterable[str],
    *,
    prefer_day_first: bool,
    candidates: Sequence[str] = DATE_FORMAT_CANDIDATES,
) -> DateDetection:
    """Choose the candidate format that fits the date texts best.

    The winner matches the shape of the most values and, among those, reads the most
    values as real dates, so a few malformed or impossible dates do not hide the
    format (their rows are rejected later). When several candidates tie (every day
    is 12 or less), the choice is ambiguous: day-first wins if ``prefer_day_first``,
    month-first otherwise, and the note reports the choice.
    """
    texts = [text.strip() for text in values if text.strip()]
    if not texts:
        return DateDetection(None, "no date text to detect the format from")

    scores: dict[str, tuple[int, int]] = {}
    for candidate in candidates:
        regex = _date_regex(candidate)
        matching = [text for text in texts if regex.fullmatch(text)]
        if matching:
            real = sum(_is_real_date(text, candidate) for text in matching)
            scores[candidate] = (len(matching), real)
    if not scores:
        tried = ", ".join(describe_date_format(fmt) for fmt in candidates)
        note = f"no date matches a known format (tried {tried})"
        return DateDetection(None, note, unmatched=len(texts))

    best = max(scores.values())
    winners = [candidate for candidate in candidates if scores.get(candidate) == best]
    chosen = winners[0]
    unmatched = len(texts) - best[0]
    notes = []
    if len(winners) > 1:
        preferred = [fmt for fmt in winners if _is_day_first(fmt) == prefer_day_first]
        chosen = (preferred or winners)[0]
        order = "day-first" if _is_day_first(chosen) else "month-first"
        others = ", ".join(
            describe_date_format(fmt) for fmt in winners if fmt != chosen
        )
        notes.append(
            f"ambiguous: the dates also fit {others}, so {order} was chosen. "
            "Set date_format if that is wrong"
        )
    if unmatched:
        notes.append(f"{unmatched} of {len(texts)} dates do not fit it")
    return DateDetection(
        chosen,
        ". ".join(notes) or None,
        ambiguous=len(winners) > 1,
        unmatched=unmatched,
    )


def _is_day_first(date_format: str) -> bool:
    return date_format.find("%d") < date_format.find("%m")


# --- Encodings and separators ------------------------------------------------------

_BLOCK_SIZE = 1 << 20
_NOT_C1_BYTES = bytes(range(0x80)) + bytes(range(0xA0, 0x100))
_ISO_8859_CODECS = {"iso8859-1", "iso8859-15", "latin-1"}


@dataclasses.dataclass(frozen=True, slots=True)
class EncodingChoice:
    """Codec to open a file with, and how it was chosen."""

    encoding: str
    note: str | None = None


def choose_encoding(
    path: Path, declared: str | None, *, fallback: str = "cp1252"
) -> EncodingChoice:
    """Return the declared encoding, or detect it with ``detect_encoding``.

    A declared UTF-8 is opened as utf-8-sig so that a byte order mark is dropped.
    Raises ReaderError for an unknown codec name.
    """
    if declared is None:
        return detect_encoding(path, fallback=fallback)
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        raise ReaderError("encoding_unknown", encoding=declared) from None
    if name == "utf-8":
        name = "utf-8-sig"
    return EncodingChoice(name)


def detect_encoding(path: Path, *, fallback: str = "cp1252") -> EncodingChoice:
    """Detect UTF-8 (with or without BOM) strictly, else use ``fallback``.

    The whole file is decoded, in blocks. When the fallback is ISO-8859-1 or -15 and
    the file contains bytes 0x80-0x9F, cp1252 is used instead, because those bytes
    are control characters in ISO-8859 but letters and quotes (’, œ, …) in cp1252.
    Raises ReaderError when the file is not valid in the chosen fallback either.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    is_utf8, has_bom, has_c1_bytes, is_ascii = True, False, False, True
    with open(path, "rb") as handle:
        for index, block in enumerate(iter(lambda: handle.read(_BLOCK_SIZE), b"")):
            if index == 0:
                has_bom = block.startswith(codecs.BOM_UTF8)
            is_ascii = is_ascii and block.isascii()
            # Deleting every other byte is much faster than a regex search.
            has_c1_bytes = has_c1_bytes or bool(block.translate(None, _NOT_C1_BYTES))
            if is_utf8:
                is_utf8 = _decodes(decoder, block, final=False)
    if is_utf8 and _decodes(decoder, b"", final=True):
        if has_bom:
            return EncodingChoice("utf-8-sig", "UTF-8 with BOM")
        if is_ascii:
            return EncodingChoice("utf-8-sig", "ASCII only, read as UTF-8")
        return EncodingChoice("utf-8-sig", "UTF-8 without BOM")

    encoding = codecs.lookup(fallback).name
    note = f"not UTF-8, so read as {encoding}"
    if encoding in _ISO_8859_CODECS and has_c1_bytes:
        encoding = "cp1252"
        note = f"not UTF-8 and has bytes 0x80-0x9F, so read as cp1252, not {fallback}"
    if not _decodes_file(path, encoding):
        raise ReaderError("encoding_undetected", path=path, fallback=encoding)
    return EncodingChoice(encoding, note)


def _decodes(decoder: codecs.IncrementalDecoder, block: bytes, *, final: bool) -> bool:
    try:
        decoder.decode(block, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _decodes_file(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK_SIZE), b""):
            if not _decodes(decoder, block, final=False):
                return False
    return _decodes(decoder, b"", final=True)


def checked_lines(handle: TextIO, path: Path, encoding: str) -> Iterator[str]:
    """Yield the lines of ``handle``, raising ReaderError on undecodable bytes."""
    line = 0
    try:
        for text in handle:
            line += 1
            yield text
    except UnicodeDecodeError:
        raise ReaderError(
            "encoding_invalid", path=path, encoding=encoding, line=line + 1
        ) from None


SEPARATOR_CANDIDATES = ("\t", "|", ";", ",")
SEPARATOR_NAMES = {"\t": "tab", "|": "|", ";": ";", ",": ","}


def sniff_separator(
    lines: Sequence[str],
    candidates: Sequence[str] = SEPARATOR_CANDIDATES,
    *,
    quoted: bool = True,
) -> str | None:
    """Return the candidate that splits the header into the most columns consistently.

    ``lines`` starts with the header. Each candidate must split the header into at
    least two fields, and scores by how many other lines have the header's field
    count. Ties go to the earlier candidate. Set ``quoted`` when fields may be quoted
    CSV style. Returns None when no candidate splits the header.
    """
    best: tuple[int, int] = (0, 0)
    chosen = None
    for candidate in candidates:
        header_count = _field_count(lines[0], candidate, quoted)
        if header_count < 2:
            continue
        matching = sum(
            1
            for line in lines[1:]
            if line.strip() and _field_count(line, candidate, quoted) == header_count
        )
        if (matching, header_count) > best:
            best = (matching, header_count)
            chosen = candidate
    return chosen


def _field_count(line: str, separator: str, quoted: bool) -> int:
    text = line.rstrip("\r\n")
    if not quoted:
        return len(text.split(separator))
    return len(next(csv.reader([text], delimiter=separator), []))


def describe_separator(separator: str) -> str:
    return SEPARATOR_NAMES.get(separator, repr(separator))


# --- Payment terms -----------------------------------------------------------------

_TERM_PATTERN = re.compile(
    r"(?P<days>\d{1,3})\s*(?:days?|jours?|j)"
    r"(?P<end_of_month>\s*(?:end of (?:the )?month|fin de mois|fdm))?",
    re.IGNORECASE,
)


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentTerm:
    """Credit period: a number of days, optionally extended to the end of the month.

    French practice computes "45 jours fin de mois" in two ways: add the days and then
    go to the end of that month, or go to the end of the month and then add the days.
    This class uses the first. From 10 January 2024, 45 days is 24 February, so the
    due date is 29 February 2024 (the other convention gives 16 March).
    """

    days: int
    end_of_month: bool = False

    def due_date(self, start: dt.date) -> dt.date:
        due = start + dt.timedelta(days=self.days)
        if self.end_of_month:
            last_day = calendar.monthrange(due.year, due.month)[1]
            due = due.replace(day=last_day)
        return due

    def __str__(self) -> str:
        suffix = " end of month" if self.end_of_month else ""
        return f"{self.days} days{suffix}"


def parse_payment_term(text: str) -> PaymentTerm:
    """Parse ``30 days``, ``45 days end of month`` or ``45 jours fin de mois``.

    Raises ReaderError for any other text.
    """
    match = _TERM_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ReaderError("payment_term_invalid", term=text)
    return PaymentTerm(int(match["days"]), end_of_month=bool(match["end_of_month"]))
