"""``cadence rollout``: validate, explain, timeline, export and pass-module."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.rollout import services
from app.rollout.engine import Engine
from app.rollout.models import TrainingModulePass
from app.rollout.runtime import current_snapshot
from app.rollout.subjects import all_subjects
from tests.rollout.conftest import BIG_BANG_EXAMPLE, DEMO_PLAN

DEMO_TIMELINE = [
    "  2013-06-01  wave launch: everyone get worklist, kpi_dashboard",
    "  2013-06-01  wave pilot: country-406 get activities, promises, disputes, "
    "payments, dunning, letters",
    "  2013-07-15  wave wave-2: country-391, country-818 (50% of their users) get "
    "activities, promises, disputes, payments, dunning, letters",
    "  2013-09-02  wave wave-3: everyone get activities, promises, disputes, "
    "payments, dunning, letters",
]


@pytest.fixture
def demo_plan(use_plan):
    return use_plan(DEMO_PLAN.read_text(encoding="utf-8"))


# --- validate ----------------------------------------------------------------------


def test_validate_valid_plan(runner, teams):
    result = runner.invoke(args=["rollout", "validate", str(DEMO_PLAN)])

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{DEMO_PLAN} is valid: phased plan, 4 waves, 8 flags.",
        *DEMO_TIMELINE,
    ]


def test_validate_big_bang_example(runner, teams):
    result = runner.invoke(args=["rollout", "validate", str(BIG_BANG_EXAMPLE)])

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{BIG_BANG_EXAMPLE} is valid: big-bang plan, cutover on 2013-09-02, 8 flags.",
        "  2013-09-02  cutover: everyone get worklist, activities, promises, disputes, "
        "payments, dunning, letters, kpi_dashboard",
    ]


def test_validate_defaults_to_app_plan(runner, teams, demo_plan):
    result = runner.invoke(args=["rollout", "validate"])

    assert result.exit_code == 0
    assert result.stdout.startswith(f"{demo_plan} is valid: phased plan")


def test_validate_invalid_plan_lists_errors(runner, teams, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: phased\nwaves:\n  - name: pilot\n    start: 2013-6-1\n"
        "    teams: [country-460]\nflags:\n  worklist:\n    descripton: W.\n",
        encoding="utf-8",
    )

    result = runner.invoke(args=["rollout", "validate", str(path)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:4: Invalid date 2013-6-1 for start. Write the date as YYYY-MM-DD, "
        "for example 2013-07-15.",
        f"{path}:5: Unknown team country-460. Did you mean country-406?",
        f"{path}:8: Unknown key descripton. Did you mean description? Valid keys "
        "here: description, requires, training, waves.",
    ]


def test_validate_checks_teams_in_database(runner, tmp_path):
    result = runner.invoke(args=["rollout", "validate", str(DEMO_PLAN)])

    assert result.exit_code == 1
    assert f"{DEMO_PLAN}:14: Unknown team country-406. Known teams: none." in (
        result.stderr.splitlines()
    )


def test_validate_missing_file(runner, tmp_path):
    path = tmp_path / "nowhere.yaml"

    result = runner.invoke(args=["rollout", "validate", str(path)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"{path}: The plan file {path} does not exist. Create it, or set "
        "CADENCE_FEATURE_FLAGS to the path of the plan.\n"
    )


# --- timeline ----------------------------------------------------------------------


def test_timeline(runner, teams, demo_plan):
    result = runner.invoke(args=["rollout", "timeline"])

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Phased plan, 4 waves, 8 flags:",
        *DEMO_TIMELINE,
    ]


def test_timeline_warns_about_invalid_file(runner, teams, demo_plan):
    runner.invoke(args=["rollout", "timeline"])
    demo_plan.write_text("strategy: phased\n", encoding="utf-8")

    result = runner.invoke(args=["rollout", "timeline"])

    assert result.exit_code == 0
    assert result.stderr == "The plan file is invalid; this is the last valid plan.\n"
    assert result.stdout.splitlines()[0] == "Phased plan, 4 waves, 8 flags:"


def test_timeline_without_plan(runner, teams, use_plan):
    use_plan("strategy: phased\n")

    result = runner.invoke(args=["rollout", "timeline"])

    assert result.exit_code == 1
    assert "no rollout plan has passed validation yet" in result.stderr


# --- explain -----------------------------------------------------------------------


def test_explain_later_wave_collector(runner, people, demo_plan):
    result = runner.invoke(
        args=["rollout", "explain", "activities", "--user", "collector@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "activities is OFF for collector@test.example (country-391, collector) on "
        "2013-06-30.",
        "  + Prerequisite worklist is on for this user.",
        "       + Wave launch gives the feature to everyone since 2013-06-01.",
        "  - Wave pilot is for teams country-406, not country-391.",
        "  - Wave wave-2 starts on 2013-07-15, after 2013-06-30.",
        "  - Wave wave-3 starts on 2013-09-02, after 2013-06-30.",
        "The plan turns it on from 2013-07-15 for team country-391."
        if _in_wave_2(people["collector"].id)
        else "The plan turns it on from 2013-09-02 for everyone.",
    ]


def _in_wave_2(user_id: int) -> bool:
    from app.rollout.engine import normalized_hash

    return normalized_hash("wave-2", str(user_id)) <= 50


def test_explain_pilot_collector(runner, people, demo_plan):
    result = runner.invoke(
        args=["rollout", "explain", "activities", "--user", "collector406@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "activities is ON for collector406@test.example (country-406, collector) on "
        "2013-06-30.",
        "  + Prerequisite worklist is on for this user.",
        "       + Wave launch gives the feature to everyone since 2013-06-01.",
        "  + Wave pilot gives the feature to team country-406 since 2013-06-01.",
    ]


def test_explain_at_date_with_kill_switch_and_training(runner, people, demo_plan):
    services.pull_kill_switch("dunning", actor=people["lead"], reason="Bad amounts.")

    result = runner.invoke(
        args=[
            "rollout",
            "explain",
            "letters",
            "--user",
            "collector406@test.example",
            "--at",
            "2013-09-10",
        ]
    )

    assert result.exit_code == 0
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert result.stdout.splitlines() == [
        "letters is OFF for collector406@test.example (country-406, collector) on "
        "2013-09-10.",
        "  - Prerequisite dunning is off for this user, so this feature is off too.",
        "       - The kill switch of dunning was pulled by lead@test.example on "
        f"{today}: Bad amounts.",
    ]


def test_explain_training_gate(runner, people, demo_plan):
    services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )

    result = runner.invoke(
        args=["rollout", "explain", "letters", "--user", "collector406@test.example"]
    )

    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "letters is ON for collector406@test.example (country-406, collector) on "
        "2013-06-30."
    )
    assert result.stdout.splitlines()[-1] == (
        f"  + Training gate: this user passed module letters-basics on {today}."
    )


def test_explain_override(runner, people, demo_plan):
    services.set_override(
        "kpi_dashboard",
        actor=people["lead"],
        reason="Not for trainees.",
        enabled=False,
        user=people["trainee"],
    )

    result = runner.invoke(
        args=["rollout", "explain", "kpi_dashboard", "--user", "TRAINEE@test.example"]
    )

    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "kpi_dashboard is OFF for trainee@test.example (country-391, trainee) on "
        "2013-06-30.",
        f"  - Forced off for this user by lead@test.example on {today}: Not for "
        "trainees.",
    ]


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (
            ["worklist", "--user", "nobody@test.example"],
            1,
            "no user has the email nobody@test.example",
        ),
        (
            ["worklist", "--user", "collector@test.example", "--at", "15/07/2013"],
            2,
            "'15/07/2013' is not a date; write it as YYYY-MM-DD, e.g. 2013-07-15.",
        ),
        (["worklist"], 2, "Missing option '--user'"),
    ],
    ids=["unknown user", "bad date", "no user"],
)
def test_explain_bad_input(runner, people, demo_plan, arguments, code, message):
    result = runner.invoke(args=["rollout", "explain", *arguments])

    assert result.exit_code == code
    assert message in result.stderr


def test_explain_unknown_flag(runner, people, demo_plan):
    result = runner.invoke(
        args=["rollout", "explain", "chat", "--user", "collector@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "chat is OFF for collector@test.example (country-391, collector) on "
        "2013-06-30.",
        "  - chat is not in the rollout plan, so it is off for everyone.",
    ]


# --- export ------------------------------------------------------------------------


def _export(runner, *extra):
    result = runner.invoke(args=["rollout", "export", "--format", "unleash", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _client_state(export):
    """Rebuild the client-features state an Unleash server would serve after import."""
    enabled = {
        row["featureName"]: row["enabled"] for row in export["featureEnvironments"]
    }
    dependencies = {
        row["feature"]: row["dependencies"] for row in export["dependencies"]
    }
    features = []
    for feature in export["features"]:
        name = feature["name"]
        strategies = sorted(
            (s for s in export["featureStrategies"] if s["featureName"] == name),
            key=lambda s: s["sortOrder"],
        )
        features.append(
            {
                "name": name,
                "enabled": enabled[name],
                "strategies": [
                    {
                        "name": s["name"],
                        "parameters": s["parameters"],
                        "constraints": s["constraints"],
                    }
                    for s in strategies
                ],
                "dependencies": dependencies.get(name, []),
            }
        )
    return {"version": 2, "features": features}


def test_export_has_unleash_import_keys(runner, people, demo_plan):
    export = _export(runner)

    assert list(export) == [
        "features",
        "featureStrategies",
        "featureEnvironments",
        "contextFields",
        "featureTags",
        "segments",
        "tagTypes",
        "dependencies",
    ]
    assert export["features"][0] == {
        "name": "worklist",
        "description": "Prioritised worklist of customers with overdue invoices.",
        "type": "release",
        "project": "default",
        "stale": False,
        "impressionData": False,
        "archived": False,
    }
    assert export["featureEnvironments"][0] == {
        "name": "worklist",
        "featureName": "worklist",
        "environment": "production",
        "enabled": True,
        "variants": [],
    }
    assert export["dependencies"][0] == {
        "feature": "activities",
        "dependencies": [{"feature": "worklist", "enabled": True}],
    }


def test_export_keeps_group_and_stickiness(runner, people, demo_plan):
    export = _export(runner)

    wave_2 = [s for s in export["featureStrategies"] if s["title"] == "Wave wave-2"]
    assert len(wave_2) == 6
    assert {json.dumps(s["parameters"], sort_keys=True) for s in wave_2} == {
        '{"groupId": "wave-2", "rollout": "50", "stickiness": "userId"}'
    }


def test_export_context_fields(runner, people, demo_plan):
    export = _export(runner)

    fields = {field["name"]: field for field in export["contextFields"]}
    assert list(fields) == ["team", "passedModules"]
    assert [value["value"] for value in fields["team"]["legalValues"]] == [
        "country-391",
        "country-406",
        "country-770",
        "country-818",
        "country-897",
    ]
    assert fields["passedModules"]["legalValues"] == []


def test_export_carries_kill_switch_and_overrides(runner, people, demo_plan):
    services.pull_kill_switch("dunning", actor=people["lead"], reason="Bad amounts.")
    services.set_override(
        "activities",
        actor=people["lead"],
        reason="Key user.",
        enabled=True,
        user=people["collector"],
    )

    export = _export(runner, "--environment", "staging")

    environments = {row["featureName"]: row for row in export["featureEnvironments"]}
    assert environments["dunning"]["enabled"] is False
    assert environments["dunning"]["environment"] == "staging"
    first = next(
        s for s in export["featureStrategies"] if s["featureName"] == "activities"
    )
    assert first["title"] == "Forced on for users"
    assert first["constraints"][0]["values"] == [str(people["collector"].id)]


def test_export_ids_are_stable(runner, people, demo_plan):
    first = _export(runner)
    second = _export(runner)

    assert [s["id"] for s in first["featureStrategies"]] == [
        s["id"] for s in second["featureStrategies"]
    ]
    assert len({s["id"] for s in first["featureStrategies"]}) == len(
        first["featureStrategies"]
    )


@pytest.mark.parametrize(
    "day", [dt.date(2013, 6, 30), dt.date(2013, 7, 15), dt.date(2013, 9, 2)]
)
def test_export_gives_same_users_same_features(runner, people, demo_plan, day):
    services.set_override(
        "activities",
        actor=people["lead"],
        reason="Key user.",
        enabled=True,
        user=people["collector"],
    )
    services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )
    snapshot = current_snapshot()
    moved = Engine(_client_state(_export(runner)))

    for subject in all_subjects():
        context = subject.context(day)
        for flag in snapshot.plan.flag_names:
            assert moved.is_enabled(flag, context) == snapshot.engine.is_enabled(
                flag, context
            ), (flag, subject.email)


def test_export_to_file(runner, people, demo_plan, tmp_path):
    path = tmp_path / "unleash.json"

    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--output", str(path)]
    )

    assert result.exit_code == 0
    assert result.stderr == f"Wrote 8 features to {path}.\n"
    assert len(json.loads(path.read_text(encoding="utf-8"))["features"]) == 8


def test_export_needs_known_format(runner, people, demo_plan):
    result = runner.invoke(args=["rollout", "export", "--format", "launchdarkly"])

    assert result.exit_code == 2
    assert "'launchdarkly' is not 'unleash'" in result.stderr


# --- pass-module -------------------------------------------------------------------


def test_pass_module(runner, people, demo_plan):
    result = runner.invoke(
        args=[
            "rollout",
            "pass-module",
            "--user",
            "collector406@test.example",
            "--module",
            "letters-basics",
        ]
    )

    assert result.exit_code == 0
    assert result.stdout == "collector406@test.example passed module letters-basics.\n"
    passed = db.session.scalar(select(TrainingModulePass))
    assert (passed.user_id, passed.module_id) == (
        people["collector_406"].id,
        "letters-basics",
    )


@pytest.mark.parametrize(
    ("email", "module", "message"),
    [
        ("nobody@test.example", "m1", "no user has the email nobody@test.example"),
        ("collector@test.example", "a b", "Invalid module id a b."),
    ],
    ids=["unknown user", "bad module"],
)
def test_pass_module_bad_input(runner, people, demo_plan, email, module, message):
    result = runner.invoke(
        args=["rollout", "pass-module", "--user", email, "--module", module]
    )

    assert result.exit_code == 1
    assert message in result.stderr
    assert db.session.scalar(select(TrainingModulePass)) is None
