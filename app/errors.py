"""Error pages; a server error rolls the session back before rendering."""

import logging

from flask import Flask, render_template

from app.extensions import db

logger = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.errorhandler(403)
    def forbidden(error):
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    def not_found(error):
        return render_template("errors/404.html", description=error.description), 404

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        logger.error("server error: %s", error)
        return render_template("errors/500.html"), 500
