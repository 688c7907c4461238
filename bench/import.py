"""Benchmark the legacy import against bare pandas.read_csv plus a bulk insert.

The script writes a deterministic FEC file of --lines ledger lines in a temporary
folder, then times two ways of putting it into a freshly migrated database:

- ours: ``migration.importer.run_import`` with the fec profile, which reads and
  validates every line, loads all-or-nothing with undo records, and reconciles the
  database with the file;
- baseline: ``pandas.read_csv`` of the same file, the same rows built with
  vectorised pandas (customers, invoices, settlement payments and allocations, as
  many as ours writes), and one DB-API executemany per table, with no validation.

Each side runs in its own process, so that its peak resident memory
(``resource.getrusage``) is its own. The script prints both times, their ratio and
the peak memory, on SQLite and, when --pg-url or CADENCE_BENCH_PG_URL gives a
PostgreSQL server URL, on PostgreSQL in a throwaway database.

Run from the repository root:

    .venv/bin/python bench/import.py --lines 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2023, 12, 31)
LINES_PER_CUSTOMER = 50
PAID_SHARE = 0.6
FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)


def write_fec(path: Path, lines: int, seed: int = 20240331) -> None:
    """Write ``lines`` receivable lines: invoices, 60% lettered with their payment."""
    rng = random.Random(seed)
    customers = max(lines // LINES_PER_CUSTOMER, 1)
    written = 0
    document = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(FEC_COLUMNS) + "\r\n")
        while written < lines:
            document += 1
            customer = f"C{rng.randrange(customers):06d}"
            date = f"2023{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
            cents = rng.randrange(100, 1_000_000)
            amount = f"{cents // 100},{cents % 100:02d}"
            paid = rng.random() < PAID_SHARE and written + 1 < lines
            letter = f"L{document}" if paid else ""
            name = f"Client {customer}"
            handle.write(
                "\t".join(
                    (
                        "VT",
                        "Ventes",
                        str(document),
                        date,
                        "411000",
                        "Clients",
                        customer,
                        name,
                        f"FA{document}",
                        date,
                        f"Facture FA{document}",
                        amount,
                        "0,00",
                        letter,
                        date if paid else "",
                        date,
                        "",
                        "",
                    )
                )
                + "\r\n"
            )
            written += 1
            if paid:
                handle.write(
                    "\t".join(
                        (
                            "BQ1",
                            "Banque",
                            str(document),
                            date,
                            "411000",
                            "Clients",
                            customer,
                            name,
                            f"RG{document}",
                            date,
                            f"Reglement FA{document}",
                            "0,00",
                            amount,
                            letter,
                            date,
                            date,
                            "",
                            "",
                        )
                    )
                    + "\r\n"
                )
                written += 1


def _app(url: str):
    from flask_migrate import upgrade

    from app import MIGRATIONS_DIR, create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
    return app


def run_ours(url: str, path: Path) -> dict:
    from migration.importer import run_import

    app = _app(url)
    with app.app_context():
        start = time.perf_counter()
        outcome = run_import(path, profile="fec", as_of=AS_OF)
        seconds = time.perf_counter() - start
        from sqlalchemy import func, select

        from app.extensions import db
        from app.ledger.models import Allocation, Customer, Invoice, Payment
        from migration.models import ImportRun

        report = db.session.get(ImportRun, outcome.run_id).reconciliation
        written = sum(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Customer, Invoice, Payment, Allocation)
        )
    return {
        "seconds": seconds,
        "status": outcome.status,
        "rows_written": written,
        "reconciliation": report["status"],
    }


def run_baseline(url: str, path: Path) -> dict:
    import pandas as pd

    from app.extensions import db

    app = _app(url)
    with app.app_context():
        start = time.perf_counter()
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        debits = frame[frame["Debit"] != "0,00"]
        customers = debits["CompAuxNum"].drop_duplicates().reset_index(drop=True)
        customer_ids = pd.Series(range(1, len(customers) + 1), index=customers)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
        date = debits["EcritureDate"].str.replace(
            r"(\d{4})(\d{2})(\d{2})", r"\1-\2-\3", regex=True
        )
        amount = debits["Debit"].str.replace(",", ".", regex=False)
        paid = debits["EcritureLet"] != ""
        invoice_ids = pd.Series(range(1, len(debits) + 1), index=debits.index)
        tables = {
            "customers": (
                ("id", "name", "currency", "created_at", "legacy_source", "legacy_id"),
                zip(
                    customer_ids,
                    customers,
                    ["EUR"] * len(customers),
                    [now] * len(customers),
                    ["bench"] * len(customers),
                    customers,
                    strict=True,
                ),
            ),
            "invoices": (
                (
                    "id",
                    "customer_id",
                    "number",
                    "issue_date",
                    "due_date",
                    "amount",
                    "open_amount",
                    "currency",
                    "status",
                    "disputed",
                    "legacy_source",
                    "legacy_id",
                ),
                zip(
                    invoice_ids,
                    debits["CompAuxNum"].map(customer_ids),
                    debits["PieceRef"],
                    date,
                    date,
                    amount,
                    amount.where(~paid, "0.00"),
                    ["EUR"] * len(debits),
                    paid.map({True: "paid", False: "open"}),
                    [False] * len(debits),
                    ["bench"] * len(debits),
                    debits["PieceRef"],
                    strict=True,
                ),
            ),
            "payments": (
                (
                    "id",
                    "kind",
                    "customer_id",
                    "received_on",
                    "amount",
                    "currency",
                    "reference",
                    "legacy_source",
                    "legacy_id",
                ),
                zip(
                    range(1, int(paid.sum()) + 1),
                    ["payment"] * int(paid.sum()),
                    debits["CompAuxNum"][paid].map(customer_ids),
                    date[paid],
                    amount[paid],
                    ["EUR"] * int(paid.sum()),
                    debits["PieceRef"][paid],
                    ["bench"] * int(paid.sum()),
                    debits["PieceRef"][paid] + "#s",
                    strict=True,
                ),
            ),
            "allocations": (
                ("payment_id", "invoice_id", "amount"),
                zip(
                    range(1, int(paid.sum()) + 1),
                    invoice_ids[paid],
                    amount[paid],
                    strict=True,
                ),
            ),
        }
        connection = db.session.connection()
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        written = 0
        for table, (columns, rows) in tables.items():
            rows = list(rows)
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join([marker] * len(columns))})"
            )
            connection.exec_driver_sql(statement, rows)
            written += len(rows)
        db.session.commit()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_written": written}


def worker(args: argparse.Namespace) -> None:
    run = run_ours if args.worker == "ours" else run_baseline
    result = run(args.url, Path(args.file))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(side: str, url: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", side, "--url", url, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def postgres_database(base_url: str):
    """Create a throwaway database on the server; return its URL and a drop function."""
    import sqlalchemy as sa

    name = "cadence_bench_" + uuid.uuid4().hex[:8]
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as connection:
            connection.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        engine.dispose()

    url = sa.engine.make_url(base_url).set(database=name)
    return url.render_as_string(hide_password=False), drop


def compare(backend: str, urls, path: Path, lines: int) -> None:
    results = {}
    for side in ("baseline", "ours"):
        url, cleanup = urls()
        try:
            results[side] = measure(side, url, path)
        finally:
            cleanup()
    ours, baseline = results["ours"], results["baseline"]
    print(
        f"{backend}, {lines:,} lines: baseline {baseline['seconds']:.1f} s "
        f"({baseline['rows_written']:,} rows, "
        f"peak {baseline['peak_rss_mib']:.0f} MiB); "
        f"ours {ours['seconds']:.1f} s ({ours['rows_written']:,} rows, peak "
        f"{ours['peak_rss_mib']:.0f} MiB, reconciliation {ours['reconciliation']}); "
        f"ratio {ours['seconds'] / baseline['seconds']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lines", type=int, default=1_000_000, help="FEC lines (SQLite)"
    )
    parser.add_argument(
        "--pg-lines", type=int, help="FEC lines on PostgreSQL; default: --lines"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CADENCE_BENCH_PG_URL"),
        help="PostgreSQL server URL; default: CADENCE_BENCH_PG_URL; none skips it",
    )
    parser.add_argument(
        "--worker", choices=("ours", "baseline"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    machine = f"{os.cpu_count()} CPUs, {platform.machine()}"
    print(f"Python {platform.python_version()}, {machine}")
    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as folder:
        folder = Path(folder)
        path = folder / "fec.txt"
        start = time.perf_counter()
        write_fec(path, args.lines)
        elapsed = time.perf_counter() - start
        print(f"wrote {path.name}: {args.lines:,} lines in {elapsed:.1f} s")

        def sqlite_urls():
            database = folder / f"{uuid.uuid4().hex}.sqlite3"
            return f"sqlite:///{database}", lambda: database.unlink(missing_ok=True)

        compare("SQLite", sqlite_urls, path, args.lines)
        if not args.pg_url:
            print("PostgreSQL skipped: give --pg-url or set CADENCE_BENCH_PG_URL.")
            return
        pg_lines = args.pg_lines or args.lines
        if pg_lines != args.lines:
            path = folder / "fec-pg.txt"
            write_fec(path, pg_lines)
        compare("PostgreSQL", lambda: postgres_database(args.pg_url), path, pg_lines)


if __name__ == "__main__":
    main()
