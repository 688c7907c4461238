"""Fixtures of the rollout tests: demo teams and users without the IBM import, plans."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from app.auth.models import Role
from app.auth.services import create_user, get_or_create_team
from app.extensions import db
from app.rollout.plan_file import parse_plan
from app.rollout.runtime import build_snapshot, current_snapshot
from app.rollout.subjects import Subject
from tests.conftest import PASSWORD, REPO

DEMO_TEAMS = ["country-391", "country-406", "country-770", "country-818", "country-897"]
DEMO_PLAN = REPO / "feature_flags.yaml"
BIG_BANG_EXAMPLE = REPO / "docs" / "examples" / "big-bang.yaml"
DEMO_DATE = dt.date(2013, 6, 30)

# Email, role and team of each user the rollout tests log in as.
PEOPLE = {
    "admin": ("admin@test.example", Role.ADMIN, None),
    "lead": ("lead@test.example", Role.PROJECT_LEAD, None),
    "manager": ("manager@test.example", Role.MANAGER, None),
    "collector": ("collector@test.example", Role.COLLECTOR, "country-391"),
    "collector_406": ("collector406@test.example", Role.COLLECTOR, "country-406"),
    "collector_818": ("collector818@test.example", Role.COLLECTOR, "country-818"),
    "trainee": ("trainee@test.example", Role.TRAINEE, "country-391"),
}


@pytest.fixture(autouse=True)
def check_rollout_on_every_read(request, monkeypatch):
    """Make the app check the plan file and the database at every flag read.

    Rollout tests change both and read the result at once, with no 2-second wait.
    """
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        monkeypatch.setitem(app.config, "ROLLOUT_REFRESH_SECONDS", 0)


@pytest.fixture
def teams(app):
    """The five demo teams, by code."""
    created = {code: get_or_create_team(code) for code in DEMO_TEAMS}
    db.session.commit()
    return created


@pytest.fixture
def people(app, teams):
    """One user per role, plus collectors of country-406 and country-818, by key."""
    return {
        key: create_user(
            email=email, name=key.title(), role=role, password=PASSWORD, team_code=team
        )
        for key, (email, role, team) in PEOPLE.items()
    }


@pytest.fixture
def use_plan(app, tmp_path, monkeypatch):
    """Return a function that writes a plan file and makes it the app's plan."""

    def write(text: str, name: str = "plan.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        monkeypatch.setitem(app.config, "FEATURE_FLAGS_PATH", str(path))
        return path

    return write


def serve_snapshot(app):
    """Refresh the rollout as the serving app does, inside a request, and return it.

    Only a refresh inside a request stores the last good plan.
    """
    with app.test_request_context("/"):
        return current_snapshot()


def snapshot_of(text: str, teams=DEMO_TEAMS, **records):
    """Compile a plan given as YAML text, without a database."""
    return build_snapshot(parse_plan(textwrap.dedent(text), teams), **records)


def subject(
    user_id: int,
    team: str | None,
    role: str = "collector",
    modules: dict[str, dt.date] | None = None,
) -> Subject:
    """A user for plan tests; ``modules`` maps module ids to the date they passed."""
    passed = {
        module: dt.datetime.combine(day, dt.time(9), dt.UTC)
        for module, day in (modules or {}).items()
    }
    return Subject(
        user_id=user_id,
        email=f"user{user_id}@test.example",
        name=f"User {user_id}",
        team=team,
        role=role,
        passed_modules=passed,
    )
