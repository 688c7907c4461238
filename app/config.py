"""Configuration read from the environment, with defaults for a laptop."""

import os
import secrets
from pathlib import Path


def _whole_days(name: str, default: int) -> int:
    """Return the environment variable ``name`` as a number of days, at least 1."""
    text = os.environ.get(name, "").strip() or str(default)
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(
            f"{name} must be a whole number of days, at least 1, not {text!r}"
        )
    return int(text)


class Config:
    """Defaults; every value can be overridden by an environment variable."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")
    # The business date the app treats as "today" (ISO date). Empty means the real
    # date in Europe/Paris; the demo pins it to the date its sample data was read at.
    BUSINESS_DATE = os.environ.get("CADENCE_BUSINESS_DATE", "")
    FEATURE_FLAGS_PATH = os.environ.get("CADENCE_FEATURE_FLAGS", "")
    # YAML file of the creditor printed on letters; empty means the shipped sample.
    CREDITOR_FILE = os.environ.get("CADENCE_CREDITOR_FILE", "")
    # YAML files of the ECB and legal interest rates by semester; empty means the
    # tables shipped in app/collection/data/. Admins add each new semester.
    ECB_RATES_FILE = os.environ.get("CADENCE_ECB_RATES_FILE", "")
    LEGAL_RATES_FILE = os.environ.get("CADENCE_LEGAL_RATES_FILE", "")
    # How often each process checks the plan file and the shared rollout version.
    ROLLOUT_REFRESH_SECONDS = float(
        os.environ.get("CADENCE_ROLLOUT_REFRESH_SECONDS", "2")
    )
    # The latest promise-to-pay date a collector may record, in days after the
    # business date. A pending promise pauses dunning of the whole account.
    PROMISE_MAX_DAYS = _whole_days("CADENCE_PROMISE_MAX_DAYS", 90)
    # Add the worker's pid to every response as X-Cadence-Worker (tests only).
    EXPOSE_WORKER_PID = os.environ.get("CADENCE_EXPOSE_WORKER_PID") == "1"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    # Failed logins for one email within the window before further attempts wait.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW_MINUTES = 15


def default_database_uri(instance_path: str) -> str:
    """Return the SQLite URI of the embedded database under ``instance/``."""
    return "sqlite:///" + str(Path(instance_path) / "cadence.sqlite3")


def instance_secret_key(instance_path: str) -> str:
    """Return this instance's secret key, creating it (mode 0600) on first use.

    Every worker of one instance reads the same file, so sessions stay valid across
    workers and restarts without a key that anyone else could know.
    """
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()
