"""Benchmark the worklist and account pages on a large ledger.

The script fills a freshly migrated database with a deterministic ledger. By
default it has 100,000 customers in 20 teams and 1,000,000 invoices, most of them
paid, with their payments, allocations, promises, disputes, activities and dunning
actions. Then it requests the pages through Flask's test client, logged in as
collectors and as a manager. For each page it prints the server time per request
(p50, p95, max) and whether the p95 is under the 150 ms target. It also prints the
ratio of that p95 to the p95 of a baseline timed in the same process. The baseline
is bare SQLAlchemy Core queries that fetch the rows the page shows, with no ORM
objects and no template.

It runs on a SQLite file and, when --pg-url or CADENCE_BENCH_PG_URL gives a
PostgreSQL server URL, on PostgreSQL in a throwaway database.

Run from the repository root:

    .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2024, 6, 28)
SEED = 20240628
TEAM_COUNT = 20
COLLECTORS_PER_TEAM = 2
PASSWORD = "bench-password-2024"
MANAGER_EMAIL = "manager@bench.example"
TARGET_SECONDS = 0.150
# Every feature on for everyone, so the pages show every section and form.
ALL_FEATURES_PLAN = ROOT / "tests" / "data" / "flags_all_on.yaml"

OPEN_SHARE = 0.09
PARTLY_PAID_SHARE = 0.10
DISPUTED_SHARE = 0.04
# Open invoices fall due from 150 days before the business date to 60 days after,
# so about 70% of them are overdue.
OPEN_DUE_RANGE = (-150, 60)
PAYMENT_TERMS_DAYS = 30
UNALLOCATED_SHARE = 0.005
ACTIVITY_SHARE = 0.3
PROMISE_SHARE = 0.08
DUNNING_SHARE = 0.4
DUNNING_TODAY_SHARE = 0.01
# The largest accounts get this many activities, more than the account page shows.
LARGE_ACCOUNT_ACTIVITIES = 300
LARGE_ACCOUNTS = 10


@dataclass
class Ledger:
    """Rows to insert, by table: column names and one tuple per row."""

    tables: dict[str, tuple[tuple[str, ...], list[tuple]]] = field(default_factory=dict)

    def add(self, table: str, columns: tuple[str, ...]) -> list[tuple]:
        rows: list[tuple] = []
        self.tables[table] = (columns, rows)
        return rows


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def timestamp(day: dt.date, rng: random.Random) -> str:
    """Return a naive UTC timestamp during office hours of ``day``, as text."""
    return f"{day.isoformat()} {rng.randrange(7, 17):02d}:{rng.randrange(60):02d}:00"


def invoice_counts(rng: random.Random, customers: int, invoices: int) -> list[int]:
    """Spread ``invoices`` over the customers, log-normally, at least one each."""
    weights = [rng.lognormvariate(0, 1.3) for _ in range(customers)]
    total = sum(weights)
    spare = invoices - customers
    counts = [1 + int(weight / total * spare) for weight in weights]
    largest_first = sorted(range(customers), key=lambda i: -weights[i])
    missing = invoices - sum(counts)
    for index in range(missing):
        counts[largest_first[index % customers]] += 1
    return counts


def generate(
    customers: int, invoices: int, users: dict[str, list[int]], level_ids: list[int]
) -> Ledger:
    """Build every row of the ledger from the fixed seed.

    ``users`` maps team index to its collectors' ids, and ``level_ids`` lists the
    dunning policy's levels, first level first.
    """
    rng = random.Random(SEED)
    ledger = Ledger()
    customer_rows = ledger.add(
        "customers",
        (
            "id",
            "name",
            "country",
            "currency",
            "team_id",
            "collector_id",
            "created_at",
            "legacy_source",
            "legacy_id",
            "dunning_policy_id",
        ),
    )
    invoice_rows = ledger.add(
        "invoices",
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
        ),
    )
    payment_rows = ledger.add(
        "payments",
        ("id", "kind", "customer_id", "received_on", "amount", "currency", "reference"),
    )
    allocation_rows = ledger.add(
        "allocations", ("id", "payment_id", "invoice_id", "amount")
    )
    dispute_rows = ledger.add(
        "disputes",
        (
            "id",
            "invoice_id",
            "customer_id",
            "reason",
            "owner_id",
            "status",
            "opened_at",
            "resolution",
            "note",
        ),
    )
    activity_rows = ledger.add(
        "activities",
        ("id", "customer_id", "user_id", "kind", "occurred_at", "summary", "outcome"),
    )
    promise_rows = ledger.add(
        "promises",
        (
            "id",
            "customer_id",
            "user_id",
            "amount",
            "promised_date",
            "status",
            "created_at",
            "note",
        ),
    )
    promise_invoice_rows = ledger.add("promise_invoices", ("promise_id", "invoice_id"))
    action_rows = ledger.add(
        "dunning_actions",
        (
            "id",
            "customer_id",
            "level_id",
            "run_date",
            "channel",
            "status",
            "amount",
            "created_at",
            "done_at",
        ),
    )
    action_invoice_rows = ledger.add(
        "dunning_action_invoices", ("action_id", "invoice_id")
    )

    # Teams differ in size: the largest has five times the customers of the smallest.
    team_weights = [1 + team % 5 for team in range(TEAM_COUNT)]
    counts = invoice_counts(rng, customers, invoices)
    largest = set(sorted(range(customers), key=lambda i: -counts[i])[:LARGE_ACCOUNTS])
    channels = ("email", "letter", "formal_notice")
    invoice_id = payment_id = 0

    for index in range(customers):
        customer_id = index + 1
        team = rng.choices(range(TEAM_COUNT), team_weights)[0]
        collectors = users[team]
        collector = rng.choice(collectors) if rng.random() < 0.95 else None
        reference = f"C{customer_id:06d}"
        customer_rows.append(
            (
                customer_id,
                f"Customer {reference}",
                "FR",
                "EUR",
                team + 1,
                collector,
                "2020-01-01 00:00:00",
                "bench",
                reference,
                None,
            )
        )

        overdue: list[tuple[int, int]] = []
        for _ in range(counts[index]):
            invoice_id += 1
            cents = max(100, int(rng.lognormvariate(11.5, 1.0)))
            if rng.random() < OPEN_SHARE:
                due = AS_OF + dt.timedelta(days=rng.randint(*OPEN_DUE_RANGE))
                open_cents = cents
                if rng.random() < PARTLY_PAID_SHARE:
                    paid_cents = cents * rng.randint(10, 70) // 100
                    open_cents = cents - paid_cents
                    payment_id += 1
                    received = min(due, AS_OF) - dt.timedelta(days=rng.randint(0, 20))
                    payment_rows.append(
                        (
                            payment_id,
                            "payment",
                            customer_id,
                            received.isoformat(),
                            money(paid_cents),
                            "EUR",
                            f"PAY{payment_id:07d}",
                        )
                    )
                    allocation_rows.append(
                        (payment_id, payment_id, invoice_id, money(paid_cents))
                    )
                disputed = rng.random() < DISPUTED_SHARE
                invoice_rows.append(
                    (
                        invoice_id,
                        customer_id,
                        f"INV{invoice_id:07d}",
                        (due - dt.timedelta(days=PAYMENT_TERMS_DAYS)).isoformat(),
                        due.isoformat(),
                        money(cents),
                        money(open_cents),
                        "EUR",
                        "open",
                        disputed,
                    )
                )
                if disputed:
                    opened = min(due + dt.timedelta(days=rng.randint(1, 20)), AS_OF)
                    dispute_rows.append(
                        (
                            len(dispute_rows) + 1,
                            invoice_id,
                            customer_id,
                            rng.choice(("pricing", "quantity", "quality", "other")),
                            collector,
                            "open",
                            timestamp(opened, rng),
                            "",
                            "Customer contests the invoice.",
                        )
                    )
                if due < AS_OF:
                    overdue.append((invoice_id, open_cents))
                continue

            issue = AS_OF - dt.timedelta(days=rng.randint(60, 1100))
            due = issue + dt.timedelta(days=PAYMENT_TERMS_DAYS)
            days_late = int(rng.expovariate(1 / 12)) - 5
            received = min(due + dt.timedelta(days=days_late), AS_OF)
            invoice_rows.append(
                (
                    invoice_id,
                    customer_id,
                    f"INV{invoice_id:07d}",
                    issue.isoformat(),
                    due.isoformat(),
                    money(cents),
                    "0.00",
                    "EUR",
                    "paid",
                    False,
                )
            )
            payment_id += 1
            payment_rows.append(
                (
                    payment_id,
                    "payment",
                    customer_id,
                    received.isoformat(),
                    money(cents),
                    "EUR",
                    f"PAY{payment_id:07d}",
                )
            )
            allocation_rows.append((payment_id, payment_id, invoice_id, money(cents)))

        if rng.random() < UNALLOCATED_SHARE:
            payment_id += 1
            received = AS_OF - dt.timedelta(days=rng.randint(1, 60))
            payment_rows.append(
                (
                    payment_id,
                    "payment",
                    customer_id,
                    received.isoformat(),
                    money(rng.randint(1_000, 500_000)),
                    "EUR",
                    f"PAY{payment_id:07d}",
                )
            )

        activities = 0
        if index in largest:
            activities = LARGE_ACCOUNT_ACTIVITIES
        elif rng.random() < ACTIVITY_SHARE:
            activities = rng.randint(1, 8)
        for _ in range(activities):
            occurred = AS_OF - dt.timedelta(days=rng.randint(0, 365))
            activity_rows.append(
                (
                    len(activity_rows) + 1,
                    customer_id,
                    collector,
                    rng.choice(("call", "email", "note")),
                    timestamp(occurred, rng),
                    "Reminded the customer of the open invoices.",
                    rng.choice(("reached", "no_answer", "left_message", "")),
                )
            )

        if not overdue:
            continue
        if rng.random() < PROMISE_SHARE:
            for _ in range(rng.randint(1, 3)):
                promise_id = len(promise_rows) + 1
                promised = AS_OF + dt.timedelta(days=rng.randint(-80, 20))
                created = promised - dt.timedelta(days=rng.randint(3, 20))
                invoice, open_cents = rng.choice(overdue)
                promise_rows.append(
                    (
                        promise_id,
                        customer_id,
                        collector,
                        money(max(100, open_cents // rng.randint(1, 3))),
                        promised.isoformat(),
                        "pending",
                        timestamp(min(created, AS_OF), rng),
                        "",
                    )
                )
                if rng.random() < 0.5:
                    promise_invoice_rows.append((promise_id, invoice))
        if rng.random() < DUNNING_SHARE:
            oldest = overdue[0][0]
            total = money(sum(cents for _, cents in overdue))
            for position in range(rng.randint(1, len(level_ids))):
                run = AS_OF - dt.timedelta(
                    days=rng.randint(1, 30) + 30 * (2 - position)
                )
                action_id = len(action_rows) + 1
                action_rows.append(
                    (
                        action_id,
                        customer_id,
                        level_ids[position],
                        run.isoformat(),
                        channels[position],
                        "done",
                        total,
                        timestamp(run, rng),
                        timestamp(run, rng),
                    )
                )
                action_invoice_rows.append((action_id, oldest))
        if rng.random() < DUNNING_TODAY_SHARE:
            action_id = len(action_rows) + 1
            action_rows.append(
                (
                    action_id,
                    customer_id,
                    level_ids[0],
                    AS_OF.isoformat(),
                    channels[0],
                    "ready",
                    money(sum(cents for _, cents in overdue)),
                    timestamp(AS_OF, rng),
                    None,
                )
            )
            action_invoice_rows.append((action_id, overdue[0][0]))
    return ledger


def bulk_insert(connection, table: str, columns: Sequence[str], rows: list[tuple]):
    """Insert rows with executemany on SQLite and COPY on PostgreSQL."""
    if not rows:
        return
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    markers = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({names}) VALUES ({markers})", rows
    )


@dataclass
class Bench:
    """A filled database: its app, who logs in and the customers to request."""

    app: object
    collectors: list[tuple[str, int]]
    manager_email: str
    customer_team: dict[int, int]
    invoice_counts: dict[int, int]


def make_app(url: str):
    """Return the app on ``url``, with the migrations applied."""
    from flask_migrate import upgrade

    from app import MIGRATIONS_DIR, create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-secret",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "BUSINESS_DATE": AS_OF.isoformat(),
            "FEATURE_FLAGS_PATH": str(ALL_FEATURES_PLAN),
        }
    )
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
    return app


def fill(app, customers: int, invoices: int) -> None:
    """Create the teams, users and dunning policy, then bulk insert the ledger."""
    from sqlalchemy import func, select

    from app.auth.models import Team
    from app.auth.services import create_user
    from app.collection.models import DunningLevel, DunningPolicy, Promise
    from app.collection.services import refresh_promises
    from app.extensions import db

    with app.app_context():
        for team in range(TEAM_COUNT):
            code = f"team-{team + 1:02d}"
            db.session.add(Team(id=team + 1, code=code, name=f"Team {team + 1}"))
        policy = DunningPolicy(name="Standard", description="", is_default=True)
        for position, (days, channel) in enumerate(
            ((5, "email"), (20, "letter"), (45, "formal_notice")), start=1
        ):
            policy.levels.append(
                DunningLevel(
                    position=position,
                    name=f"Level {position}",
                    days_from_due=days,
                    channel=channel,
                    template_key="reminder",
                )
            )
        db.session.add(policy)
        db.session.commit()
        level_ids = [level.id for level in policy.levels]

        users: dict[int, list[int]] = {}
        for team in range(TEAM_COUNT):
            users[team] = []
            for number in range(1, COLLECTORS_PER_TEAM + 1):
                user = create_user(
                    email=collector_email(team, number),
                    name=f"Collector {team + 1}-{number}",
                    role="collector",
                    password=PASSWORD,
                    team_code=f"team-{team + 1:02d}",
                )
                users[team].append(user.id)
        create_user(
            email=MANAGER_EMAIL, name="Manager", role="manager", password=PASSWORD
        )

        start = time.perf_counter()
        ledger = generate(customers, invoices, users, level_ids)
        generated = time.perf_counter() - start
        start = time.perf_counter()
        connection = db.session.connection()
        for table, (columns, rows) in ledger.tables.items():
            bulk_insert(connection, table, columns, rows)
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection, ledger)
        db.session.commit()
        inserted = time.perf_counter() - start
        written = sum(len(rows) for _, rows in ledger.tables.values())
        print(
            f"  generated {written:,} rows in {generated:.1f} s, "
            f"inserted them in {inserted:.1f} s"
        )

        # Settle the promises as the pages would on their first request, so that
        # every timed request reads the same state.
        promised = db.session.scalars(select(Promise.customer_id).distinct()).all()
        refresh_promises(AS_OF, promised)
        statuses = db.session.execute(
            select(Promise.status, func.count())
            .group_by(Promise.status)
            .order_by(Promise.status)
        ).all()
        print("  promises: " + ", ".join(f"{n:,} {s}" for s, n in statuses))
        _analyze()


def _advance_sequences(connection, ledger: Ledger) -> None:
    """Move each id sequence past the ids that COPY wrote."""
    from sqlalchemy import text

    for table, (columns, _rows) in ledger.tables.items():
        if "id" in columns:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )


def _analyze() -> None:
    """Refresh the planner's statistics, as autovacuum would on a live server."""
    from sqlalchemy import text

    from app.extensions import db

    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()


def collector_email(team: int, number: int) -> str:
    return f"collector-{team + 1:02d}-{number}@bench.example"


def describe(app) -> Bench:
    """Read from the database who logs in and which customers there are."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.ledger.models import Customer, Invoice

    with app.app_context():
        teams = dict(db.session.execute(select(Customer.id, Customer.team_id)).all())
        counts = dict(
            db.session.execute(
                select(Invoice.customer_id, func.count()).group_by(Invoice.customer_id)
            ).all()
        )
    return Bench(
        app=app,
        collectors=[(collector_email(team, 1), team + 1) for team in range(TEAM_COUNT)],
        manager_email=MANAGER_EMAIL,
        customer_team=teams,
        invoice_counts=counts,
    )


# --- Timing ---------------------------------------------------------------------------


def logged_in_client(app, email: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if token is None:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed for {email}: status {response.status_code}")
    return client


def time_request(client, path: str, marker: bytes) -> float:
    """Return the seconds a GET of ``path`` took; exit on an error or a wrong page."""
    start = time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"GET {path} failed: status {response.status_code}")
    if marker not in body:
        raise SystemExit(f"GET {path} returned a page without {marker.decode()}")
    return seconds


def time_call(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def report(label: str, page: list[float], baseline: list[float]) -> bool:
    p95 = percentile(page, 0.95)
    base_p95 = percentile(baseline, 0.95)
    met = p95 < TARGET_SECONDS
    print(
        f"  {label:<30} n={len(page)}  p50 {statistics.median(page) * 1000:7.1f} ms"
        f"  p95 {p95 * 1000:7.1f} ms  max {max(page) * 1000:7.1f} ms"
        f"  | baseline p95 {base_p95 * 1000:6.1f} ms  ratio {p95 / base_p95:6.1f}"
        f"  | {'meets' if met else 'MISSES'} {TARGET_SECONDS * 1000:.0f} ms"
    )
    return met


# --- Baselines: the rows each page shows, from bare Core queries ----------------------


def baseline_worklist(email: str) -> Callable[[], object]:
    """Return a call that fetches the first worklist page's rows for a user.

    It runs the page's own SQL statements, the ranking of the user's customers and
    the open invoice details of the rows shown, with no template and no ORM objects.
    """
    from sqlalchemy import func, select

    from app.auth.models import User
    from app.collection import worklist
    from app.extensions import db

    user = db.session.scalar(select(User).where(User.email == email))
    ranking = (
        worklist._ranked_query(user, AS_OF)
        .add_columns(func.count().over())
        .limit(worklist.WORKLIST_PAGE_SIZE)
    )

    def fetch():
        with db.engine.connect() as connection:
            ranked = connection.execute(ranking).all()
            details = worklist._open_invoice_details([row.id for row in ranked], AS_OF)
            return ranked, details

    return fetch


def baseline_account(customer_id: int) -> Callable[[], object]:
    """Return a call that fetches the account page's rows of one customer."""
    from sqlalchemy import func, select

    from app.collection.models import Activity, Dispute, Promise
    from app.extensions import db
    from app.ledger.models import Allocation, Customer, Invoice, Payment

    customers = Customer.__table__
    invoices = Invoice.__table__
    payments = Payment.__table__
    allocations = Allocation.__table__
    queries = [
        select(customers).where(customers.c.id == customer_id),
        select(invoices)
        .where(invoices.c.customer_id == customer_id, invoices.c.status == "open")
        .order_by(invoices.c.due_date, invoices.c.number),
        select(invoices, func.max(payments.c.received_on))
        .join(allocations, allocations.c.invoice_id == invoices.c.id)
        .join(payments, payments.c.id == allocations.c.payment_id)
        .where(invoices.c.customer_id == customer_id, invoices.c.status == "paid")
        .group_by(invoices.c.id)
        .order_by(func.max(payments.c.received_on).desc(), invoices.c.number),
        select(Activity.__table__)
        .where(Activity.__table__.c.customer_id == customer_id)
        .order_by(Activity.__table__.c.occurred_at.desc())
        .limit(101),
        select(Promise.__table__).where(Promise.__table__.c.customer_id == customer_id),
        select(Dispute.__table__).where(Dispute.__table__.c.customer_id == customer_id),
        select(payments)
        .where(payments.c.customer_id == customer_id)
        .order_by(payments.c.received_on.desc())
        .limit(101),
    ]

    def fetch():
        with db.engine.connect() as connection:
            return [connection.execute(query).all() for query in queries]

    return fetch


# --- Runs -----------------------------------------------------------------------------

# Collectors of four teams of different sizes (1, 5, 3 and 4 shares of the
# customers) take turns.
COLLECTOR_TEAMS = (1, 5, 8, 14)


@dataclass
class Request:
    """A page to time and a factory of the baseline call to compare it with."""

    client: object
    path: str
    baseline: Callable[[], Callable[[], object]]


def largest_then_random(ids: list[int], counts: dict[int, int], count: int):
    """Return the tenth of ``count`` with the most invoices, then random others."""
    rng = random.Random(SEED + 1)
    largest = sorted(ids, key=lambda i: (-counts.get(i, 0), i))[: max(1, count // 10)]
    chosen = set(largest)
    rest = [i for i in ids if i not in chosen]
    return largest + rng.sample(rest, min(len(rest), count - len(largest)))


def measure(app, label: str, requests: list[Request], marker: bytes) -> bool:
    """Time the requests, then their baselines, print the figures; return if met."""
    for request in requests[:5]:
        time_request(request.client, request.path, marker)
    page = [time_request(r.client, r.path, marker) for r in requests]
    with app.app_context():
        baseline = [time_call(r.baseline()) for r in requests]
    return report(label, page, baseline)


def run(url: str, args: argparse.Namespace) -> bool:
    """Fill the database at ``url`` unless it is, time both pages, return if all met."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.ledger.models import Customer

    app = make_app(url)
    with app.app_context():
        filled = db.session.scalar(select(func.count()).select_from(Customer)) > 0
    if filled:
        print("  reusing the ledger already in the database")
    else:
        fill(app, args.customers, args.invoices)
    bench = describe(app)
    count = args.requests

    collectors = [
        (logged_in_client(app, email), team, email)
        for email, team in bench.collectors
        if team in COLLECTOR_TEAMS
    ]
    manager = logged_in_client(app, bench.manager_email)
    met = True

    turns = [collectors[i % len(collectors)] for i in range(count)]
    requests = [
        Request(client, "/worklist", partial(baseline_worklist, email))
        for client, _team, email in turns
    ]
    met &= measure(app, "worklist, collector", requests, b'id="worklist"')
    baseline = partial(baseline_worklist, bench.manager_email)
    requests = [Request(manager, "/worklist", baseline)] * count
    met &= measure(app, "worklist, manager", requests, b'id="worklist"')

    client_of = {team: client for client, team, _email in collectors}
    ids = [i for i, team in bench.customer_team.items() if team in client_of]
    requests = [
        Request(
            client_of[bench.customer_team[i]],
            f"/customers/{i}",
            partial(baseline_account, i),
        )
        for i in largest_then_random(ids, bench.invoice_counts, count)
    ]
    met &= measure(app, "account, collector", requests, b'id="average-days-late"')
    ids = list(bench.customer_team)
    requests = [
        Request(manager, f"/customers/{i}", partial(baseline_account, i))
        for i in largest_then_random(ids, bench.invoice_counts, count)
    ]
    met &= measure(app, "account, manager", requests, b'id="average-days-late"')
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers")
    parser.add_argument("--invoices", type=int, default=1_000_000, help="invoices")
    parser.add_argument(
        "--requests", type=int, default=200, help="timed requests per page and role"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CADENCE_BENCH_PG_URL"),
        help="PostgreSQL server URL; default: CADENCE_BENCH_PG_URL; none skips it",
    )
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="SQLite database to keep and reuse on later runs (for profiling); "
        "default: a temporary file",
    )
    args = parser.parse_args()

    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}; {args.customers:,} customers, "
        f"{args.invoices:,} invoices, business date {AS_OF}"
    )
    met = True
    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as folder:
        print("SQLite:")
        path = args.sqlite_file or Path(folder) / "pages.sqlite3"
        met &= run(f"sqlite:///{path}", args)
    if args.pg_url:
        print("PostgreSQL:")
        url, drop = postgres_database(args.pg_url)
        try:
            met &= run(url, args)
        finally:
            drop()
    else:
        print("PostgreSQL skipped: give --pg-url or set CADENCE_BENCH_PG_URL.")
    print("150 ms target at p95:", "met on every page" if met else "MISSED")


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


if __name__ == "__main__":
    main()
