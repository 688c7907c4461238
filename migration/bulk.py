"""Bulk writes and reads through the DB-API driver, with SQLAlchemy's conversions.

SQLAlchemy's per-row statement and result machinery costs more than the database
on loads of a million rows. These functions pass whole columns to the driver's
executemany, or to COPY on PostgreSQL, and read raw tuples back, while converting
values with the same bind and result processors as SQLAlchemy. Amounts travel as
integer cents.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, Integer, Numeric, String, Table, Text
from sqlalchemy.engine import processors
from sqlalchemy.exc import DBAPIError

from app.extensions import db

# Column types whose values psycopg writes to COPY as the text that PostgreSQL reads
# back as the same value. Timestamps are left out: a time zone-aware datetime
# binds as timestamptz, which PostgreSQL converts to the session's time zone, while
# COPY text into a timestamp column drops the offset.
_COPY_TYPES = (Integer, String, Text, Numeric, Date, Boolean)


def bulk_insert(table: Table, rows: pd.DataFrame | Sequence[dict]) -> None:
    """Insert ``rows`` into ``table`` with one executemany, or COPY on PostgreSQL.

    ``rows`` is a DataFrame with the table's column names, or dicts with the same
    keys, and gives amounts (Numeric columns) in integer cents. This skips
    SQLAlchemy's per-row statement machinery, which costs more than the database on
    large loads. It keeps the columns' type conversions (their bind processors).
    Columns the rows leave out get their Python-side defaults, such as
    ``created_at``, evaluated once per call.
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return
    write_rows(table, *driver_columns(table, frame))


def driver_columns(table: Table, frame: pd.DataFrame) -> tuple[list[str], list[list]]:
    """Return the column names and values of ``frame`` as the DB-API driver takes them.

    The given columns come first, then the Python-side defaults of the others.
    """
    dialect = db.session.connection().dialect
    names = list(frame.columns)
    values = [_driver_values(frame[name], table.c[name], dialect) for name in names]
    for column in table.columns:
        default = column.default
        if (
            column.name in names
            or default is None
            or not default.is_scalar
            and not default.is_callable
        ):
            continue
        value = default.arg(None) if default.is_callable else default.arg
        processed = _processed([value], column, dialect)[0]
        names.append(column.name)
        values.append([processed] * len(frame))
    return names, values


def _driver_values(values: pd.Series, column, dialect) -> list:
    """Return a column's values as SQLAlchemy would bind them.

    A Numeric column takes integer cents, and a date may come as datetime64. Each
    distinct value is converted once: to Decimal or dt.date, then by the column
    type's bind processor.
    """
    is_cents = isinstance(column.type, Numeric)
    is_day = values.dtype.kind == "M"
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if not (is_cents or is_day or processor):
        return values.tolist()
    if is_cents and processor is processors.to_float and _exact_in_float(values):
        # SQLite binds Decimal as float(value). Dividing exact integers rounds
        # correctly in IEEE 754, so cents / 100 is that same float.
        return (values.to_numpy(dtype=np.int64) / 100).tolist()
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    if is_cents:
        python = [Decimal(int(cents)).scaleb(-2) for cents in distinct]
    elif is_day:
        python = distinct.to_numpy().astype("datetime64[D]").astype(object).tolist()
    else:
        python = list(distinct)
    converted = np.empty(len(python), dtype=object)
    converted[:] = _processed(python, column, dialect)
    return converted[codes].tolist()


def _exact_in_float(cents: pd.Series) -> bool:
    """Return whether every amount is an integer below 2**53, exact as a float."""
    if cents.dtype.kind not in "iu":
        return False
    return not len(cents) or int(np.abs(cents.to_numpy()).max()) < 2**53


def _processed(values: list, column, dialect) -> list:
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return values
    return [None if value is None else processor(value) for value in values]


def write_rows(table: Table, names: list[str], values: list[list]) -> None:
    connection = db.session.connection()
    dialect = connection.dialect
    if _can_copy(table, names, dialect):
        driver = connection.connection.driver_connection
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as error:
            # Raise what executemany raises: SQLAlchemy's wrapper of the error.
            raise DBAPIError.instance(
                statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join([marker] * len(names))})"
    )
    connection.exec_driver_sql(statement, list(zip(*values, strict=True)))


def _can_copy(table: Table, names: list[str], dialect) -> bool:
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return False
    return all(isinstance(table.c[name].type, _COPY_TYPES) for name in names)


def fetch(sql: str, parameters: tuple) -> tuple[list[tuple], list]:
    """Run ``sql`` (with ? markers) on the session's connection.

    Returns the rows as raw driver tuples, which skip SQLAlchemy's result objects
    and type conversions, and the driver's type code of each column.
    """
    connection = db.session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchall(), [column[1] for column in cursor.description]
    finally:
        cursor.close()


def read_cents(raw: list, column, type_code) -> list[int]:
    """Return raw driver values of a Numeric ``column`` in cents.

    Each distinct value is read once by the type's result processor, as SQLAlchemy
    reads it. SQLite stores floats, which SQLAlchemy rounds to the column's scale.
    """
    dialect = db.session.connection().dialect
    impl = column.type.dialect_impl(dialect)
    processor = impl.result_processor(dialect, type_code)
    cents = {}
    for value in set(raw):
        amount = value if processor is None else processor(value)
        cents[value] = int(amount.scaleb(2))
    return [cents[value] for value in raw]
