"""The last good plan: stored by the serving app only, per plan file path.

A command-line run is another process with the same database, so these tests build a
second app on the test database and run the ``cadence rollout`` commands in it.
"""

import pytest
from sqlalchemy import func, select, update

from app import create_app
from app.audit.models import AuditEntry
from app.extensions import db
from app.rollout.flags import is_enabled
from app.rollout.models import STATE_ROW_ID, RolloutState
from app.rollout.plan_file import read_plan
from app.rollout.runtime import (
    NO_PLAN,
    PLAN_FROM_DATABASE,
    PLAN_FROM_FILE,
    PLAN_FROM_MEMORY,
    current_snapshot,
    reset_runtime,
)
from tests.conftest import IBM_AS_OF
from tests.rollout.conftest import DEMO_PLAN, DEMO_TEAMS, serve_snapshot

PLAN_B = """\
strategy: big_bang
cutover: 2013-06-01
flags:
  worklist:
"""
INVALID = "strategy: phased\n"


@pytest.fixture
def other_process(database_url):
    """Return a function that builds an app on the test database, as another process.

    Each app reads the plan file it is given, like a `cadence` command run with
    CADENCE_FEATURE_FLAGS set to that file.
    """
    created = []

    def build(plan_path):
        other = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": "other-process-secret",
                "BUSINESS_DATE": IBM_AS_OF.isoformat(),
                "FEATURE_FLAGS_PATH": str(plan_path),
                "ROLLOUT_REFRESH_SECONDS": 0,
            }
        )
        created.append(other)
        return other

    yield build
    for other in created:
        with other.app_context():
            db.engine.dispose()


def _run(other_app, *args):
    with other_app.app_context():
        result = other_app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
    return result


def _plan_entries() -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "rollout.plan")
        .order_by(AuditEntry.id)
    ).all()


def _stored_path() -> str | None:
    data = db.session.scalar(
        select(RolloutState.plan_json).where(RolloutState.id == STATE_ROW_ID)
    )
    return data.get("path") if data else None


def test_cli_commands_leave_server_plan_in_force(
    app, people, use_plan, tmp_path, other_process
):
    path_a = use_plan(DEMO_PLAN.read_text(encoding="utf-8"), "a.yaml")
    demo = read_plan(DEMO_PLAN, DEMO_TEAMS)
    assert serve_snapshot(app).plan == demo
    path_b = tmp_path / "b.yaml"
    path_b.write_text(PLAN_B, encoding="utf-8")
    cli = other_process(path_b)

    results = {
        "timeline": _run(cli, "rollout", "timeline"),
        "explain": _run(
            cli, "rollout", "explain", "worklist", "--user", "manager@test.example"
        ),
        "export": _run(cli, "rollout", "export", "--format", "unleash"),
        "validate": _run(cli, "rollout", "validate"),
    }

    assert {name: result.exit_code for name, result in results.items()} == {
        "timeline": 0,
        "explain": 0,
        "export": 0,
        "validate": 0,
    }
    assert results["timeline"].stdout.startswith("Big-bang plan")
    assert [entry.after.get("path") for entry in _plan_entries()] == [str(path_a)]
    assert _stored_path() == str(path_a)

    path_a.write_text(INVALID, encoding="utf-8")
    while_invalid = serve_snapshot(app)

    assert while_invalid.plan == demo
    assert while_invalid.errors != ()
    assert is_enabled("activities", people["collector_406"]) is True

    reset_runtime(app)
    after_restart = serve_snapshot(app)

    assert after_restart.origin == PLAN_FROM_DATABASE
    assert after_restart.plan == demo
    assert is_enabled("activities", people["collector_406"]) is True
    assert [entry.after.get("path") for entry in _plan_entries()] == [str(path_a)]


def test_cli_run_outside_request_stores_nothing(app, people, use_plan, runner):
    use_plan(DEMO_PLAN.read_text(encoding="utf-8"))

    result = runner.invoke(args=["rollout", "timeline"])

    assert result.exit_code == 0
    assert _plan_entries() == []
    assert db.session.scalar(select(func.count()).select_from(RolloutState)) == 0


def test_stored_plan_of_other_path_is_not_used(
    app, people, use_plan, tmp_path, other_process
):
    path_a = use_plan(INVALID, "a.yaml")
    path_b = tmp_path / "b.yaml"
    path_b.write_text(PLAN_B, encoding="utf-8")
    other_server = other_process(path_b)
    with other_server.test_request_context("/"):
        assert current_snapshot().plan.strategy == "big_bang"
        db.session.remove()
    assert _stored_path() == str(path_b)

    snapshot = serve_snapshot(app)

    assert snapshot.plan is None
    assert snapshot.origin == NO_PLAN
    assert snapshot.path == str(path_a)


def test_fixed_file_stored_again_after_other_path(
    app, people, use_plan, tmp_path, other_process
):
    text_a = DEMO_PLAN.read_text(encoding="utf-8")
    path_a = use_plan(text_a, "a.yaml")
    serve_snapshot(app)
    path_b = tmp_path / "b.yaml"
    path_b.write_text(PLAN_B, encoding="utf-8")
    other_server = other_process(path_b)
    with other_server.test_request_context("/"):
        current_snapshot()
        db.session.remove()
    assert _stored_path() == str(path_b)

    path_a.write_text(INVALID, encoding="utf-8")
    while_invalid = serve_snapshot(app)
    path_a.write_text(text_a, encoding="utf-8")
    fixed = serve_snapshot(app)

    assert while_invalid.origin == PLAN_FROM_MEMORY
    assert fixed.origin == PLAN_FROM_FILE
    assert _stored_path() == str(path_a)
    assert [entry.after.get("path") for entry in _plan_entries()] == [
        str(path_a),
        str(path_b),
        str(path_a),
    ]
    assert _plan_entries()[-1].before["path"] == str(path_b)


def test_servers_of_two_paths_do_not_alternate(
    app, people, use_plan, tmp_path, other_process
):
    use_plan(DEMO_PLAN.read_text(encoding="utf-8"), "a.yaml")
    path_b = tmp_path / "b.yaml"
    path_b.write_text(PLAN_B, encoding="utf-8")
    other_server = other_process(path_b)

    for _round in range(3):
        serve_snapshot(app)
        with other_server.test_request_context("/"):
            current_snapshot()
            db.session.remove()

    assert len(_plan_entries()) == 2


def test_return_to_earlier_content_stored_again(app, people, use_plan):
    text_a = DEMO_PLAN.read_text(encoding="utf-8")
    path = use_plan(text_a)
    serve_snapshot(app)
    path.write_text(PLAN_B, encoding="utf-8")
    serve_snapshot(app)

    path.write_text(text_a, encoding="utf-8")
    serve_snapshot(app)

    entries = _plan_entries()
    assert [entry.after["strategy"] for entry in entries] == [
        "phased",
        "big_bang",
        "phased",
    ]
    assert entries[2].after["digest"] == entries[0].after["digest"]
    assert entries[2].before["digest"] == entries[1].after["digest"]


def test_refixed_file_with_same_content_not_stored_twice(app, people, use_plan):
    text_a = DEMO_PLAN.read_text(encoding="utf-8")
    path = use_plan(text_a)
    serve_snapshot(app)

    path.write_text(INVALID, encoding="utf-8")
    serve_snapshot(app)
    path.write_text(text_a, encoding="utf-8")
    serve_snapshot(app)

    assert len(_plan_entries()) == 1


def test_memory_plan_not_carried_to_another_path(app, people, use_plan):
    use_plan(DEMO_PLAN.read_text(encoding="utf-8"), "a.yaml")
    current_snapshot()

    use_plan(INVALID, "b.yaml")
    snapshot = current_snapshot()

    assert snapshot.plan is None
    assert snapshot.origin == NO_PLAN


def test_plan_stored_without_path_is_not_used(app, people, use_plan):
    path = use_plan(DEMO_PLAN.read_text(encoding="utf-8"))
    serve_snapshot(app)
    plan_json = read_plan(DEMO_PLAN, DEMO_TEAMS).to_json()
    # The format stored before paths were stored: the plan alone.
    db.session.execute(
        update(RolloutState)
        .where(RolloutState.id == STATE_ROW_ID)
        .values(plan_json=plan_json)
    )
    db.session.commit()
    path.write_text(INVALID, encoding="utf-8")

    reset_runtime(app)
    snapshot = current_snapshot()

    assert snapshot.plan is None
