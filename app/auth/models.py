"""Users, their role and their team."""

import datetime as dt
from enum import StrEnum

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.timeutil import utcnow


class Role(StrEnum):
    ADMIN = "admin"
    PROJECT_LEAD = "project_lead"
    MANAGER = "manager"
    COLLECTOR = "collector"
    TRAINEE = "trainee"


# Roles that may read every portfolio. Collectors read their team's portfolio only,
# and trainees and project leads read no ledger data at all.
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.PROJECT_LEAD: _l("Project lead"),
    Role.MANAGER: _l("Collection manager"),
    Role.COLLECTOR: _l("Collector"),
    Role.TRAINEE: _l("Trainee"),
}

ALL_PORTFOLIO_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
LEDGER_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR})


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<Team {self.code}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    password_hash: Mapped[str] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login session's id: raising it ends every session of the user.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        method = "scrypt"
        if has_app_context():
            method = current_app.config.get("PASSWORD_HASH_METHOD", method)
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def sees_all_portfolios(self) -> bool:
        return self.role in ALL_PORTFOLIO_ROLES

    @property
    def reads_ledger(self) -> bool:
        return self.role in LEDGER_ROLES

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
