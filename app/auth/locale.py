"""Pick the interface language: the user's choice, else French."""

from flask import current_app, has_request_context, session
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        # Command-line code has no user or session: it uses the default language.
        return default
    if current_user and current_user.is_authenticated:
        if current_user.locale in languages:
            return current_user.locale
    elif session.get("locale") in languages:
        return session["locale"]
    return default
