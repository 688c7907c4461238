"""``cadence dunning run`` and ``cadence dunning seed``."""

import json

import pytest
from sqlalchemy import func, select

from app.collection.models import DunningAction, DunningPolicy, LetterTemplate
from app.extensions import db
from tests.collection.dunning_factories import add_customer, add_invoice, days_ago


@pytest.fixture
def debt(app):
    customer = add_customer("C-1")
    add_invoice(customer, "F-1", days_ago(12), "40.00")
    add_invoice(customer, "F-2", days_ago(50), "120.00")
    add_invoice(customer, "F-3", days_ago(12), "9.00", disputed=True)
    db.session.commit()
    return customer


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_run_prints_actions(runner, debt):
    result = runner.invoke(args=["dunning", "run"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Dunning run for 2013-06-30"
    assert lines[1] == "Actions: 1"
    # A first run starts the 50-day-old invoice at the first reminder too.
    assert lines[2].split() == [
        "C-1",
        "Première",
        "relance",
        "letter",
        "ready",
        "160.00",
        "F-2,",
        "F-1",
    ]
    assert "  disputed invoices:          1" in lines
    assert _count(DunningAction) == 1


def test_run_twice_creates_nothing_new(app, runner, debt):
    runner.invoke(args=["dunning", "run"])
    app.config["BUSINESS_DATE"] = "2013-07-01"

    result = runner.invoke(args=["dunning", "run", "--date", "2013-07-01"])

    assert result.exit_code == 0, result.output
    assert "Actions: 0" in result.output
    assert _count(DunningAction) == 1


def test_real_run_after_business_date_is_rejected(runner, debt):
    result = runner.invoke(args=["dunning", "run", "--date", "2013-07-01"])

    assert result.exit_code == 2
    assert (
        "2013-07-01 is after the business date 2013-06-30. A real run can only be "
        "for 2013-06-30 or an earlier date; add --dry-run to preview 2013-07-01."
    ) in " ".join(result.output.split())
    assert _count(DunningAction) == 0


def test_dry_run_after_business_date_says_preview(runner, debt):
    result = runner.invoke(args=["dunning", "run", "--dry-run", "--date", "2013-07-20"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "Dunning run for 2013-07-20 (dry run, nothing saved): a preview of a date "
        "after the business date 2013-06-30, as if nothing changed until then"
    )
    assert lines[1] == "Actions: 1"
    assert _count(DunningAction) == 0


def test_dry_run_json_saves_nothing(runner, debt):
    result = runner.invoke(
        args=["dunning", "run", "--dry-run", "--json", "--date", "2013-06-30"]
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["dry_run"] is True
    assert payload["business_date"] == "2013-06-30"
    assert [
        (a["customer"], a["level"], a["amount"], a["id"]) for a in payload["actions"]
    ] == [
        ("C-1", "Première relance", "160.00", None),
    ]
    assert payload["skipped"]["disputed_invoices"] == 1
    assert _count(DunningAction) == 0
    assert _count(DunningPolicy) == 0


@pytest.mark.parametrize("value", ["2013-02-30", "30/06/2013", "tomorrow"])
def test_run_rejects_bad_date(runner, debt, value):
    result = runner.invoke(args=["dunning", "run", "--date", value])

    assert result.exit_code == 2
    assert "expected YYYY-MM-DD" in result.output
    assert _count(DunningAction) == 0


def test_seed_creates_policy_and_templates_once(runner, app):
    first = runner.invoke(args=["dunning", "seed"])
    second = runner.invoke(args=["dunning", "seed"])

    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "Default dunning policy 'Relance standard': created.",
        "Letter templates loaded: 8.",
    ]
    assert second.output.splitlines() == [
        "Default dunning policy 'Relance standard': already there.",
        "Letter templates loaded: 0.",
    ]
    assert _count(DunningPolicy) == 1
    assert _count(LetterTemplate) == 8
