"""Login, logout and language choice."""

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth.forms import LoginForm
from app.auth.models import User
from app.auth.services import LoginThrottled, authenticate, end_sessions
from app.extensions import db, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Return the user of a session id ``"<user id>:<session version>"``."""
    user_id, _sep, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def _safe_next(target: str | None) -> str | None:
    """Return ``target`` only when it is a path on this site."""
    if not target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    if target.startswith("//") or target.startswith("/\\"):
        return None
    return target


@bp.route("/")
@login_required
def home():
    """Send each role to its first page."""
    from app.rollout.flags import is_enabled

    if current_user.reads_ledger and is_enabled("worklist", current_user):
        return redirect(url_for("collection.worklist"))
    return render_template("auth/home.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except LoginThrottled as error:
            flash(
                _(
                    "Too many failed attempts for this email. Try again in "
                    "%(minutes)d minutes.",
                    minutes=error.minutes,
                ),
                "error",
            )
            return render_template("auth/login.html", form=form), 429
        if user is None:
            flash(_("Wrong email or password."), "error")
        else:
            _keep_language_choice(user)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


def _keep_language_choice(user: User) -> None:
    """Save a language chosen on the login page, else use the user's saved one."""
    chosen = session.pop("locale", None)
    if chosen and not user.locale:
        user.locale = chosen
        db.session.commit()


@bp.post("/logout")
@login_required
def logout():
    """End the session on every browser of the user."""
    end_sessions(current_user)
    logout_user()
    session.pop("locale", None)
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language/<code>")
def set_language(code: str):
    """Switch the interface language, for the user when logged in."""
    target = _safe_next(request.form.get("next")) or url_for("auth.home")
    if code not in current_app.config["LANGUAGES"]:
        return redirect(target)
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    else:
        session["locale"] = code
    return redirect(target)
