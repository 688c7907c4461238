"""The suite runs on the database CI asked for."""

import os

import pytest

from app.extensions import db


def test_runs_on_configured_backend(app):
    expected = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"

    assert db.engine.dialect.name == expected


@pytest.mark.postgres
def test_runs_on_postgresql(app):
    assert db.engine.dialect.name == "postgresql"
    assert db.session.execute(db.text("show server_version_num")).scalar() >= "150000"
