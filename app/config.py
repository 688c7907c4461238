"""Configuration read from the environment, with defaults for a laptop."""

import os
from pathlib import Path


class Config:
    """Defaults; every value can be overridden by an environment variable."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")
    # The business date the app treats as "today" (ISO date). Empty means the real
    # date in Europe/Paris; the demo pins it to the date its sample data was read at.
    BUSINESS_DATE = os.environ.get("CADENCE_BUSINESS_DATE", "")
    FEATURE_FLAGS_PATH = os.environ.get("CADENCE_FEATURE_FLAGS", "")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None


def default_database_uri(instance_path: str) -> str:
    """Return the SQLite URI of the embedded database under ``instance/``."""
    return "sqlite:///" + str(Path(instance_path) / "cadence.sqlite3")
