"""Open a legacy export with the reader of its profile, behind one interface.

The importer does not know the readers: ``open_export`` returns an ``Export`` with the
records, the row counters in the importer's terms, the detected format, and the
settings a reconciliation needs to read the same file again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from migration.load import json_value
from migration.messages import ReaderError
from migration.parsing import FEC_DATE
from migration.readers import DetectedFormat, Record, TableReader
from migration.readers.fec import SOURCE as FEC_SOURCE
from migration.readers.fec import load_due_dates, read_fec
from migration.readers.ibm import SOURCE as IBM_SOURCE
from migration.readers.ibm import ReadStats, read_ibm
from migration.readers.mapped import (
    SEPARATOR_ALIASES,
    ExportMapping,
    load_mapping,
    read_mapped,
)

PROFILES = ("ibm-ar", "fec")
MAPPED_PROFILE = "mapped"
# A legacy source name: lowercase letters, digits and inner hyphens or underscores,
# as stored in the 64-character legacy_source columns with room to spare.
SOURCE_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?")
SOURCE_MAX_LENGTH = 32


class SourceError(ValueError):
    """The legacy source name is invalid or contradicts the mapping's."""


def validate_source(name: str) -> str:
    """Return ``name`` when it is a valid legacy source name, else raise SourceError."""
    if SOURCE_PATTERN.fullmatch(name):
        return name
    raise SourceError(
        f"invalid legacy source {name!r}: use 1 to {SOURCE_MAX_LENGTH} lowercase "
        "letters, digits, hyphens or underscores, starting and ending with a letter "
        "or digit, such as acme-fec or gestcom_2024"
    )


@dataclasses.dataclass(frozen=True)
class RowCounts:
    """Rows of a file by what the reader did with them, before any rejection."""

    rows_read: int  # data rows, without the header and blank rows
    rows_skipped: int  # dated after the as-of date
    rows_ignored: int = 0  # outside the receivables, such as other FEC accounts


@dataclasses.dataclass
class Export:
    """One export opened for reading, and what the importer needs to know about it."""

    source: str
    profile: str
    records: Iterator[Record]
    counts: Callable[[], RowCounts]  # final once ``records`` is exhausted
    detected: DetectedFormat | None
    settings: dict[str, Any]  # JSON, to read the file again
    customer_field: str  # the column named in customer rejections
    amount_field: str  # the column named in credit rejections
    decimal: str = ","
    customers_policy: str = "any"
    credit_policy: str = "allow"  # checked by the importer, for mapped exports
    # A function that reads the items as a table instead of ``records``.
    read_table: TableReader | None = None


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """Options of ``cadence legacy import`` that the readers take."""

    account_prefixes: tuple[str, ...] = ("411",)
    payment_term: str = "30 days"
    due_dates: Path | None = None
    credit_exceeds_debt: str | None = None  # None keeps the profile's own setting


def open_export(
    path: Path,
    *,
    as_of: dt.date,
    profile: str | None = None,
    mapping: Path | dict | None = None,
    options: ExportOptions | None = None,
    source: str | None = None,
) -> Export:
    """Open ``path`` with ``profile`` (ibm-ar or fec) or with a column ``mapping``.

    ``source`` names the legacy system that the records belong to, in place of the
    profile's default (``fec``, ``ibm-ar``) or the mapping's ``source`` key. It
    must not contradict the mapping's key, because the mapped reader also starts
    every legacy id with that key.

    Raises ReaderError when the file, the mapping or an option cannot be used, and
    SourceError for an invalid or contradicting source name.
    """
    options = options or ExportOptions()
    if (profile is None) == (mapping is None):
        raise ValueError("give exactly one of profile and mapping")
    if source is not None:
        validate_source(source)
    if mapping is not None:
        export = _open_mapped(path, mapping, as_of, options)
        _check_mapping_source(export.source, source, mapping)
    elif profile == "ibm-ar":
        export = _open_ibm(path, as_of)
    elif profile == "fec":
        export = _open_fec(path, as_of, options)
    else:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    if source is not None:
        export.source = source
    return export


def _check_mapping_source(
    mapped_source: str, source: str | None, mapping: Path | dict
) -> None:
    named = _raw_mapping(mapping).get("source") is not None
    if source is None or not named or mapped_source == source:
        return
    raise SourceError(
        f"the mapping sets source {mapped_source!r} but --source gives {source!r}; "
        "remove the source key from the mapping to choose the source on each "
        "import, or give the same name in both"
    )


def _open_ibm(path: Path, as_of: dt.date) -> Export:
    stats = ReadStats()
    return Export(
        source=IBM_SOURCE,
        profile="ibm-ar",
        records=read_ibm(path, as_of, stats),
        counts=lambda: RowCounts(stats.rows_read, stats.rows_skipped),
        detected=None,
        settings={},
        customer_field="customerID",
        amount_field="InvoiceAmount",
        decimal=".",
    )


def _open_fec(path: Path, as_of: dt.date, options: ExportOptions) -> Export:
    due_dates = load_due_dates(options.due_dates) if options.due_dates else {}
    credit_policy = options.credit_exceeds_debt or "allow"
    result = read_fec(
        path,
        as_of=as_of,
        account_prefix=options.account_prefixes,
        payment_term=options.payment_term,
        due_dates=due_dates,
        credit_exceeds_debt=credit_policy,
    )
    stats = result.stats
    detected = result.detected
    settings = {
        "encoding": detected.settings["encoding"].value,
        "separator": _separator_char(detected.settings["separator"].value),
        "account_prefixes": list(options.account_prefixes),
        "payment_term": options.payment_term,
        "due_dates": {ref: f"{date:{FEC_DATE}}" for ref, date in due_dates.items()},
        "credit_exceeds_debt": credit_policy,
    }
    return Export(
        source=FEC_SOURCE,
        profile="fec",
        records=iter(result),
        counts=lambda: RowCounts(
            stats.lines_read,
            stats.lines_skipped_after_as_of,
            stats.lines_ignored_not_receivable,
        ),
        detected=detected,
        settings=settings,
        customer_field="CompAuxNum",
        amount_field="Credit",
        read_table=result.split_table,
    )


def _open_mapped(
    path: Path, mapping: Path | dict, as_of: dt.date, options: ExportOptions
) -> Export:
    raw = _raw_mapping(mapping)
    export_mapping: ExportMapping = load_mapping(raw)
    result = read_mapped(path, export_mapping, as_of=as_of)
    stats = result.stats
    detected = result.detected
    values = {name: setting.value for name, setting in detected.settings.items()}
    settings = {
        "mapping": json_value_tree(raw),
        "file_type": detected.file_type,
        "encoding": values.get("encoding"),
        "separator": _separator_char(values.get("separator")),
        "decimal": values.get("decimal"),
        "thousands": values.get("thousands"),
        "date_format": values.get("date_format"),
        "payment_term": str(export_mapping.payment_term or ""),
    }
    return Export(
        source=export_mapping.source,
        profile=MAPPED_PROFILE,
        records=iter(result),
        counts=lambda: RowCounts(stats.lines_read, stats.lines_skipped_after_as_of),
        detected=detected,
        settings=settings,
        customer_field=export_mapping.columns["customer_id"],
        amount_field=export_mapping.columns["amount"],
        decimal=values.get("decimal") or ",",
        customers_policy=export_mapping.customers,
        credit_policy=options.credit_exceeds_debt or export_mapping.credit_exceeds_debt,
    )


def _raw_mapping(mapping: Path | dict) -> dict:
    """Return the mapping as the dict its YAML file holds, validated on loading."""
    if isinstance(mapping, dict):
        return mapping
    try:
        with open(mapping, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ReaderError("mapping_unreadable", path=mapping, problem=error) from None
    if not isinstance(raw, dict):
        raise ReaderError("mapping_not_a_dict", found=type(raw).__name__)
    return raw


def json_value_tree(value: Any) -> Any:
    """Return ``value`` with every nested date and amount turned into JSON text."""
    if isinstance(value, dict):
        return {str(key): json_value_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value_tree(item) for item in value]
    return json_value(value)


def _separator_char(name: str | None) -> str | None:
    """Return the separator character of a detected separator's display name."""
    if name is None:
        return None
    return SEPARATOR_ALIASES.get(name, name)
