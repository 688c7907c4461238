"""KPIs read from the database: the IBM sample against a separate computation from
its CSV file, and a small ledger built through the services, computed by hand.

The small ledger as of 2013-06-30, after the payments recorded below:

Invoice  team    issued  due    amount  settlements                 open on 06-30
A-101    team-a  03-01   03-31  100.00  100.00 payment on 06-10          0.00
A-102    team-a  04-15   05-15  250.00  -                              250.00
A-103    team-a  05-20   06-19  400.00  50.00 payment on 06-25         350.00
A-104    team-a  06-10   07-10  600.00  -                              600.00 current
B-201    team-b  05-01   05-31   80.00  80.00 credit note on 06-20       0.00

Promises of A-1, made on 06-05: 100.00 on A-101 by 06-10 (kept on 06-10), 200.00 on
A-102 by 06-20 (broken), 500.00 on the whole account by 07-05 (pending).
"""

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.models import Team
from app.collection.dashboard import KpiScope, facts_horizon, kpis_for
from app.collection.services import (
    AllocationMode,
    assign_customers,
    create_promise,
    record_payment,
)
from app.extensions import db
from app.ledger.models import Customer
from tests.collection.ibm_reference import reference_kpis
from tests.collection.ledger_factory import add_invoice, build_small_ledger, day
from tests.conftest import IBM_AS_OF

# --- IBM sample ---------------------------------------------------------------------


def test_ibm_kpis_match_reference(ibm_loaded):
    result = kpis_for(KpiScope(), IBM_AS_OF)

    assert result.as_json_dict() == reference_kpis(IBM_AS_OF)
    # The ageing page shows the same open total for the 84 open invoices.
    assert result.total_ar == Decimal("5119.85")


@pytest.mark.parametrize("country", ["391", "406", "770", "818", "897"])
def test_ibm_team_kpis_match_reference(ibm_loaded, country):
    team_id = db.session.scalar(
        select(Team.id).where(Team.code == f"country-{country}")
    )

    result = kpis_for(KpiScope(team_id=team_id), IBM_AS_OF)

    assert result.as_json_dict() == reference_kpis(IBM_AS_OF, country)


@pytest.mark.parametrize(
    "as_of",
    [dt.date(2012, 6, 30), dt.date(2012, 12, 31), dt.date(2013, 3, 31)],
    ids=str,
)
def test_ibm_past_dates_match_reference(ibm_loaded, as_of):
    assert kpis_for(KpiScope(), as_of).as_json_dict() == reference_kpis(as_of)


def test_cli_prints_ibm_kpis_as_json(runner, ibm_loaded):
    result = runner.invoke(args=["kpi", "--as-of", "2013-06-30", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == reference_kpis(IBM_AS_OF)


def test_cli_team_option(runner, ibm_loaded):
    result = runner.invoke(
        args=["kpi", "--as-of", "2013-06-30", "--team", "country-406", "--json"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == reference_kpis(IBM_AS_OF, "406")


# --- Hand-made ledger ---------------------------------------------------------------


@pytest.fixture
def ledger(app):
    ledger = build_small_ledger()
    invoices = ledger.invoices

    def on(text):
        app.config["BUSINESS_DATE"] = day(text).isoformat()

    def pay(customer, received, amount, kind="payment", to=None):
        lines = [(invoices[to].id, Decimal(amount))] if to else []
        record_payment(
            ledger.collector if customer is ledger.customer else ledger.other_collector,
            customer,
            kind=kind,
            received_on=day(received),
            amount=Decimal(amount),
            allocation=AllocationMode.CHOSEN if to else AllocationMode.OLDEST_FIRST,
            lines=lines,
        )

    on("06-05")
    for amount, by, numbers in [
        ("100.00", "06-10", ["A-101"]),
        ("200.00", "06-20", ["A-102"]),
        ("500.00", "07-05", []),
    ]:
        create_promise(
            ledger.collector,
            ledger.customer,
            amount=Decimal(amount),
            promised_date=day(by),
            invoice_ids=[invoices[n].id for n in numbers],
        )
    on("06-10")
    pay(ledger.customer, "06-10", "100.00")  # oldest first: A-101
    on("06-20")
    pay(ledger.other_customer, "06-20", "80.00", kind="credit_note", to="B-201")
    on("06-25")
    pay(ledger.customer, "06-25", "50.00", to="A-103")
    on("06-30")
    return ledger


def test_small_ledger_all_teams(ledger):
    result = kpis_for(KpiScope(), day("06-30"))

    assert result.as_json_dict() == {
        "as_of": "2013-06-30",
        # A-102 250 + A-103 350 + A-104 600
        "total_ar": "1200.00",
        # A-104, due 07-10
        "current_ar": "600.00",
        # Issued 04-02..06-30: A-102 250 + A-103 400 + A-104 600 + B-201 80
        "sales_90": "1330.00",
        # 1200 x 90 / 1330 = 81.203...
        "dso": "81.2",
        # 600 x 90 / 1330 = 40.601...
        "best_possible_dso": "40.6",
        "add": "40.6",
        # June sales 600 <= 1200: 30 days, 600 left. May 480 <= 600: 31 days,
        # 120 left. April 250 > 120: 120 / 250 x 30 = 14.4. 30 + 31 + 14.4
        "countback_dso": "75.4",
        # AR on 05-31 = 100 + 250 + 400 + 80 = 830, June sales 600:
        # (830 + 600 - 1200) / (830 + 600 - 600) x 100 = 230 / 830 x 100 = 27.71
        "cei": "27.7",
        # Due 06-01..06-30: one kept (06-10), one broken (06-20): 1 / 2
        "promise_kept_rate": "50.0",
    }


def test_small_ledger_one_team(ledger):
    team_a = db.session.scalar(select(Team.id).where(Team.code == "team-a"))

    result = kpis_for(KpiScope(team_id=team_a), day("06-30"))

    assert result.as_json_dict() == {
        "as_of": "2013-06-30",
        "total_ar": "1200.00",
        "current_ar": "600.00",
        # 1330 without B-201's 80
        "sales_90": "1250.00",
        # 1200 x 90 / 1250
        "dso": "86.4",
        # 600 x 90 / 1250
        "best_possible_dso": "43.2",
        "add": "43.2",
        # June 600: 30 days, 600 left. May 400: 31 days, 200 left.
        # April 250 > 200: 200 / 250 x 30 = 24.0. 30 + 31 + 24
        "countback_dso": "85.0",
        # AR on 05-31 = 750, June sales 600: 150 / 750 x 100
        "cei": "20.0",
        "promise_kept_rate": "50.0",
    }


def test_small_ledger_at_earlier_date(ledger):
    result = kpis_for(KpiScope(), day("06-15"))

    # On 06-15 only A-101 is settled (06-10). B-201's credit note came on 06-20.
    # AR = 250 + 400 + 600 + 80 = 1330, current = A-103 400 + A-104 600.
    assert result.total_ar == Decimal("1330.00")
    assert result.current_ar == Decimal("1000.00")
    # Promises are evaluated on 06-15: A-101's was kept, A-102's is still pending.
    assert result.promise_kept_rate == Decimal("100.0")


def test_cli_collector_option(ledger, runner):
    assign_customers(ledger.manager, [ledger.customer.id], ledger.collector.id)

    result = runner.invoke(
        args=["kpi", "--collector", "Collector-A@small.example", "--json"]
    )

    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["as_of"] == "2013-06-30"
    assert output["total_ar"] == "1200.00"
    assert output["sales_90"] == "1250.00"


def test_cli_team_and_collector_combine(ledger, runner):
    assign_customers(ledger.manager, [ledger.customer.id], ledger.collector.id)

    result = runner.invoke(
        args=[
            "kpi",
            "--team",
            "team-b",
            "--collector",
            "collector-a@small.example",
            "--json",
        ]
    )

    # No customer of team-b is assigned to collector-a.
    assert json.loads(result.output)["total_ar"] == "0.00"
    assert json.loads(result.output)["dso"] is None


def test_cli_text_output(ledger, runner):
    result = runner.invoke(args=["kpi", "--team", "team-b"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:10] == [
        "KPIs at the end of 2013-06-30",
        "  total_ar                     0.00 EUR",
        "  current_ar                   0.00 EUR",
        "  sales_90                    80.00 EUR",
        "  dso                           0.0 days",
        "  best_possible_dso             0.0 days",
        "  add                           0.0 days",
        "  countback_dso                 0.0 days",
        "  cei                         100.0 %",
        "  promise_kept_rate             n/a",
    ]
    assert lines[11] == "Definitions:"
    assert lines[12].startswith("  total_ar: Total AR is the sum")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--team", "nowhere"],
            "team 'nowhere' not found. Known teams: team-a, team-b.",
        ),
        (["--collector", "ghost@small.example"], "no user with email"),
        (["--as-of", "2013-02-30"], "'2013-02-30' is not a valid date"),
        (["--as-of", "30/06/2013"], "'30/06/2013' is not a valid date"),
    ],
    ids=["unknown team", "unknown collector", "impossible date", "french date"],
)
def test_cli_rejects_bad_options(ledger, runner, args, message):
    result = runner.invoke(args=["kpi", *args])

    assert result.exit_code == 2
    assert message in result.output


def test_horizon_covers_countback_and_windows():
    # 24 months ending with June 2013 start on 2011-07-01, and 90 days back is later.
    assert facts_horizon(day("06-30")) == dt.date(2011, 7, 1)


def test_teamless_customers_in_total(ledger):
    loose = Customer(name="Loose", legacy_source="test", legacy_id="L-1")
    db.session.add(loose)
    db.session.flush()
    add_invoice(loose, "L-1", "06-01", "06-30", "10.00")
    db.session.commit()

    assert kpis_for(KpiScope(), day("06-30")).total_ar == Decimal("1210.00")
