"""Rollout tables: shared state, kill switches, overrides, exposures, module passes."""

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Team, User
from app.extensions import db
from app.timeutil import utcnow

STATE_ROW_ID = 1


class RolloutState(db.Model):
    """The one row that every worker polls to notice rollout changes.

    ``version`` grows by one with each kill switch or override change, so a worker
    that reads a new number reloads them. The last plan file that passed validation is
    kept here too, so a worker that starts while the file is invalid still has it.
    """

    __tablename__ = "rollout_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    plan_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the plan file's bytes, in hex."""
    plan_source: Mapped[str | None] = mapped_column(Text)
    plan_json: Mapped[dict | None] = mapped_column(JSON)
    plan_saved_at: Mapped[dt.datetime | None]


class KillSwitch(db.Model):
    """A flag turned off for everyone, regardless of the plan and the overrides."""

    __tablename__ = "rollout_kill_switches"

    flag: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()


class Override(db.Model):
    """A flag forced on or off for one user or one team.

    A user's override wins over their team's, and both win over the plan. Neither
    wins over the kill switch or a prerequisite that is off.
    """

    __tablename__ = "rollout_overrides"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_target"),
        UniqueConstraint("flag", "user_id"),
        UniqueConstraint("flag", "team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flag: Mapped[str] = mapped_column(String(100), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    enabled: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    team: Mapped[Team | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def target_label(self) -> str:
        if self.user is not None:
            return self.user.email
        return self.team.code if self.team is not None else ""


class Exposure(db.Model):
    """The first time a user was served a feature, for adoption metrics."""

    __tablename__ = "rollout_exposures"
    __table_args__ = (UniqueConstraint("user_id", "flag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    flag: Mapped[str] = mapped_column(String(100), index=True)
    first_exposed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrainingModulePass(db.Model):
    """A training module a user has passed; the training gate of a flag reads it."""

    __tablename__ = "training_module_passes"
    __table_args__ = (UniqueConstraint("user_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    module_id: Mapped[str] = mapped_column(String(100))
    passed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
