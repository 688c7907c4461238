"""Every rollout write: kill switches, overrides, training passes, exposures.

Kill switch and override changes are audited, committed with the audit entry, and bump
the shared ``rollout_state.version`` in the same transaction, so every worker reloads
them at its next check. The process that made the change reloads at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.audit import services as audit
from app.auth.models import Team, User
from app.extensions import db
from app.rollout.messages import Message, _
from app.rollout.models import (
    STATE_ROW_ID,
    Exposure,
    KillSwitch,
    Override,
    RolloutState,
    TrainingModulePass,
)
from app.rollout.plan import NAME_PATTERN, FlagSpec
from app.rollout.runtime import current_snapshot, get_runtime
from app.timeutil import utcnow

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 500


class RolloutError(ValueError):
    """A rejected rollout change, with the reason in ``message``."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(str(message))


def _error(template: str, **values) -> RolloutError:
    return RolloutError(Message(template, values))


def _checked_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _error(
            _("A reason is required. Say why, so the audit log explains the change.")
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise _error(
            _("The reason has %(length)s characters; keep it under %(max)s."),
            length=len(reason),
            max=MAX_REASON_LENGTH,
        )
    return reason


def _checked_flag(flag: str) -> FlagSpec:
    plan = current_snapshot().plan
    spec = plan.flag(flag) if plan is not None else None
    if spec is None:
        raise _error(
            _("Unknown flag %(flag)s: it is not in the rollout plan."), flag=flag
        )
    return spec


def _bump_version() -> None:
    """Add one to the shared version in the current transaction."""
    result = db.session.execute(
        update(RolloutState)
        .where(RolloutState.id == STATE_ROW_ID)
        .values(version=RolloutState.version + 1)
    )
    if result.rowcount == 0:
        db.session.execute(insert(RolloutState).values(id=STATE_ROW_ID, version=1))


def _commit_change() -> None:
    """Commit the change with a new shared version, and reload this process at once."""
    _bump_version()
    db.session.commit()
    app = current_app._get_current_object()
    get_runtime(app).reload(app)


# --- kill switch ----------------------------------------------------------------------


def pull_kill_switch(flag: str, *, actor: User, reason: str) -> KillSwitch:
    """Turn ``flag`` off for everyone at once, regardless of the plan and overrides."""
    _checked_flag(flag)
    reason = _checked_reason(reason)
    if db.session.get(KillSwitch, flag) is not None:
        raise _error(_("The kill switch of %(flag)s is already pulled."), flag=flag)

    kill_switch = KillSwitch(flag=flag, reason=reason, created_by_id=actor.id)
    db.session.add(kill_switch)
    audit.record(
        "rollout.kill_switch",
        actor=actor,
        target=flag,
        reason=reason,
        before={"kill_switch": False},
        after={"kill_switch": True},
    )
    _commit_change()
    logger.warning("kill switch of %s pulled by %s: %s", flag, actor.email, reason)
    return kill_switch


def release_kill_switch(flag: str, *, actor: User, reason: str) -> None:
    """Give ``flag`` back to the plan and the overrides."""
    reason = _checked_reason(reason)
    kill_switch = db.session.get(KillSwitch, flag)
    if kill_switch is None:
        raise _error(_("The kill switch of %(flag)s is not pulled."), flag=flag)

    db.session.delete(kill_switch)
    audit.record(
        "rollout.kill_switch",
        actor=actor,
        target=flag,
        reason=reason,
        before={"kill_switch": True},
        after={"kill_switch": False},
    )
    _commit_change()
    logger.info("kill switch of %s released by %s: %s", flag, actor.email, reason)


# --- overrides ------------------------------------------------------------------------


def _override_target(flag: str, user: User | None, team: Team | None) -> str:
    if user is not None:
        return f"{flag} / user {user.email}"
    return f"{flag} / team {team.code}"


def set_override(
    flag: str,
    *,
    actor: User,
    reason: str,
    enabled: bool,
    user: User | None = None,
    team: Team | None = None,
) -> Override:
    """Force ``flag`` on or off for a user or a team, replacing an earlier override."""
    _checked_flag(flag)
    reason = _checked_reason(reason)
    if (user is None) == (team is None):
        raise _error(_("Choose either a user or a team for the override."))

    if user is not None:
        criterion = Override.user_id == user.id
    else:
        criterion = Override.team_id == team.id
    override = db.session.scalar(
        select(Override).where(Override.flag == flag, criterion)
    )
    before = {"enabled": override.enabled} if override is not None else None
    if override is None:
        override = Override(flag=flag, user=user, team=team)
        db.session.add(override)
    override.enabled = enabled
    override.reason = reason
    override.created_by_id = actor.id
    override.created_at = utcnow()
    target = _override_target(flag, user, team)
    audit.record(
        "rollout.override",
        actor=actor,
        target=target,
        reason=reason,
        before=before,
        after={"enabled": enabled},
    )
    _commit_change()
    logger.info(
        "override %s set to %s by %s", target, "on" if enabled else "off", actor.email
    )
    return override


def remove_override(override_id: int, *, actor: User, reason: str) -> None:
    """Delete an override, so the plan decides again for its user or team."""
    reason = _checked_reason(reason)
    override = db.session.get(Override, override_id)
    if override is None:
        raise _error(_("Override %(id)s does not exist."), id=override_id)

    target = _override_target(override.flag, override.user, override.team)
    audit.record(
        "rollout.override",
        actor=actor,
        target=target,
        reason=reason,
        before={"enabled": override.enabled},
        after=None,
    )
    db.session.delete(override)
    _commit_change()
    logger.info("override %s removed by %s", target, actor.email)


# --- training passes ------------------------------------------------------------------


@dataclass(frozen=True)
class ModulePassChange:
    """The outcome of recording or revoking a module pass.

    ``changed`` is False when there was nothing to do: the pass existed already, or
    there was none to revoke. ``passed_at`` is when the user passed the module, or
    None when they have no pass.
    """

    changed: bool
    passed_at: dt.datetime | None
    message: Message
    gates_nothing: Message | None = None
    """A warning when no flag of the plan in force is gated on the module."""


def _checked_module_id(module_id: str | None) -> str:
    module_id = (module_id or "").strip()
    if not NAME_PATTERN.match(module_id):
        raise _error(
            _("Invalid module id %(module)s. Use letters, digits, '-', '_' or '.'."),
            module=module_id,
        )
    return module_id


def _find_pass(user: User, module_id: str) -> TrainingModulePass | None:
    return db.session.scalar(
        select(TrainingModulePass).where(
            TrainingModulePass.user_id == user.id,
            TrainingModulePass.module_id == module_id,
        )
    )


def unused_module_warning(module_id: str) -> Message | None:
    """Return a warning when no flag of the plan in force is gated on ``module_id``."""
    plan = current_snapshot().plan
    modules = plan.training_modules if plan is not None else []
    if module_id in modules:
        return None
    if not modules:
        template = _(
            "No flag of the rollout plan is gated on module %(module)s, so this "
            "changes no feature. The plan has no training gate."
        )
    else:
        template = _(
            "No flag of the rollout plan is gated on module %(module)s, so this "
            "changes no feature. Modules of the plan: %(modules)s."
        )
    return Message(template, {"module": module_id, "modules": ", ".join(modules)})


def record_module_pass(
    user: User, module_id: str, *, actor: User | None = None, actor_label: str = ""
) -> ModulePassChange:
    """Record that ``user`` passed training module ``module_id`` now, and audit it.

    The flags gated by that module turn on for the user from their next request. A
    pass that exists already is kept as it is.
    """
    module_id = _checked_module_id(module_id)
    warning = unused_module_warning(module_id)
    existing = _find_pass(user, module_id)
    if existing is not None:
        message = Message(
            _(
                "%(email)s already passed module %(module)s on %(date)s. Nothing "
                "changed."
            ),
            {
                "email": user.email,
                "module": module_id,
                "date": existing.passed_at.date(),
            },
        )
        return ModulePassChange(False, existing.passed_at, message, warning)

    passed = TrainingModulePass(user_id=user.id, module_id=module_id)
    db.session.add(passed)
    audit.record(
        "rollout.module_passed",
        actor=actor,
        actor_label=actor_label or None,
        target=f"{user.email} / {module_id}",
        after={"module": module_id},
    )
    db.session.commit()
    logger.info("module %s marked passed for %s", module_id, user.email)
    message = Message(
        _("%(email)s passed module %(module)s."),
        {"email": user.email, "module": module_id},
    )
    return ModulePassChange(True, passed.passed_at, message, warning)


def revoke_module_pass(
    user: User, module_id: str, *, actor: User | None = None, actor_label: str = ""
) -> ModulePassChange:
    """Delete the pass of ``user`` for ``module_id``, and audit it.

    The flags gated by that module turn off for the user from their next request,
    unless an override gives them. Revoking a pass that does not exist changes
    nothing.
    """
    module_id = _checked_module_id(module_id)
    warning = unused_module_warning(module_id)
    existing = _find_pass(user, module_id)
    if existing is None:
        message = Message(
            _("%(email)s has no pass of module %(module)s. Nothing changed."),
            {"email": user.email, "module": module_id},
        )
        return ModulePassChange(False, None, message, warning)

    passed_at = existing.passed_at
    db.session.delete(existing)
    audit.record(
        "rollout.module_revoked",
        actor=actor,
        actor_label=actor_label or None,
        target=f"{user.email} / {module_id}",
        before={
            "module": module_id,
            "passed_at": passed_at.isoformat(timespec="seconds"),
        },
    )
    db.session.commit()
    logger.info("module pass %s revoked for %s", module_id, user.email)
    message = Message(
        _("The pass of %(email)s for module %(module)s is revoked."),
        {"email": user.email, "module": module_id},
    )
    return ModulePassChange(True, None, message, warning)


# --- exposures ------------------------------------------------------------------------


def record_exposures(user_id: int, flags: Iterable[str]) -> bool:
    """Store the first exposure of ``user_id`` to each flag; later ones change nothing.

    Runs in its own transaction, so it never commits the request's session. Returns
    False when the database refused the write, which is logged and otherwise ignored
    because exposures only feed the adoption metrics.
    """
    rows = [
        {"user_id": user_id, "flag": flag, "first_exposed_at": utcnow()}
        for flag in sorted(set(flags))
    ]
    if not rows:
        return True
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(Exposure).on_conflict_do_nothing(
            index_elements=["user_id", "flag"]
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(Exposure).on_conflict_do_nothing(
            index_elements=["user_id", "flag"]
        )
    else:
        raise NotImplementedError(f"exposures are not supported on {dialect}")
    try:
        with db.engine.begin() as connection:
            connection.execute(statement, rows)
    except SQLAlchemyError as error:
        logger.warning("could not record exposures of user %s: %s", user_id, error)
        return False
    return True
