"""Create users and check credentials; every write is logged and audited."""

import datetime as dt
import logging
import re

from flask import current_app
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.models import AuditEntry
from app.auth.models import Role, Team, User
from app.extensions import db
from app.timeutil import utcnow

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_EMAIL_LENGTH = 254
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class UserError(ValueError):
    """A user cannot be created or changed as requested."""


class LoginThrottled(Exception):
    """Too many failed logins for one email; the caller must wait ``minutes``."""

    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise UserError("the password must not be only spaces")


def find_user(email: str) -> User | None:
    return db.session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower())
    )


def get_or_create_team(code: str) -> Team:
    team = db.session.scalar(select(Team).where(Team.code == code))
    if team is None:
        team = Team(code=code, name=code)
        db.session.add(team)
        db.session.flush()
        logger.info("created team %s", code)
    return team


def create_user(
    *, email: str, name: str, role: str, password: str, team_code: str | None = None
) -> User:
    """Create and commit a user; raise UserError on a bad role, team or password."""
    email = email.strip().lower()
    name = name.strip()
    if role not in set(Role):
        choices = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role {role!r}; choose one of {choices}")
    if not EMAIL_PATTERN.fullmatch(email) or len(email) > MAX_EMAIL_LENGTH:
        raise UserError(
            f"{email!r} is not a valid email address (name@domain.tld, "
            f"at most {MAX_EMAIL_LENGTH} characters)"
        )
    if not name:
        raise UserError("the name must not be empty")
    if find_user(email) is not None:
        raise UserError(f"a user with email {email} already exists")
    check_password_rules(password)
    if role == Role.COLLECTOR and not team_code:
        raise UserError("a collector needs a team; pass --team")

    team = None
    if team_code:
        team = db.session.scalar(select(Team).where(Team.code == team_code))
        if team is None:
            known = ", ".join(db.session.scalars(select(Team.code).order_by(Team.code)))
            raise UserError(f"unknown team {team_code!r}; known teams: {known or 'none'}")
    user = User(email=email, name=name, role=role, team=team)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        target=email,
        after={"role": role, "team": team_code},
    )
    db.session.commit()
    logger.info("created user %s with role %s", email, role)
    return user


def _recent_failures(label: str) -> int:
    """Count failed logins for ``label`` in the window since its last success."""
    minutes = current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"]
    since = utcnow() - dt.timedelta(minutes=minutes)
    last_success = db.session.scalar(
        select(func.max(AuditEntry.at))
        .join(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.action == "login", func.lower(User.email) == label)
    )
    if last_success is not None:
        if last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=dt.UTC)
        since = max(since, last_success)
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "login.failed",
            AuditEntry.actor_label == label,
            AuditEntry.at > since,
        )
    )


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, auditing the attempt.

    Raise LoginThrottled, without checking the password, once the email has had
    LOGIN_MAX_FAILURES failed attempts within LOGIN_FAILURE_WINDOW_MINUTES.
    """
    label = email.strip().lower()[:MAX_EMAIL_LENGTH]
    if _recent_failures(label) >= current_app.config["LOGIN_MAX_FAILURES"]:
        logger.warning("login throttled for %s", label)
        raise LoginThrottled(current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    user = find_user(email)
    if user is None or not user.active or not user.check_password(password):
        audit.record("login.failed", actor_label=label)
        db.session.commit()
        return None
    audit.record("login", actor=user)
    db.session.commit()
    return user


def end_sessions(user: User) -> None:
    """Invalidate every login session of ``user`` (logout, password change)."""
    user.session_version += 1
    audit.record("logout", actor=user)
    db.session.commit()


def set_password(user: User, password: str, *, actor=None) -> None:
    """Change a user's password and end their sessions."""
    check_password_rules(password)
    user.set_password(password)
    user.session_version += 1
    audit.record("user.password", actor=actor, target=user.email)
    db.session.commit()
    logger.info("password changed for %s", user.email)


def set_active(user: User, active: bool, *, actor=None) -> None:
    """Enable or disable a user's login; disabling ends their sessions."""
    before = {"active": user.active}
    user.active = active
    if not active:
        user.session_version += 1
    audit.record(
        "user.activate" if active else "user.deactivate",
        actor=actor,
        target=user.email,
        before=before,
        after={"active": active},
    )
    db.session.commit()
    logger.info("user %s active=%s", user.email, active)
