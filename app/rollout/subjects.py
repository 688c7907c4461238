"""The users that flags are evaluated for, with what their Unleash context needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.extensions import db
from app.rollout.compiler import build_context
from app.rollout.models import TrainingModulePass


@dataclass(frozen=True)
class Subject:
    """A user as evaluated by the rollout: id, team, role and passed training modules."""

    user_id: int
    email: str
    name: str
    team: str | None
    role: str
    passed_modules: Mapping[str, dt.datetime] = field(default_factory=dict)
    """When each passed module was passed, by module id."""

    def context(self, day: dt.date) -> dict[str, Any]:
        """Return the Unleash context of this user on business date ``day``."""
        return build_context(
            self.user_id,
            day,
            team=self.team,
            role=self.role,
            passed_modules=self.passed_modules,
        )


def _passes_by_user(user_ids: list[int] | None) -> dict[int, dict[str, dt.datetime]]:
    query = select(
        TrainingModulePass.user_id,
        TrainingModulePass.module_id,
        TrainingModulePass.passed_at,
    )
    if user_ids is not None:
        query = query.where(TrainingModulePass.user_id.in_(user_ids))
    passes: dict[int, dict[str, dt.datetime]] = {}
    for user_id, module_id, passed_at in db.session.execute(query):
        passes.setdefault(user_id, {})[module_id] = passed_at
    return passes


def _subject(user: User, passes: Mapping[str, dt.datetime]) -> Subject:
    return Subject(
        user_id=user.id,
        email=user.email,
        name=user.name,
        team=user.team.code if user.team else None,
        role=user.role,
        passed_modules=dict(passes),
    )


def subject_of(user: User, *, with_modules: bool = True) -> Subject:
    """Return the subject of ``user``; ``with_modules`` False skips the passes query.

    Skip it only when no flag of the plan has a training gate.
    """
    passes = _passes_by_user([user.id]).get(user.id, {}) if with_modules else {}
    return _subject(user, passes)


def all_subjects() -> list[Subject]:
    """Return every active user as a subject, ordered by email, in three queries."""
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True))
        .options(selectinload(User.team))
        .order_by(User.email)
    ).all()
    passes = _passes_by_user(None)
    return [_subject(user, passes.get(user.id, {})) for user in users]
