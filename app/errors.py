"""Error pages and response headers; a server error rolls the session back."""

import logging

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.extensions import db

logger = logging.getLogger(__name__)

# Scripts come from our own files only. Inline styles stay allowed because
# printable letters and SVG charts carry style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        logger.info("CSRF check failed on %s: %s", request.path, error.description)
        return render_template("errors/400.html", csrf=True), 400

    @app.errorhandler(400)
    def bad_request(error):
        return render_template("errors/400.html", csrf=False), 400

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    def not_found(error):
        return render_template("errors/404.html", description=error.description), 404

    @app.errorhandler(405)
    def method_not_allowed(error):
        return render_template("errors/405.html"), 405

    @app.errorhandler(413)
    def too_large(error):
        return render_template("errors/413.html"), 413

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        logger.error("server error on %s: %s", request.path, error)
        return render_template("errors/500.html"), 500

    @app.after_request
    def add_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if current_user and current_user.is_authenticated:
            # Customer data must not stay in shared caches or the back button.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
