"""The creditor's identity printed on letters: legal name and form, registered
office, SIREN and RCS registration, VAT number, and the bank account to pay into.

It is read from a YAML file of flat ``key: value`` lines: by default the sample
``data/creditor.yaml`` shipped with Cadence, or the file that the CREDITOR_FILE
setting (environment variable CADENCE_CREDITOR_FILE) names. Every value is
checked when the file is read: a SIREN needs 9 digits with a valid Luhn check
digit, an IBAN a valid ISO 13616 checksum, a BIC the ISO 9362 shape. The file is
read again whenever it changes on disk, so a new identity needs no restart.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from flask import current_app

logger = logging.getLogger(__name__)

SAMPLE_CREDITOR_PATH = Path(__file__).parent / "data" / "creditor.yaml"

REQUIRED_KEYS = ("name", "address", "city", "siren", "iban", "bic")
OPTIONAL_KEYS = (
    "legal_form",
    "share_capital",
    "rcs_city",
    "vat_number",
    "phone",
    "email",
    "bank_name",
    "payment_days",
)
DEFAULT_PAYMENT_DAYS = 8
MAX_PAYMENT_DAYS = 90
MAX_TEXT_LENGTH = 200
# A postal address fits the window of a DL envelope in 6 lines of 60 characters.
MAX_ADDRESS_LINES = 6
MAX_ADDRESS_LINE_LENGTH = 60

# IBAN lengths of the countries whose accounts French companies use most. An
# IBAN of another country only gets the generic length and checksum checks.
IBAN_LENGTHS = {
    "AT": 20,
    "BE": 16,
    "CH": 21,
    "DE": 22,
    "ES": 24,
    "FR": 27,
    "GB": 22,
    "IE": 22,
    "IT": 27,
    "LU": 20,
    "MC": 27,
    "NL": 18,
    "PT": 25,
}
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC_SHAPE = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")

# Parsed files by path, with the modification time and size they were read at.
_cache: dict[Path, tuple[tuple[int, int], Creditor]] = {}
_sample_warned: set[Path] = set()


class CreditorFileError(ValueError):
    """The creditor file is missing, unreadable or contains an invalid value."""


@dataclasses.dataclass(frozen=True)
class Creditor:
    """The company that sends the letters, as its creditor file describes it."""

    name: str
    legal_form: str
    share_capital: Decimal | None  # in EUR
    address: str  # one address line per text line
    city: str
    siren: str  # 9 digits
    rcs_city: str
    vat_number: str
    phone: str
    email: str
    bank_name: str
    iban: str  # without spaces
    bic: str
    payment_days: int
    source: Path
    is_sample: bool  # True while the SIREN or IBAN of the shipped sample is in use

    @property
    def siren_display(self) -> str:
        """The SIREN in groups of three digits, as printed on French documents."""
        return " ".join(self.siren[i : i + 3] for i in range(0, 9, 3))

    @property
    def iban_display(self) -> str:
        """The IBAN in groups of four characters, as printed for people to type."""
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    @property
    def rcs(self) -> str:
        """The RCS registration, such as "RCS Paris 123 456 782", or "" without one."""
        if not self.rcs_city:
            return ""
        return f"RCS {self.rcs_city} {self.siren_display}"


def creditor_path() -> Path:
    """Return the creditor file in force: the configured one, else the sample."""
    configured = current_app.config.get("CREDITOR_FILE")
    return Path(configured) if configured else SAMPLE_CREDITOR_PATH


def current_creditor() -> Creditor:
    """Return the creditor of the configured file, reading it again if it changed.

    Raises CreditorFileError when the file is missing or invalid.
    """
    path = creditor_path()
    try:
        status = path.stat()
    except OSError as error:
        raise CreditorFileError(
            f"{path}: the creditor file cannot be read ({error.strerror}). Check "
            "the path in CADENCE_CREDITOR_FILE."
        ) from error
    stamp = (status.st_mtime_ns, status.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    creditor = load_creditor(path)
    _cache[path] = (stamp, creditor)
    if creditor.is_sample and path not in _sample_warned:
        _sample_warned.add(path)
        logger.warning(
            "letters use the sample creditor of %s: set CADENCE_CREDITOR_FILE to "
            "a file with your company's SIREN and IBAN",
            path,
        )
    return creditor


@dataclasses.dataclass(frozen=True)
class CreditorStatus:
    """State of the creditor file for the warnings of the letter pages."""

    error: str | None
    is_sample: bool
    siren: str
    iban: str


def creditor_status() -> CreditorStatus:
    """Return the state of the creditor file, without raising on an invalid one."""
    try:
        creditor = current_creditor()
    except CreditorFileError as error:
        logger.error("invalid creditor file: %s", error)
        return CreditorStatus(str(error), False, "", "")
    return CreditorStatus(
        None, creditor.is_sample, creditor.siren_display, creditor.iban_display
    )


def load_creditor(path: Path) -> Creditor:
    """Read and validate a creditor file. Errors name the file, the line and the key."""
    fields = _read_fields(path)
    sample_fields = fields if path == SAMPLE_CREDITOR_PATH else _sample_fields()
    siren = _siren(fields, path)
    iban = _iban(fields, path)
    creditor = Creditor(
        name=_text(fields, "name", path),
        legal_form=_text(fields, "legal_form", path),
        share_capital=_share_capital(fields, path),
        address=_address(fields, path),
        city=_text(fields, "city", path),
        siren=siren,
        rcs_city=_text(fields, "rcs_city", path),
        vat_number=_vat_number(fields, siren, path),
        phone=_text(fields, "phone", path),
        email=_email(fields, path),
        bank_name=_text(fields, "bank_name", path),
        iban=iban,
        bic=_bic(fields, path),
        payment_days=_payment_days(fields, path),
        source=path,
        is_sample=_same_account(fields, sample_fields),
    )
    logger.info("creditor %s (SIREN %s) read from %s", creditor.name, siren, path)
    return creditor


# --- Reading the file ----------------------------------------------------------


def _read_fields(path: Path) -> dict[str, tuple[str, int]]:
    """Return each key's literal text and line number, rejecting unknown keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CreditorFileError(
            f"{path}: the creditor file cannot be read ({error.strerror}). Check "
            "the path in CADENCE_CREDITOR_FILE."
        ) from error
    except UnicodeDecodeError as error:
        raise CreditorFileError(
            f"{path}: the creditor file is not UTF-8 text. Save it as UTF-8."
        ) from error
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise CreditorFileError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(root, yaml.MappingNode):
        raise CreditorFileError(
            f"{path}: expected one 'key: value' line per detail, starting with "
            "'name:'. Copy the sample file and edit its values."
        )
    known = set(REQUIRED_KEYS) | set(OPTIONAL_KEYS)
    fields: dict[str, tuple[str, int]] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in known:
            raise CreditorFileError(
                f"{path}, line {line}: unknown key {key!r}. Known keys: "
                f"{', '.join(sorted(known))}."
            )
        if key in fields:
            raise CreditorFileError(
                f"{path}, line {line}: {key!r} is given twice, first on line "
                f"{fields[key][1]}."
            )
        if not isinstance(value_node, yaml.ScalarNode):
            raise CreditorFileError(f"{path}, line {line}: {key!r} must be one value.")
        fields[key] = (value_node.value.strip(), line)
    missing = [key for key in REQUIRED_KEYS if not fields.get(key, ("", 0))[0]]
    if missing:
        raise CreditorFileError(
            f"{path}: missing {', '.join(repr(key) for key in missing)}. Every "
            f"letter needs {', '.join(REQUIRED_KEYS)}."
        )
    return fields


def _sample_fields() -> dict[str, tuple[str, int]]:
    try:
        return _read_fields(SAMPLE_CREDITOR_PATH)
    except CreditorFileError:
        logger.exception("the sample creditor file is invalid")
        return {}


def _same_account(
    fields: dict[str, tuple[str, int]], sample: dict[str, tuple[str, int]]
) -> bool:
    def normalised(values, key):
        return _SPACES.sub("", values.get(key, ("", 0))[0]).upper()

    return any(
        normalised(sample, key) and normalised(fields, key) == normalised(sample, key)
        for key in ("siren", "iban")
    )


def _where(fields: dict[str, tuple[str, int]], key: str, path: Path) -> str:
    return f"{path}, line {fields[key][1]}"


# --- Checking each value -------------------------------------------------------


def _text(fields: dict[str, tuple[str, int]], key: str, path: Path) -> str:
    value = fields.get(key, ("", 0))[0]
    if len(value) > MAX_TEXT_LENGTH or "\n" in value:
        raise CreditorFileError(
            f"{_where(fields, key, path)}: {key!r} must be one line of at most "
            f"{MAX_TEXT_LENGTH} characters."
        )
    return value


def _address(fields: dict[str, tuple[str, int]], path: Path) -> str:
    lines = [line.strip() for line in fields["address"][0].splitlines()]
    lines = [line for line in lines if line]
    too_long = any(len(line) > MAX_ADDRESS_LINE_LENGTH for line in lines)
    if len(lines) > MAX_ADDRESS_LINES or too_long:
        raise CreditorFileError(
            f"{_where(fields, 'address', path)}: the address must have at most "
            f"{MAX_ADDRESS_LINES} lines of at most {MAX_ADDRESS_LINE_LENGTH} "
            "characters each."
        )
    return "\n".join(lines)


def luhn_is_valid(digits: str) -> bool:
    """Return True when the digit string passes the Luhn (mod 10) check."""
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _siren(fields: dict[str, tuple[str, int]], path: Path) -> str:
    raw = fields["siren"][0]
    siren = _SPACES.sub("", raw)
    if not (siren.isascii() and siren.isdigit() and len(siren) == 9):
        raise CreditorFileError(
            f"{_where(fields, 'siren', path)}: SIREN {raw!r} is invalid: it must "
            "have exactly 9 digits, as on the company's Kbis extract."
        )
    if not luhn_is_valid(siren):
        raise CreditorFileError(
            f"{_where(fields, 'siren', path)}: SIREN {raw!r} is invalid: its last "
            "digit fails the Luhn check. Check it for a typing error."
        )
    return siren


def iban_checksum_is_valid(iban: str) -> bool:
    """Return True when a spaceless, upper-case IBAN has a valid mod-97 checksum."""
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(character, 36)) for character in rearranged)
    return int(number) % 97 == 1


def _iban(fields: dict[str, tuple[str, int]], path: Path) -> str:
    raw = fields["iban"][0]
    iban = _SPACES.sub("", raw).upper()
    where = _where(fields, "iban", path)
    if not _IBAN_SHAPE.fullmatch(iban):
        raise CreditorFileError(
            f"{where}: IBAN {raw!r} is invalid: it must be a country code, 2 check "
            "digits and 11 to 30 letters or digits."
        )
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        raise CreditorFileError(
            f"{where}: IBAN {raw!r} is invalid: an IBAN of country {iban[:2]} has "
            f"{expected} characters, this one has {len(iban)}."
        )
    if not iban_checksum_is_valid(iban):
        raise CreditorFileError(
            f"{where}: IBAN {raw!r} is invalid: its check digits do not match. "
            "Copy it again from the bank's account details (RIB)."
        )
    return iban


def _bic(fields: dict[str, tuple[str, int]], path: Path) -> str:
    raw = fields["bic"][0]
    bic = _SPACES.sub("", raw).upper()
    if not _BIC_SHAPE.fullmatch(bic):
        raise CreditorFileError(
            f"{_where(fields, 'bic', path)}: BIC {raw!r} is invalid: it must have "
            "8 or 11 characters: 4 letters for the bank, 2 for the country, then "
            "letters or digits."
        )
    return bic


def _vat_number(fields: dict[str, tuple[str, int]], siren: str, path: Path) -> str:
    raw = fields.get("vat_number", ("", 0))[0]
    if not raw:
        return ""
    vat = _SPACES.sub("", raw).upper()
    key = (12 + 3 * (int(siren) % 97)) % 97
    expected = f"FR{key:02d}{siren}"
    if vat != expected:
        raise CreditorFileError(
            f"{_where(fields, 'vat_number', path)}: VAT number {raw!r} does not "
            f"match SIREN {siren}: it should be {expected}."
        )
    return vat


def _share_capital(fields: dict[str, tuple[str, int]], path: Path) -> Decimal | None:
    raw = fields.get("share_capital", ("", 0))[0]
    if not raw:
        return None
    try:
        capital = Decimal(_SPACES.sub("", raw))
    except InvalidOperation:
        capital = None
    if capital is None or not capital.is_finite() or capital < 0:
        raise CreditorFileError(
            f"{_where(fields, 'share_capital', path)}: share capital {raw!r} is "
            "invalid: write an amount in euros such as 10000 or 10000.50."
        )
    return capital


def _email(fields: dict[str, tuple[str, int]], path: Path) -> str:
    value = _text(fields, "email", path)
    if value and not is_plausible_email(value):
        raise CreditorFileError(
            f"{_where(fields, 'email', path)}: {value!r} is not a valid email address."
        )
    return value


def is_plausible_email(value: str) -> bool:
    """Return True for ``local@domain.tld`` without spaces. Delivery is not checked."""
    local, at, domain = value.rpartition("@")
    return bool(
        at
        and local
        and "." in domain.strip(".")
        and not _SPACES.search(value)
        and len(value) <= 254
    )


def _payment_days(fields: dict[str, tuple[str, int]], path: Path) -> int:
    raw = fields.get("payment_days", ("", 0))[0]
    if not raw:
        return DEFAULT_PAYMENT_DAYS
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAYMENT_DAYS):
        raise CreditorFileError(
            f"{_where(fields, 'payment_days', path)}: payment_days {raw!r} is "
            f"invalid: write a whole number of days from 1 to {MAX_PAYMENT_DAYS}."
        )
    return int(raw)
