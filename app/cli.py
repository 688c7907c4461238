"""The ``cadence`` command: Flask's CLI bound to ``create_app``."""

from flask.cli import FlaskGroup

from app import create_app


def main() -> None:
    FlaskGroup(create_app=create_app, help="Cadence command line.").main()
