"""Kill switches, overrides, training passes and exposures, stored and audited."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.extensions import db
from app.rollout import services
from app.rollout.flags import is_enabled
from app.rollout.models import (
    STATE_ROW_ID,
    Exposure,
    KillSwitch,
    Override,
    RolloutState,
    TrainingModulePass,
)
from app.rollout.runtime import PLAN_FROM_DATABASE, current_snapshot, reset_runtime
from tests.rollout.conftest import DEMO_PLAN, serve_snapshot


@pytest.fixture
def demo_plan(use_plan):
    return use_plan(DEMO_PLAN.read_text(encoding="utf-8"))


def _state_version() -> int:
    return db.session.scalar(
        select(RolloutState.version).where(RolloutState.id == STATE_ROW_ID)
    )


def _audit(action: str) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


# --- kill switch -------------------------------------------------------------------


def test_kill_switch_turns_flag_off_for_everyone(people, demo_plan):
    pilot, manager = people["collector_406"], people["manager"]
    assert is_enabled("activities", pilot) is True
    assert is_enabled("worklist", manager) is True

    services.pull_kill_switch("worklist", actor=people["lead"], reason="Wrong totals.")

    assert is_enabled("worklist", manager) is False
    assert is_enabled("worklist", pilot) is False
    # activities requires worklist, so it goes off with it.
    assert is_enabled("activities", pilot) is False


def test_kill_switch_is_audited(people, demo_plan):
    lead = people["lead"]

    services.pull_kill_switch("worklist", actor=lead, reason="Wrong totals.")

    [entry] = _audit("rollout.kill_switch")
    assert entry.actor_id == lead.id
    assert entry.actor_label == "lead@test.example"
    assert entry.target == "worklist"
    assert entry.reason == "Wrong totals."
    assert entry.before == {"kill_switch": False}
    assert entry.after == {"kill_switch": True}
    assert entry.at is not None


def test_release_kill_switch(people, demo_plan):
    lead = people["lead"]
    services.pull_kill_switch("worklist", actor=lead, reason="Wrong totals.")

    services.release_kill_switch("worklist", actor=lead, reason="Totals fixed.")

    assert is_enabled("worklist", people["manager"]) is True
    assert db.session.get(KillSwitch, "worklist") is None
    entries = _audit("rollout.kill_switch")
    assert [(e.reason, e.before, e.after) for e in entries] == [
        ("Wrong totals.", {"kill_switch": False}, {"kill_switch": True}),
        ("Totals fixed.", {"kill_switch": True}, {"kill_switch": False}),
    ]


def test_changes_bump_shared_version(people, demo_plan):
    lead = people["lead"]
    current_snapshot()
    before = _state_version() or 0

    services.pull_kill_switch("worklist", actor=lead, reason="Wrong totals.")
    services.release_kill_switch("worklist", actor=lead, reason="Fixed.")
    services.set_override(
        "dunning",
        actor=lead,
        reason="Early tester.",
        enabled=True,
        user=people["collector"],
    )

    assert _state_version() == before + 3


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "A reason is required. Say why, so the audit log explains the change."),
        ("   ", "A reason is required. Say why, so the audit log explains the change."),
        ("x" * 501, "The reason has 501 characters; keep it under 500."),
    ],
    ids=["empty", "blank", "too long"],
)
def test_change_needs_reason(people, demo_plan, reason, message):
    with pytest.raises(services.RolloutError) as raised:
        services.pull_kill_switch("worklist", actor=people["lead"], reason=reason)

    assert str(raised.value) == message
    assert db.session.scalar(select(func.count()).select_from(KillSwitch)) == 0


def test_kill_switch_of_unknown_flag_rejected(people, demo_plan):
    with pytest.raises(services.RolloutError) as raised:
        services.pull_kill_switch("chat", actor=people["lead"], reason="Noise.")

    assert str(raised.value) == "Unknown flag chat: it is not in the rollout plan."


def test_kill_switch_pulled_twice_rejected(people, demo_plan):
    services.pull_kill_switch("worklist", actor=people["lead"], reason="Wrong totals.")

    with pytest.raises(services.RolloutError) as raised:
        services.pull_kill_switch("worklist", actor=people["lead"], reason="Again.")

    assert str(raised.value) == "The kill switch of worklist is already pulled."


def test_release_of_unpulled_kill_switch_rejected(people, demo_plan):
    with pytest.raises(services.RolloutError) as raised:
        services.release_kill_switch(
            "worklist", actor=people["lead"], reason="Why not."
        )

    assert str(raised.value) == "The kill switch of worklist is not pulled."


# --- overrides ---------------------------------------------------------------------


def test_user_override_forces_flag_on(people, demo_plan):
    collector = people["collector"]
    assert is_enabled("activities", collector) is False

    services.set_override(
        "activities",
        actor=people["lead"],
        reason="Key user.",
        enabled=True,
        user=collector,
    )

    assert is_enabled("activities", collector) is True
    assert is_enabled("activities", people["collector_818"]) is False


def test_team_override_forces_flag_off(people, teams, demo_plan):
    services.set_override(
        "activities",
        actor=people["lead"],
        reason="Team on holiday.",
        enabled=False,
        team=teams["country-406"],
    )

    assert is_enabled("activities", people["collector_406"]) is False


def test_override_replaced_not_duplicated(people, demo_plan):
    lead, collector = people["lead"], people["collector"]

    services.set_override(
        "activities", actor=lead, reason="Key user.", enabled=True, user=collector
    )
    services.set_override(
        "activities", actor=lead, reason="Too early.", enabled=False, user=collector
    )

    rows = db.session.scalars(select(Override)).all()
    assert [(row.flag, row.user_id, row.enabled, row.reason) for row in rows] == [
        ("activities", collector.id, False, "Too early.")
    ]
    entries = _audit("rollout.override")
    assert [(e.target, e.reason, e.before, e.after) for e in entries] == [
        (
            "activities / user collector@test.example",
            "Key user.",
            None,
            {"enabled": True},
        ),
        (
            "activities / user collector@test.example",
            "Too early.",
            {"enabled": True},
            {"enabled": False},
        ),
    ]
    assert is_enabled("activities", collector) is False


def test_remove_override(people, demo_plan):
    lead, collector = people["lead"], people["collector"]
    override = services.set_override(
        "activities", actor=lead, reason="Key user.", enabled=True, user=collector
    )

    services.remove_override(override.id, actor=lead, reason="Wave 2 covers it.")

    assert db.session.scalar(select(func.count()).select_from(Override)) == 0
    assert is_enabled("activities", collector) is False
    entry = _audit("rollout.override")[-1]
    assert (entry.reason, entry.before, entry.after) == (
        "Wave 2 covers it.",
        {"enabled": True},
        None,
    )


def test_remove_unknown_override_rejected(people, demo_plan):
    with pytest.raises(services.RolloutError) as raised:
        services.remove_override(999999, actor=people["lead"], reason="Cleanup.")

    assert str(raised.value) == "Override 999999 does not exist."


def test_override_needs_exactly_one_target(people, teams, demo_plan):
    with pytest.raises(services.RolloutError) as raised:
        services.set_override(
            "activities",
            actor=people["lead"],
            reason="Both.",
            enabled=True,
            user=people["collector"],
            team=teams["country-391"],
        )

    assert str(raised.value) == "Choose either a user or a team for the override."


# --- training passes ---------------------------------------------------------------


def test_module_pass_opens_training_gate(people, demo_plan):
    pilot = people["collector_406"]
    assert is_enabled("letters", pilot) is False

    services.record_module_pass(pilot, "letters-basics", actor=people["admin"])

    assert is_enabled("letters", pilot) is True
    [entry] = _audit("rollout.module_passed")
    assert entry.actor_label == "admin@test.example"
    assert entry.target == "collector406@test.example / letters-basics"


def test_module_pass_recorded_once(people, demo_plan):
    pilot = people["collector_406"]
    first = services.record_module_pass(pilot, "letters-basics", actor_label="cli")

    second = services.record_module_pass(pilot, "letters-basics", actor_label="cli")

    assert first.changed is True
    assert second.changed is False
    assert second.passed_at == first.passed_at
    assert str(second.message) == (
        "collector406@test.example already passed module letters-basics on "
        f"{first.passed_at.date().isoformat()}. Nothing changed."
    )
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 1
    assert len(_audit("rollout.module_passed")) == 1


def test_module_pass_for_unused_module_warns(people, demo_plan):
    change = services.record_module_pass(
        people["collector"], "dunning-101", actor_label="cli"
    )

    assert change.changed is True
    assert str(change.gates_nothing) == (
        "No flag of the rollout plan is gated on module dunning-101, so this "
        "changes no feature. Modules of the plan: letters-basics."
    )


def test_module_pass_for_plan_module_has_no_warning(people, demo_plan):
    change = services.record_module_pass(
        people["collector"], "letters-basics", actor_label="cli"
    )

    assert change.gates_nothing is None


def test_revoke_module_pass_closes_gate(people, demo_plan):
    pilot = people["collector_406"]
    services.record_module_pass(pilot, "letters-basics", actor=people["admin"])
    assert is_enabled("letters", pilot) is True

    change = services.revoke_module_pass(pilot, "letters-basics", actor=people["admin"])

    assert change.changed is True
    assert str(change.message) == (
        "The pass of collector406@test.example for module letters-basics is revoked."
    )
    assert is_enabled("letters", pilot) is False
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 0
    [entry] = _audit("rollout.module_revoked")
    assert entry.actor_label == "admin@test.example"
    assert entry.target == "collector406@test.example / letters-basics"
    assert entry.before["module"] == "letters-basics"
    assert entry.after is None


def test_revoke_missing_pass_changes_nothing(people, demo_plan):
    change = services.revoke_module_pass(
        people["collector"], "letters-basics", actor_label="cli"
    )

    assert change.changed is False
    assert str(change.message) == (
        "collector@test.example has no pass of module letters-basics. Nothing changed."
    )
    assert _audit("rollout.module_revoked") == []


def test_module_id_validated(people, demo_plan):
    with pytest.raises(services.RolloutError) as raised:
        services.record_module_pass(people["collector"], "a,b", actor_label="cli")

    assert str(raised.value) == (
        "Invalid module id a,b. Use letters, digits, '-', '_' or '.'."
    )


# --- last good plan ----------------------------------------------------------------


def test_invalid_file_keeps_last_good_plan(app, people, use_plan):
    path = use_plan(DEMO_PLAN.read_text(encoding="utf-8"))
    assert current_snapshot().plan.is_phased

    path.write_text("strategy: phased\nwaves: []\nflags: {}\n", encoding="utf-8")
    snapshot = current_snapshot()

    assert snapshot.plan.is_phased
    assert [(e.line, str(e.message)) for e in snapshot.errors] == [
        (
            2,
            "waves must be a list with at least one wave. Start each wave on its own "
            "line with '- name:'.",
        )
    ]
    assert is_enabled("activities", people["collector_406"]) is True


def test_fresh_worker_takes_last_good_plan_from_database(app, people, use_plan):
    path = use_plan(DEMO_PLAN.read_text(encoding="utf-8"))
    serve_snapshot(app)
    path.write_text("strategy: phased\n", encoding="utf-8")

    reset_runtime(app)
    snapshot = current_snapshot()

    assert snapshot.origin == PLAN_FROM_DATABASE
    assert snapshot.plan.is_phased
    assert len(snapshot.errors) == 2
    assert is_enabled("activities", people["collector_406"]) is True


def test_no_valid_plan_turns_everything_off(app, people, use_plan):
    use_plan("strategy: phased\n")

    snapshot = current_snapshot()

    assert snapshot.plan is None
    assert is_enabled("worklist", people["manager"]) is False


def test_plan_change_audited_once(app, people, use_plan):
    path = use_plan(DEMO_PLAN.read_text(encoding="utf-8"))
    serve_snapshot(app)
    serve_snapshot(app)
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    serve_snapshot(app)

    entries = _audit("rollout.plan")
    assert [
        (e.actor_label, e.target, e.after["strategy"], e.after["flags"])
        for e in entries
    ] == [
        (str(path), "plan.yaml", "phased", DEMO_PLAN_FLAGS),
        (str(path), "plan.yaml", "big_bang", ["worklist"]),
    ]
    assert entries[0].before is None
    assert entries[1].before == {
        "path": str(path),
        "digest": entries[0].after["digest"],
    }
    assert entries[1].after["path"] == str(path)


DEMO_PLAN_FLAGS = [
    "worklist",
    "activities",
    "promises",
    "disputes",
    "payments",
    "dunning",
    "letters",
    "kpi_dashboard",
]


def test_unknown_team_valid_once_created(app, people, use_plan):
    from app.auth.services import get_or_create_team

    use_plan(
        """\
        strategy: phased
        waves:
          - name: pilot
            start: 2013-06-01
            teams: [country-999]
        flags:
          worklist:
            description: W.
        """
    )
    assert current_snapshot().plan is None

    get_or_create_team("country-999")
    db.session.commit()

    assert current_snapshot().plan is not None
    assert current_snapshot().errors == ()


# --- exposures ---------------------------------------------------------------------


def _exposures():
    rows = db.session.execute(
        select(Exposure.user_id, Exposure.flag, Exposure.first_exposed_at).order_by(
            Exposure.flag
        )
    ).all()
    return [tuple(row) for row in rows]


def test_exposure_recorded_once(client, auth, people, demo_plan):
    pilot = people["collector_406"]
    auth.login(pilot.email)

    client.get("/worklist")
    first = _exposures()
    client.get("/worklist")
    client.get("/ageing")

    # The worklist page may evaluate other flags too; each counts once.
    assert (pilot.id, "worklist") in [(user_id, flag) for user_id, flag, _at in first]
    assert {user_id for user_id, _flag, _at in first} == {pilot.id}
    assert _exposures() == first


def test_exposure_not_recorded_when_flag_off(client, auth, people, demo_plan):
    services.pull_kill_switch("worklist", actor=people["lead"], reason="Wrong totals.")
    auth.login(people["collector_406"].email)

    client.get("/ageing")

    assert "worklist" not in {flag for _user_id, flag, _at in _exposures()}


def test_lead_pages_record_no_exposure_for_others(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    assert client.get("/rollout/flags/worklist").status_code == 200

    assert {user_id for user_id, _flag, _at in _exposures()} <= {people["lead"].id}


def test_evaluation_outside_request_records_no_exposure(people, demo_plan):
    assert is_enabled("worklist", people["manager"]) is True

    assert _exposures() == []
