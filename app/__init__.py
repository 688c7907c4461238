"""Cadence: accounts-receivable collection with a feature-flagged rollout."""

import logging
import os
from pathlib import Path

from flask import Flask

from app.config import Config, default_database_uri, instance_secret_key

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application from named steps; ``test_config`` overrides settings."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("CADENCE_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    configure(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_template_helpers(app)
    register_error_handlers(app)
    configure_logging(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        try:
            app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
        except FileExistsError:
            # Another worker created the file between our check and our write.
            app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = default_database_uri(app.instance_path)
    if not app.config.get("FEATURE_FLAGS_PATH"):
        app.config["FEATURE_FLAGS_PATH"] = str(
            Path(app.root_path).parent / "feature_flags.yaml"
        )


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every table on the metadata)
    from app.auth.locale import select_locale
    from app.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"


def register_blueprints(app: Flask) -> None:
    from app.auth.views import bp as auth_bp
    from app.collection.dunning_views import bp as dunning_bp
    from app.collection.views import bp as collection_bp
    from app.ledger.views import bp as ledger_bp
    from app.rollout.views import bp as rollout_bp
    from migration.views import bp as migration_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(collection_bp)
    app.register_blueprint(dunning_bp)
    app.register_blueprint(rollout_bp)
    app.register_blueprint(migration_bp)


def register_commands(app: Flask) -> None:
    from app.auth.cli import demo, users
    from app.collection.cli import dunning
    from app.collection.kpi_cli import kpi_command
    from app.rollout.cli import rollout
    from migration.cli import legacy

    app.cli.add_command(users)
    app.cli.add_command(dunning)
    app.cli.add_command(kpi_command)
    app.cli.add_command(demo)
    app.cli.add_command(legacy)
    app.cli.add_command(rollout)


def register_template_helpers(app: Flask) -> None:
    from app.templating import register

    register(app)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register

    register(app)


def configure_logging(app: Flask) -> None:
    """Log at INFO to stderr unless the host (gunicorn, pytest) set up handlers."""
    if app.testing:
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
