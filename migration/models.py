"""Import runs and what they leave behind: rejections, undo records, cutovers."""

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class RunMode:
    FULL = "full"  # every customer of the file
    WAVE = "wave"  # the customers of the teams of one rollout wave
    CUTOVER = "cutover"  # every customer, and the legacy source becomes read-only


class ImportRun(db.Model):
    """One legacy import: the file, how it was read, what it changed.

    ``summary`` contains the counts and totals of the file and of the load.
    ``settings`` contains what is needed to read the file again for a reconciliation:
    the profile options and the detected format. ``reconciliation`` is the last
    reconciliation report of the run.
    """

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    profile: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(400))
    file_path: Mapped[str | None] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[dt.date]
    mode: Mapped[str] = mapped_column(String(20), default=RunMode.FULL)
    wave: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_label: Mapped[str] = mapped_column(String(254), default="cli")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    settings: Mapped[dict | None] = mapped_column(JSON)
    reconciliation: Mapped[dict | None] = mapped_column(JSON)
    rolled_back_at: Mapped[dt.datetime | None]
    rolled_back_by: Mapped[str | None] = mapped_column(String(254))


class ImportRejection(db.Model):
    """A row of a run's file that was not loaded, and why.

    ``code`` and ``params`` rebuild the reason in the reader's language; ``reason``
    is the English text for rejections without a code.
    """

    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"), index=True)
    line: Mapped[int]
    field: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text)


class ChangeAction:
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class RunChange(db.Model):
    """One row changed by a run, with its values before the run, used to undo it.

    Customers, invoices and payments that a run created carry its id in
    ``import_run_id`` and get no RunChange: a rollback deletes every row still
    marked with the run once the updated rows are restored. Created teams and
    allocations have no such column, so they get a ``created`` change. ``before``
    contains the changed columns of an updated row, and every column of a deleted one,
    as JSON text values.
    """

    __tablename__ = "import_run_changes"
    __table_args__ = (Index("ix_import_run_changes_row", "table_name", "row_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"), index=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    before: Mapped[dict | None] = mapped_column(JSON)


class LegacyCutover(db.Model):
    """The switch from a legacy source to Cadence, after which it is read-only."""

    __tablename__ = "legacy_cutovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    cut_over_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_label: Mapped[str] = mapped_column(String(254))
