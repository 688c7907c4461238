"""Create users and check credentials; every write is logged and audited."""

import logging

from sqlalchemy import func, select

from app.audit import services as audit
from app.auth.models import Role, Team, User
from app.extensions import db

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user cannot be created or changed as requested."""


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
    if role not in set(Role):
        choices = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role {role!r}; choose one of {choices}")
    if "@" not in email:
        raise UserError(f"{email!r} is not an email address")
    if find_user(email) is not None:
        raise UserError(f"a user with email {email} already exists")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
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


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, auditing the attempt."""
    user = find_user(email)
    if user is None or not user.active or not user.check_password(password):
        audit.record("login.failed", actor_label=email.strip().lower()[:254])
        db.session.commit()
        return None
    audit.record("login", actor=user)
    db.session.commit()
    return user
