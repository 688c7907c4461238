"""Shared fixtures: an app on a fresh database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), the IBM sample loaded, users of every role."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import flask_babel
import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade

from app import MIGRATIONS_DIR, create_app
from app.extensions import db
from app.rollout.runtime import reset_runtime

REPO = Path(__file__).resolve().parent.parent
IBM_SAMPLE = REPO / "app" / "sample_data" / "ibm-accounts-receivable.csv"
IBM_AS_OF = dt.date(2013, 6, 30)
ALL_FEATURES_PLAN = REPO / "tests" / "data" / "flags_all_on.yaml"
PASSWORD = "correct-horse-battery"
STRICT = os.environ.get("CADENCE_STRICT_TESTS") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when a real component is missing, or fail in CI where none may be."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"required component missing in a strict run: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    """Leave out PostgreSQL-only tests when no server is configured, and print how many."""
    if os.environ.get("TEST_DATABASE_URL"):
        return
    kept = [item for item in items if "postgres" not in item.keywords]
    left_out = [item for item in items if "postgres" in item.keywords]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
        config._cadence_postgres_left_out = len(left_out)


def pytest_terminal_summary(terminalreporter, config):
    left_out = getattr(config, "_cadence_postgres_left_out", 0)
    if left_out:
        terminalreporter.write_line(
            f"{left_out} PostgreSQL-only tests not run: set TEST_DATABASE_URL "
            "to a PostgreSQL server URL to run them."
        )


def _postgres_schema_url(base_url: str) -> tuple[str, str]:
    """Create a throwaway database on the server and return its URL and name."""
    name = "cadence_test_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = sa.engine.make_url(base_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def _drop_postgres_database(base_url: str, name: str) -> None:
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
        return
    url, name = _postgres_schema_url(base)
    yield url
    _drop_postgres_database(base, name)


@pytest.fixture(scope="session")
def migrated_app(database_url, tmp_path_factory):
    """An app whose database schema was built by the Alembic migrations."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            # Fast hashing for tests only. Production keeps werkzeug's default, scrypt.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "BUSINESS_DATE": IBM_AS_OF.isoformat(),
        }
    )
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))

    @app.before_request
    def forget_per_request_caches():
        # Test requests reuse the test's app context and so its ``g``; drop what
        # Flask-Login and Flask-Babel cache there, as a fresh request would.
        g.pop("_login_user", None)
        flask_babel.refresh()

    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables() -> None:
    # Children before parents, so no foreign key is violated.
    for table in reversed(db.metadata.sorted_tables):
        if table.name in db.metadata.tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(migrated_app):
    """The app on an empty database; tables are emptied again after the test."""
    migrated_app.config.update(
        WTF_CSRF_ENABLED=False,
        BUSINESS_DATE=IBM_AS_OF.isoformat(),
        FEATURE_FLAGS_PATH=str(ALL_FEATURES_PLAN),
    )
    with migrated_app.app_context():
        _empty_tables()
        # The rollout keeps plans, overrides and exposures from the emptied tables.
        reset_runtime(migrated_app)
        yield migrated_app
        db.session.rollback()
        _empty_tables()
        reset_runtime(migrated_app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ibm_loaded(app):
    """The bundled IBM sample imported as of 2013-06-30."""
    from migration.importer import run_import

    return run_import(IBM_SAMPLE, profile="ibm-ar", as_of=IBM_AS_OF)


@pytest.fixture
def users(app, ibm_loaded):
    """One user per role; collectors of teams country-391 and country-406."""
    from app.auth.services import create_user

    specs = {
        "admin": ("admin@test.example", "admin", None),
        "lead": ("lead@test.example", "project_lead", None),
        "manager": ("manager@test.example", "manager", None),
        "collector": ("collector@test.example", "collector", "country-391"),
        "collector_406": ("collector406@test.example", "collector", "country-406"),
        "trainee": ("trainee@test.example", "trainee", "country-391"),
    }
    return {
        key: create_user(
            email=email, name=key.title(), role=role, password=PASSWORD, team_code=team
        )
        for key, (email, role, team) in specs.items()
    }


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
