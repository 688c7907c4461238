"""Legacy export files and database snapshots shared by the pipeline tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.ledger.models import Allocation, Customer, Invoice, Payment
from tests.migration.test_fec_reader import COLUMNS as FEC_COLUMNS
from tests.migration.test_fec_reader import LEDGER as FEC_LEDGER
from tests.migration.test_fec_reader import entry, write_fec
from tests.migration.test_mapped_reader import (
    FRENCH_CSV,
    FRENCH_MAPPING,
    XLSX_MAPPING,
    write_csv,
    write_xlsx,
)

__all__ = [
    "AS_OF",
    "FEC_COLUMNS",
    "FEC_LEDGER",
    "FRENCH_CSV",
    "FRENCH_MAPPING",
    "XLSX_MAPPING",
    "entry",
    "ledger_counts",
    "snapshot",
    "write_csv",
    "write_fec",
    "write_xlsx",
]

AS_OF = dt.date(2024, 3, 31)
# Tables an import or a rollback writes, compared whole in the atomicity tests.
SNAPSHOT_TABLES = (
    "teams",
    "customers",
    "invoices",
    "payments",
    "allocations",
    "import_runs",
    "import_rejections",
    "import_run_changes",
    "legacy_cutovers",
)


def snapshot(*, tables=SNAPSHOT_TABLES) -> dict[str, list[tuple]]:
    """Return every row of ``tables``, sorted, to compare database states exactly."""
    result = {}
    for name in tables:
        table = db.metadata.tables[name]
        rows = db.session.execute(select(table)).all()
        result[name] = sorted((tuple(row) for row in rows), key=repr)
    return result


def ledger_counts() -> dict[str, int]:
    models = {
        "customers": Customer,
        "invoices": Invoice,
        "payments": Payment,
        "allocations": Allocation,
    }
    return {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in models.items()
    }


def open_total() -> Decimal:
    total = db.session.scalar(
        select(func.sum(Invoice.open_amount)).where(Invoice.status == "open")
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def fec_file(path: Path, lines=None, **options) -> Path:
    return write_fec(path, FEC_LEDGER if lines is None else lines, **options)
