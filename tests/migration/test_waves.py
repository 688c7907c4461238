"""Phased migration by rollout wave, and the big-bang cutover."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.auth.models import Team
from app.extensions import db
from app.ledger.models import Customer, Invoice
from migration.importer import ImportRefused, run_import
from migration.models import ImportRun, LegacyCutover
from migration.waves import WaveError
from tests.conftest import IBM_AS_OF, IBM_SAMPLE
from tests.migration.legacy_files import AS_OF, fec_file

PLAN = """\
strategy: phased
waves:
  - name: pilot
    start: 2013-06-01
    teams: [country-406]
  - name: wave-2
    start: 2013-07-15
    teams: [country-391, country-818]
  - name: everyone
    start: 2013-09-02
    teams: all
flags:
  worklist:
    description: Prioritised worklist.
    waves: [pilot]
"""


@pytest.fixture
def plan(app, tmp_path):
    path = tmp_path / "feature_flags.yaml"
    path.write_text(PLAN, encoding="utf-8")
    app.config["FEATURE_FLAGS_PATH"] = str(path)
    return path


def customers_by_team() -> dict[str, int]:
    rows = db.session.execute(
        select(Team.code, func.count(Customer.id))
        .join(Customer, Customer.team_id == Team.id)
        .group_by(Team.code)
    )
    return dict(rows.all())


def open_amount() -> Decimal:
    total = db.session.scalar(
        select(func.sum(Invoice.open_amount)).where(Invoice.status == "open")
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def test_wave_loads_its_teams_only(plan):
    outcome = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, wave="pilot")

    assert outcome.status == "loaded"
    assert customers_by_team() == {"country-406": 23}
    assert outcome.summary["wave_teams"] == ["country-406"]
    assert outcome.summary["invoices"] == 444
    assert outcome.summary["rows_outside_wave"] == 1930 - 444
    assert open_amount() == Decimal("1681.12")
    run = db.session.get(ImportRun, outcome.run_id)
    assert run.mode == "wave"
    assert run.wave == "pilot"
    assert run.reconciliation["status"] == "match"
    assert len(run.reconciliation["customers"]) == 23


def test_later_waves_add_theirs(plan):
    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, wave="pilot")

    second = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, wave="wave-2")
    last = run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, wave="everyone")

    assert second.summary["customers"] == 25 + 16
    assert last.summary["customers"] == 100
    # Teams country-770 and country-897: 2 teams, 36 customers, 694 invoices and
    # the settlement payments of their 380 + 291 paid invoices.
    assert last.summary["created"] == 2 + 36 + 694 + 671
    assert customers_by_team() == {
        "country-391": 25,
        "country-406": 23,
        "country-770": 20,
        "country-818": 16,
        "country-897": 16,
    }
    assert open_amount() == Decimal("5119.85")
    reports = db.session.scalars(select(ImportRun.reconciliation)).all()
    assert [report["status"] for report in reports] == ["match", "match", "match"]


def test_wave_uses_team_in_cadence_for_fec(plan, tmp_path):
    team = Team(code="country-406", name="406")
    db.session.add(team)
    db.session.flush()
    db.session.add(
        Customer(name="Martin", legacy_source="fec", legacy_id="C003", team_id=team.id)
    )
    db.session.commit()

    outcome = run_import(
        fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF, wave="pilot"
    )

    assert outcome.summary["customers"] == 1
    numbers = set(db.session.scalars(select(Invoice.number)))
    assert numbers == {"FA-010"}
    customer = db.session.scalar(select(Customer).where(Customer.legacy_id == "C003"))
    assert customer.team.code == "country-406"  # kept, as the FEC names no team


def test_unknown_wave(plan, runner):
    with pytest.raises(WaveError, match="no wave 'wave-9'; its waves are: pilot"):
        run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, wave="wave-9")

    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(IBM_SAMPLE),
            "--profile",
            "ibm-ar",
            "--as-of",
            "2013-06-30",
            "--wave",
            "wave-9",
        ]
    )
    assert result.exit_code == 2
    assert "no wave 'wave-9'" in result.output


def test_wave_and_cutover_exclusive(plan, runner):
    result = runner.invoke(
        args=[
            "legacy",
            "import",
            str(IBM_SAMPLE),
            "--profile",
            "ibm-ar",
            "--as-of",
            "2013-06-30",
            "--wave",
            "pilot",
            "--cutover",
        ]
    )

    assert result.exit_code == 2
    assert "--wave and --cutover cannot be used together" in result.output


# --- Cutover -------------------------------------------------------------------------


def test_cutover_records_and_locks_source(app, users):
    outcome = run_import(
        IBM_SAMPLE,
        profile="ibm-ar",
        as_of=dt.date(2013, 7, 31),
        cutover=True,
        user=users["admin"],
    )

    cutover = db.session.scalar(select(LegacyCutover))
    assert cutover.source == "ibm-ar"
    assert cutover.run_id == outcome.run_id
    assert cutover.user_label == "admin@test.example"
    assert db.session.get(ImportRun, outcome.run_id).mode == "cutover"
    with pytest.raises(ImportRefused, match="a basculé vers Cadence le"):
        run_import(IBM_SAMPLE, profile="ibm-ar", as_of=dt.date(2013, 8, 31))


def test_import_after_cutover_refused_unless_forced(app, runner):
    args = ["legacy", "import", str(IBM_SAMPLE), "--profile", "ibm-ar"]
    runner.invoke(args=[*args, "--as-of", "2013-06-30", "--cutover"])
    runs_before = db.session.scalar(select(func.count()).select_from(ImportRun))

    refused = runner.invoke(args=[*args, "--as-of", "2013-07-31"])
    forced = runner.invoke(args=[*args, "--as-of", "2013-07-31", "--force"])

    assert refused.exit_code == 1
    assert "read-only" in refused.output
    assert "--force" in refused.output
    assert forced.exit_code == 0, forced.output
    runs_after = db.session.scalar(select(func.count()).select_from(ImportRun))
    assert runs_after == runs_before + 1


def test_cutover_of_one_source_leaves_others_open(app, tmp_path):
    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF, cutover=True)

    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)

    assert outcome.status == "loaded"


def test_cutover_shown_to_admins(client, auth, users):
    run_import(IBM_SAMPLE, profile="ibm-ar", as_of=dt.date(2013, 7, 31), cutover=True)

    auth.login(users["admin"].email)
    admin_home = client.get("/ageing").get_data(as_text=True)
    runs_page = client.get("/admin/migration/").get_data(as_text=True)
    auth.logout()
    auth.login(users["manager"].email)
    manager_home = client.get("/ageing").get_data(as_text=True)

    assert 'id="legacy-cutovers"' in admin_home
    assert "ibm-ar a basculé vers Cadence le" in admin_home
    assert 'id="cutovers"' in runs_page
    assert "ibm-ar a basculé vers Cadence le" in runs_page
    assert 'id="legacy-cutovers"' not in manager_home
