"""``cadence rollout``: validate, explain, timeline, export and pass-module."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.rollout import services
from app.rollout.engine import Engine
from app.rollout.models import TrainingModulePass
from app.rollout.runtime import current_snapshot
from app.rollout.subjects import all_subjects
from tests.rollout.conftest import BIG_BANG_EXAMPLE, DEMO_PLAN

DEMO_TIMELINE = [
    "  2013-06-01  wave launch: everyone gets worklist, kpi_dashboard",
    "  2013-06-01  wave pilot: country-406 gets activities, promises, disputes, "
    "payments, dunning, letters (after training letters-basics)",
    "  2013-07-15  wave wave-2: country-391, country-818 (50% of their users) get "
    "activities, promises, disputes, payments, dunning, letters (after training "
    "letters-basics)",
    "  2013-09-02  wave wave-3: everyone gets activities, promises, disputes, "
    "payments, dunning, letters (after training letters-basics)",
]
TRAINING_WARNING = (
    "warning: The plan gates flags on training modules that Cadence cannot check: "
    "letters-basics (letters). Make sure each module exists and that passes are "
    "recorded for it, because a gated flag stays off for every user who has not "
    "passed it."
)


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
    assert result.stderr == f"{DEMO_PLAN}:49: {TRAINING_WARNING}\n"


def test_validate_big_bang_example(runner, teams):
    result = runner.invoke(args=["rollout", "validate", str(BIG_BANG_EXAMPLE)])

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{BIG_BANG_EXAMPLE} is valid: big-bang plan, cutover on 2013-09-02, 8 flags.",
        "  2013-09-02  cutover: everyone gets worklist, activities, promises, "
        "disputes, payments, dunning, letters (after training letters-basics), "
        "kpi_dashboard",
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

    bucket = _wave_2_bucket(people["collector"].id)
    if bucket <= 50:
        wave_2 = "  - Wave wave-2 starts on 2013-07-15, after 2013-06-30."
        turns_on = "The plan turns it on from 2013-07-15 for team country-391."
    else:
        wave_2 = (
            "  - Wave wave-2 starts on 2013-07-15, after 2013-06-30, and it will give "
            f"the feature to 50% of its users. This user's bucket, {bucket} of 100, "
            "is above that share."
        )
        turns_on = "The plan turns it on from 2013-09-02 for everyone."
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "activities is OFF for collector@test.example (country-391, collector) on "
        "2013-06-30.",
        "  + Prerequisite worklist is on for this user.",
        "       + Wave launch gives the feature to everyone since 2013-06-01.",
        "  - Wave pilot is for teams country-406, not country-391.",
        wave_2,
        "  - Wave wave-3 starts on 2013-09-02, after 2013-06-30.",
        turns_on,
    ]


def _wave_2_bucket(user_id: int) -> int:
    from app.rollout.engine import normalized_hash

    return normalized_hash("wave-2", str(user_id))


def test_explain_user_without_team(runner, people, use_plan):
    use_plan(
        """\
        strategy: phased
        waves:
          - name: pilot
            start: 2013-06-01
            teams: [country-406]
        flags:
          worklist:
        """
    )

    result = runner.invoke(
        args=["rollout", "explain", "worklist", "--user", "manager@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "worklist is OFF for manager@test.example (no team, manager) on 2013-06-30.",
        "  - Wave pilot is for teams country-406, and this user has no team.",
        "This user has no team, so only a wave with teams: all or an override can "
        "give them worklist.",
    ]


def test_explain_user_without_team_gets_all_wave(runner, people, demo_plan):
    result = runner.invoke(
        args=["rollout", "explain", "worklist", "--user", "manager@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "worklist is ON for manager@test.example (no team, manager) on 2013-06-30.",
        "  + Wave launch gives the feature to everyone since 2013-06-01.",
    ]


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


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        (
            "chat",
            "Unknown flag chat. The flags of Cadence are worklist, activities, "
            "promises, disputes, payments, dunning, letters, kpi_dashboard.",
        ),
        (
            "worklst",
            "Unknown flag worklst. Did you mean worklist? The flags of Cadence are "
            "worklist, activities, promises, disputes, payments, dunning, letters, "
            "kpi_dashboard.",
        ),
    ],
    ids=["no close match", "close match"],
)
def test_explain_unknown_flag(runner, people, demo_plan, flag, hint):
    result = runner.invoke(
        args=["rollout", "explain", flag, "--user", "collector@test.example"]
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"Invalid value for 'FLAG': {hint}" in " ".join(result.stderr.split())


def test_explain_flag_missing_from_plan(runner, people, use_plan):
    use_plan("strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n")

    result = runner.invoke(
        args=["rollout", "explain", "letters", "--user", "collector@test.example"]
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "letters is OFF for collector@test.example (country-391, collector) on "
        "2013-06-30.",
        "  - letters is not in the rollout plan, so it is off for everyone.",
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


def test_export_one_feature_grammar(runner, people, use_plan, tmp_path):
    use_plan("strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n")
    path = tmp_path / "unleash.json"

    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--output", str(path)]
    )

    assert result.exit_code == 0
    assert result.stderr == f"Wrote 1 feature to {path}.\n"


def test_export_invalid_plan_fails(runner, people, demo_plan):
    runner.invoke(args=["rollout", "timeline"])
    demo_plan.write_text(
        DEMO_PLAN.read_text(encoding="utf-8").replace("percent: 50", "percent: 500"),
        encoding="utf-8",
    )

    result = runner.invoke(args=["rollout", "export", "--format", "unleash"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{demo_plan}:20: Invalid percent 500. Write a whole number from 1 to 100, "
        "without the % sign, or remove percent to include every user of the teams.",
        "Error: the plan file is invalid, so nothing was exported. Fix it, or add "
        "--use-last-good to export the last valid plan",
    ]


def test_export_invalid_plan_with_last_good(runner, people, demo_plan):
    runner.invoke(args=["rollout", "timeline"])
    demo_plan.write_text("strategy: phased\n", encoding="utf-8")

    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--use-last-good"]
    )

    assert result.exit_code == 0
    assert result.stderr == (
        f"The plan file {demo_plan} is invalid. Exporting the last valid plan.\n"
    )
    assert len(json.loads(result.stdout)["features"]) == 8


def test_export_last_good_without_any_plan(runner, people, use_plan):
    use_plan("strategy: phased\n")

    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--use-last-good"]
    )

    assert result.exit_code == 1
    assert result.stderr == "Error: no rollout plan has passed validation yet\n"


def test_export_missing_file_fails(runner, people, use_plan, tmp_path):
    path = use_plan("strategy: phased\n")
    path.unlink()

    result = runner.invoke(args=["rollout", "export", "--format", "unleash"])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{path}: The plan file {path} does not exist. Create it, or set "
        "CADENCE_FEATURE_FLAGS to the path of the plan."
    )


def test_export_to_missing_directory(runner, people, demo_plan, tmp_path):
    path = tmp_path / "missing" / "unleash.json"

    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--output", str(path)]
    )

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert (
        f"Invalid value for '--output': the directory {path.parent} does not exist. "
        "Create it first, or write to another file."
    ) in " ".join(result.stderr.split())
    assert not path.parent.exists()


@pytest.mark.parametrize("environment", ["", "pre prod", "prod/eu", "é"])
def test_export_rejects_bad_environment(runner, people, demo_plan, environment):
    result = runner.invoke(
        args=["rollout", "export", "--format", "unleash", "--environment", environment]
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        f"Invalid value for '--environment': {environment!r} is not an environment "
        "name. Use letters, digits, '-' and '_', such as production."
    ) in " ".join(result.stderr.split())


@pytest.mark.parametrize("environment", ["staging", "pre-prod_2"])
def test_export_accepts_environment(runner, people, demo_plan, environment):
    export = _export(runner, "--environment", environment)

    assert {row["environment"] for row in export["featureEnvironments"]} == {
        environment
    }


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


def _module_command(runner, command, email, module):
    return runner.invoke(args=["rollout", command, "--user", email, "--module", module])


def test_pass_module_twice_is_no_op(runner, people, demo_plan):
    _module_command(
        runner, "pass-module", "collector406@test.example", "letters-basics"
    )

    result = _module_command(
        runner, "pass-module", "collector406@test.example", "letters-basics"
    )

    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert result.exit_code == 0
    assert result.stdout == (
        "collector406@test.example already passed module letters-basics on "
        f"{today}. Nothing changed.\n"
    )
    assert result.stderr == ""
    assert len(db.session.scalars(select(TrainingModulePass)).all()) == 1


def test_pass_module_unused_by_plan_warns(runner, people, demo_plan):
    result = _module_command(
        runner, "pass-module", "collector@test.example", "letters-basic"
    )

    assert result.exit_code == 0
    assert result.stderr == (
        "Warning: No flag of the rollout plan is gated on module letters-basic, so "
        "this changes no feature. Modules of the plan: letters-basics.\n"
    )
    assert result.stdout == "collector@test.example passed module letters-basic.\n"


def test_revoke_module(runner, people, demo_plan):
    _module_command(
        runner, "pass-module", "collector406@test.example", "letters-basics"
    )

    result = _module_command(
        runner, "revoke-module", "collector406@test.example", "letters-basics"
    )

    assert result.exit_code == 0
    assert result.stdout == (
        "The pass of collector406@test.example for module letters-basics is revoked.\n"
    )
    assert db.session.scalar(select(TrainingModulePass)) is None
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "rollout.module_revoked")
    )
    assert (entry.actor_label, entry.target) == (
        "cli",
        "collector406@test.example / letters-basics",
    )


def test_revoke_module_without_pass(runner, people, demo_plan):
    result = _module_command(
        runner, "revoke-module", "collector406@test.example", "letters-basics"
    )

    assert result.exit_code == 0
    assert result.stdout == (
        "collector406@test.example has no pass of module letters-basics. Nothing "
        "changed.\n"
    )


@pytest.mark.parametrize(
    ("email", "module", "message"),
    [
        ("nobody@test.example", "m1", "no user has the email nobody@test.example"),
        ("collector@test.example", "a b", "Invalid module id a b."),
    ],
    ids=["unknown user", "bad module"],
)
def test_revoke_module_bad_input(runner, people, demo_plan, email, module, message):
    result = _module_command(runner, "revoke-module", email, module)

    assert result.exit_code == 1
    assert message in result.stderr


# --- summaries ---------------------------------------------------------------------


def test_timeline_singular_counts(runner, teams, use_plan):
    use_plan(
        """\
        strategy: phased
        waves:
          - name: pilot
            start: 2013-06-01
            teams: [country-406]
            percent: 30
        flags:
          worklist:
        """
    )

    result = runner.invoke(args=["rollout", "timeline"])

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Phased plan, 1 wave, 1 flag:",
        "  2013-06-01  wave pilot: country-406 (30% of its users) gets worklist",
    ]


def test_timeline_wave_without_flag(runner, teams, use_plan):
    use_plan(
        """\
        strategy: phased
        waves:
          - name: pilot
            start: 2013-06-01
            teams: [country-406]
          - name: later
            start: 2013-07-01
            teams: all
        flags:
          worklist:
            waves: [pilot]
        """
    )

    result = runner.invoke(args=["rollout", "timeline"])

    assert result.stdout.splitlines()[-1] == (
        "  2013-07-01  wave later: everyone gets no flag"
    )


def test_validate_prints_warnings_after_timeline(runner, teams, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: phased\nwaves:\n  - name: pilot\n    start: 2013-06-01\n"
        "    teams: all\n  - name: later\n    start: 2013-07-01\n    teams: all\n"
        "flags:\n  worklist:\n    waves: [pilot]\n",
        encoding="utf-8",
    )

    result = runner.invoke(args=["rollout", "validate", str(path)])

    assert result.exit_code == 0
    assert result.stderr == (
        f"{path}:6: warning: Wave later gives no flag, because no flag lists it in "
        "its waves. Add it to the waves of a flag, or remove the wave.\n"
    )


def test_validate_unknown_flag(runner, teams, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n  leters:\n",
        encoding="utf-8",
    )

    result = runner.invoke(args=["rollout", "validate", str(path)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"{path}:5: Unknown flag leters. Did you mean letters? The flags of Cadence "
        "are worklist, activities, promises, disputes, payments, dunning, letters, "
        "kpi_dashboard.\n"
    )
