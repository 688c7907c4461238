"""Keep each process's view of the rollout fresh: plan file, kill switches, overrides.

Every process (each gunicorn worker, the CLI) keeps a ``Snapshot``: the plan in force,
the kill switches and overrides from the database, and the engine compiled from them.
Reading a flag uses the snapshot as it is. At most every ``ROLLOUT_REFRESH_SECONDS``
(2 by default) the next read also checks

- the plan file's modification time, size and inode, and when they changed its
  SHA-256, and validates it again when the bytes changed;
- the ``version`` counter of the ``rollout_state`` row, which services bump with every
  kill switch or override change.

So a change reaches every worker within that interval plus the time to the next
request. The worker that makes a kill switch or override change reloads at once, in
the same request, so its next page shows the change.

A file that fails validation never replaces the plan in force. That plan stays the
last valid content of the same file path: from the database, where the serving app
stores it with its path, or from this process's memory. Only a refresh inside a
request stores it, so command-line runs, which may read another plan file, never
replace the server's last good plan. The database keeps one last good plan, so
servers that share a database should read the same plan file path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_request_context
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased

from app.audit.models import AuditEntry
from app.auth.models import Team, User
from app.extensions import db
from app.rollout.compiler import NO_OVERRIDES, Overrides, compile_plan
from app.rollout.engine import Engine
from app.rollout.messages import Message, _
from app.rollout.models import STATE_ROW_ID, KillSwitch, Override, RolloutState
from app.rollout.plan import Plan
from app.rollout.plan_file import PlanError, PlanInvalid, parse_plan
from app.timeutil import utcnow

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 2.0
EXTENSION_KEY = "cadence_rollout"
MAX_ACTOR_LABEL = 254
"""Length of ``audit_log.actor_label``, which stores the plan file path."""

PLAN_FROM_FILE = "file"
PLAN_FROM_DATABASE = "database"
PLAN_FROM_MEMORY = "memory"
NO_PLAN = "none"


@dataclass(frozen=True)
class KillSwitchInfo:
    flag: str
    reason: str
    actor: str
    since: dt.datetime


@dataclass(frozen=True)
class OverrideInfo:
    """An override as the pages and the explanations show it.

    Exactly one of ``user_id`` and ``team`` is set.
    """

    id: int
    flag: str
    user_id: int | None
    user_email: str | None
    team: str | None
    enabled: bool
    reason: str
    actor: str
    since: dt.datetime

    @property
    def target(self) -> str:
        return self.user_email or self.team or ""


@dataclass(frozen=True)
class Snapshot:
    """The rollout state of one process, replaced whole on each refresh."""

    plan: Plan | None
    origin: str
    """The source of ``plan``: PLAN_FROM_FILE, _DATABASE, _MEMORY, or NO_PLAN."""
    errors: tuple[PlanError, ...]
    """The errors of the plan file on disk; empty when the file is valid."""
    kill_switches: Mapping[str, KillSwitchInfo]
    overrides: tuple[OverrideInfo, ...]
    engine: Engine
    state: Mapping[str, Any]
    """The Unleash client-features state the engine evaluates."""
    version: int | None
    path: str
    _by_user: dict[tuple[str, int], OverrideInfo] = field(init=False, repr=False)
    _by_team: dict[tuple[str, str], OverrideInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_user = {(o.flag, o.user_id): o for o in self.overrides if o.user_id}
        by_team = {(o.flag, o.team): o for o in self.overrides if o.team}
        object.__setattr__(self, "_by_user", by_user)
        object.__setattr__(self, "_by_team", by_team)

    def user_override(self, flag: str, user_id: int) -> OverrideInfo | None:
        return self._by_user.get((flag, user_id))

    def team_override(self, flag: str, team: str | None) -> OverrideInfo | None:
        return self._by_team.get((flag, team)) if team else None

    def overrides_of(self, flag: str) -> list[OverrideInfo]:
        return [override for override in self.overrides if override.flag == flag]


def _overrides_for_engine(
    kill_switches: Mapping[str, KillSwitchInfo], overrides: tuple[OverrideInfo, ...]
) -> Overrides:
    if not kill_switches and not overrides:
        return NO_OVERRIDES
    groups: dict[str, dict[str, set[str]]] = {
        "users_on": {},
        "users_off": {},
        "teams_on": {},
        "teams_off": {},
    }
    for override in overrides:
        kind = ("users_" if override.user_id else "teams_") + (
            "on" if override.enabled else "off"
        )
        target = str(override.user_id) if override.user_id else override.team
        groups[kind].setdefault(override.flag, set()).add(target)
    return Overrides(
        killed=frozenset(kill_switches),
        **{
            kind: {flag: frozenset(targets) for flag, targets in by_flag.items()}
            for kind, by_flag in groups.items()
        },
    )


def _missing_file_error(path: str) -> PlanError:
    message = Message(
        _(
            "The plan file %(path)s does not exist. Create it, or set "
            "CADENCE_FEATURE_FLAGS to the path of the plan."
        ),
        {"path": path},
    )
    return PlanError(None, message)


def _not_utf8_error(path: str) -> PlanError:
    message = Message(
        _("The plan file %(path)s is not UTF-8 text. Save it as UTF-8."),
        {"path": path},
    )
    return PlanError(None, message)


def build_snapshot(
    plan: Plan | None,
    *,
    origin: str = PLAN_FROM_FILE,
    errors: tuple[PlanError, ...] = (),
    kill_switches: Mapping[str, KillSwitchInfo] | None = None,
    overrides: tuple[OverrideInfo, ...] = (),
    version: int | None = None,
    path: str = "",
) -> Snapshot:
    """Compile ``plan`` with its kill switches and overrides into a snapshot."""
    kill_switches = dict(kill_switches or {})
    state: dict[str, Any] = {"version": 2, "features": [], "segments": []}
    if plan is not None:
        state = compile_plan(plan, _overrides_for_engine(kill_switches, overrides))
    return Snapshot(
        plan=plan,
        origin=origin if plan is not None else NO_PLAN,
        errors=errors,
        kill_switches=kill_switches,
        overrides=overrides,
        engine=Engine(state),
        state=state,
        version=version,
        path=path,
    )


class RolloutRuntime:
    """The rollout state of one process for one app, refreshed on read when due."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._last_failure = ""
        self._path: str | None = None
        self._file_signature: tuple[int, int, int] | None = None
        self._file_digest: str | None = None
        self._file_errors: tuple[PlanError, ...] = ()
        self._file_plan: Plan | None = None
        self._file_text = ""
        self._memory_plan: Plan | None = None
        """The last valid plan of ``self._path`` that this process read."""
        self._recorded: tuple[str | None, str] | None = None
        """The (digest, path) this process last stored, or found stored."""
        self._state_row: tuple[int, str | None, dt.datetime | None] | None = None
        self._stored: tuple[tuple | None, StoredPlan | None] = (None, None)
        self.exposed: set[tuple[int, str]] = set()
        """(user id, flag) pairs whose exposure is stored already."""

    @property
    def last_snapshot(self) -> Snapshot | None:
        """Return the snapshot in hand, without refreshing it."""
        return self._snapshot

    def reload(self, app: Flask) -> Snapshot:
        """Refresh now, whether due or not, and return the new snapshot.

        A request that changed a kill switch or an override calls it before it
        redirects, so the page it redirects to shows the change.
        """
        with self._lock:
            self._refresh(app.config["FEATURE_FLAGS_PATH"])
            return self._snapshot

    def snapshot(self, app: Flask) -> Snapshot:
        """Return the current snapshot, refreshing it first when it is due."""
        interval = app.config.get("ROLLOUT_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS)
        path = app.config["FEATURE_FLAGS_PATH"]
        snapshot = self._snapshot
        fresh = time.monotonic() - self._checked_at < interval
        if snapshot is not None and fresh and snapshot.path == path:
            return snapshot
        with self._lock:
            if self._snapshot is snapshot:
                self._refresh(path)
            return self._snapshot

    # --- refresh ---------------------------------------------------------------------

    def _refresh(self, path: str) -> None:
        if path != self._path:
            # Nothing read from another file may stand in for this one.
            self._path = path
            self._file_signature = None
            self._file_digest = None
            self._file_plan = None
            self._file_errors = ()
            self._memory_plan = None
            self._recorded = None
        must_record = False
        try:
            with db.engine.connect() as connection:
                plan_changed = self._check_file(path, connection)
                state_changed = self._read_state(connection)
                if plan_changed or state_changed or self._snapshot is None:
                    self._rebuild(path, connection)
                must_record = has_request_context() and self._must_record(
                    path, connection
                )
            self._last_failure = ""
        except SQLAlchemyError as error:
            # Keep serving the snapshot in hand; the next read tries again.
            self._log_failure(
                "rollout refresh failed, keeping the current state", error
            )
            if self._snapshot is None:
                self._rebuild_without_database(path)
        if must_record:
            self._save_plan(self._file_plan, self._file_digest, self._file_text, path)
        self._checked_at = time.monotonic()

    def _must_record(self, path: str, connection: Connection) -> bool:
        """Return whether the valid file in force differs from the stored last good one.

        When the stored plan belongs to another path, it is replaced only when this
        process first reads the file, when the file's valid content changes, or when
        the file becomes valid again. So two servers with different plan files do
        not take turns replacing each other's plan at every refresh.
        """
        if self._file_plan is None:
            return False
        mine = (self._file_digest, path)
        stored = self._stored_plan(connection)
        stored_key = (stored.digest, stored.path) if stored else None
        if stored_key == mine:
            self._recorded = mine
            return False
        if stored is None or stored.path in (None, path):
            return True
        return self._recorded != mine

    def _check_file(self, path: str, connection: Connection) -> bool:
        """Validate the plan file again if its bytes changed; return whether they did.

        A file with errors is validated on every check, because a team it names may
        have been created since.
        """
        try:
            status = os.stat(path)
            signature = (status.st_mtime_ns, status.st_size, status.st_ino)
        except OSError:
            signature = None
        if signature is not None and signature == self._file_signature:
            if not self._file_errors:
                return False
        self._file_signature = signature

        if signature is None:
            return self._set_file_result(None, None, "", (_missing_file_error(path),))
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return self._set_file_result(None, None, "", (_missing_file_error(path),))
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._file_digest and not self._file_errors:
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._set_file_result(digest, None, "", (_not_utf8_error(path),))
        known_teams = connection.scalars(select(Team.code)).all()
        try:
            plan = parse_plan(text, known_teams)
        except PlanInvalid as invalid:
            return self._set_file_result(digest, None, text, tuple(invalid.errors))
        return self._set_file_result(digest, plan, text, ())

    def _set_file_result(
        self,
        digest: str | None,
        plan: Plan | None,
        text: str,
        errors: tuple[PlanError, ...],
    ) -> bool:
        changed = (digest, errors) != (self._file_digest, self._file_errors)
        if errors and changed:
            logger.warning(
                "rollout plan %s is invalid, keeping the last valid plan: %s",
                self._path,
                "; ".join(str(error) for error in errors),
            )
        elif plan is not None and changed:
            logger.info("rollout plan %s loaded (%s)", self._path, digest)
            for warning in plan.warnings:
                logger.info("rollout plan %s: %s", self._path, warning)
        self._file_digest = digest
        self._file_plan = plan
        self._file_text = text
        self._file_errors = errors
        if plan is not None:
            self._memory_plan = plan
        else:
            # Once the file is valid again, its plan is stored again unless the
            # database contains it already.
            self._recorded = None
        return changed

    def _read_state(self, connection: Connection) -> bool:
        """Read the shared version and the stored plan's digest and time.

        Return whether any of them changed since the last read.
        """
        row = connection.execute(
            select(
                RolloutState.version,
                RolloutState.plan_digest,
                RolloutState.plan_saved_at,
            ).where(RolloutState.id == STATE_ROW_ID)
        ).first()
        state_row = tuple(row) if row else (0, None, None)
        changed = state_row != self._state_row
        self._state_row = state_row
        return changed

    def _stored_plan(self, connection: Connection) -> StoredPlan | None:
        """Return the stored last good plan, read again only when it was replaced."""
        key = self._state_row[1:] if self._state_row else None
        if key is None or key[0] is None:
            return None
        cached_key, cached = self._stored
        if key == cached_key:
            return cached
        data = connection.scalar(
            select(RolloutState.plan_json).where(RolloutState.id == STATE_ROW_ID)
        )
        stored = StoredPlan.from_column(key[0], data)
        self._stored = (key, stored)
        return stored

    def _choose_plan(self, connection: Connection | None) -> tuple[Plan | None, str]:
        path = self._path
        if self._file_plan is not None:
            return self._file_plan, PLAN_FROM_FILE
        if connection is not None:
            stored = self._stored_plan(connection)
            if stored is not None and stored.path == path:
                return stored.plan, PLAN_FROM_DATABASE
        if self._memory_plan is not None:
            return self._memory_plan, PLAN_FROM_MEMORY
        return None, NO_PLAN

    def _rebuild(self, path: str, connection: Connection) -> None:
        plan, origin = self._choose_plan(connection)
        kill_switches, overrides = _load_records(connection)
        version = self._state_row[0] if self._state_row else None
        self._install(path, plan, origin, kill_switches, overrides, version)

    def _rebuild_without_database(self, path: str) -> None:
        plan, origin = self._choose_plan(None)
        self._install(path, plan, origin, {}, (), None)

    def _install(
        self,
        path: str,
        plan: Plan | None,
        origin: str,
        kill_switches: dict[str, KillSwitchInfo],
        overrides: tuple[OverrideInfo, ...],
        version: int | None,
    ) -> None:
        self._snapshot = build_snapshot(
            plan,
            origin=origin,
            errors=self._file_errors,
            kill_switches=kill_switches,
            overrides=overrides,
            version=version,
            path=path,
        )

    def _save_plan(self, plan: Plan, digest: str | None, text: str, path: str) -> None:
        """Store the valid plan in force as the last good one, and audit it once.

        Several workers may see the same new file at once. The UPDATE matches only
        while the row is still the one this worker read, so exactly one of them
        records the change.
        """
        values = {
            "plan_digest": digest,
            "plan_source": text,
            "plan_json": StoredPlan(digest, path, plan).to_column(),
            "plan_saved_at": utcnow(),
        }
        try:
            with db.engine.begin() as connection:
                row = connection.execute(
                    select(
                        RolloutState.plan_digest,
                        RolloutState.plan_saved_at,
                        RolloutState.plan_json,
                    ).where(RolloutState.id == STATE_ROW_ID)
                ).first()
                previous = None
                if row is not None and row.plan_digest is not None:
                    previous = StoredPlan.from_column(row.plan_digest, row.plan_json)
                if previous is not None and (previous.digest, previous.path) == (
                    digest,
                    path,
                ):
                    changed = False
                elif row is None:
                    connection.execute(
                        insert(RolloutState).values(
                            id=STATE_ROW_ID, version=0, **values
                        )
                    )
                    changed = True
                else:
                    result = connection.execute(
                        update(RolloutState)
                        .where(
                            RolloutState.id == STATE_ROW_ID,
                            RolloutState.plan_digest.is_not_distinct_from(
                                row.plan_digest
                            ),
                            RolloutState.plan_saved_at.is_not_distinct_from(
                                row.plan_saved_at
                            ),
                        )
                        .values(**values)
                    )
                    changed = result.rowcount == 1
                if changed:
                    connection.execute(
                        insert(AuditEntry).values(
                            _plan_audit_values(plan, digest, path, previous)
                        )
                    )
        except IntegrityError:
            # Another worker inserted the row first; it recorded the same plan.
            pass
        except SQLAlchemyError as error:
            self._log_failure(f"storing the rollout plan {digest} failed", error)
            return
        self._recorded = (digest, path)

    def _log_failure(self, context: str, error: Exception) -> None:
        """Log a database failure once, not at every check while it lasts."""
        text = f"{context}: {error}"
        if text != self._last_failure:
            logger.error("%s", text)
            self._last_failure = text


@dataclass(frozen=True)
class StoredPlan:
    """The last good plan in the database, with the path of the file it came from.

    ``path`` is None for a plan stored before paths were stored, which no file
    falls back to.
    """

    digest: str | None
    path: str | None
    plan: Plan

    def to_column(self) -> dict[str, Any]:
        """Return the ``rollout_state.plan_json`` value."""
        return {"path": self.path, "plan": self.plan.to_json()}

    @classmethod
    def from_column(cls, digest: str | None, data: Mapping[str, Any] | None):
        """Read a ``plan_json`` value, in this format or the earlier one without path.

        Returns None when there is no plan.
        """
        if not data:
            return None
        if "plan" in data:
            return cls(digest, data.get("path"), Plan.from_json(data["plan"]))
        return cls(digest, None, Plan.from_json(data))


def _plan_audit_values(
    plan: Plan, digest: str | None, path: str, previous: StoredPlan | None
) -> dict[str, Any]:
    """Return the audit entry of a newly stored plan; its actor is the file's path."""
    actor = path if len(path) <= MAX_ACTOR_LABEL else "…" + path[-MAX_ACTOR_LABEL + 1 :]
    before = None
    if previous is not None:
        before = {"path": previous.path, "digest": previous.digest}
    return {
        "actor_label": actor,
        "action": "rollout.plan",
        "target": os.path.basename(path),
        "before": before,
        "after": {
            "path": path,
            "digest": digest,
            "strategy": plan.strategy,
            "flags": plan.flag_names,
        },
    }


def _load_records(
    connection: Connection,
) -> tuple[dict[str, KillSwitchInfo], tuple[OverrideInfo, ...]]:
    actor = aliased(User)
    kill_switches = {
        row.flag: KillSwitchInfo(
            flag=row.flag,
            reason=row.reason,
            actor=row.actor or "",
            since=row.created_at,
        )
        for row in connection.execute(
            select(
                KillSwitch.flag,
                KillSwitch.reason,
                KillSwitch.created_at,
                actor.email.label("actor"),
            ).outerjoin(actor, KillSwitch.created_by_id == actor.id)
        )
    }
    target = aliased(User)
    rows = connection.execute(
        select(
            Override.id,
            Override.flag,
            Override.user_id,
            Override.enabled,
            Override.reason,
            Override.created_at,
            target.email.label("user_email"),
            Team.code.label("team"),
            actor.email.label("actor"),
        )
        .outerjoin(target, Override.user_id == target.id)
        .outerjoin(Team, Override.team_id == Team.id)
        .outerjoin(actor, Override.created_by_id == actor.id)
        .order_by(Override.flag, Override.id)
    )
    overrides = tuple(
        OverrideInfo(
            id=row.id,
            flag=row.flag,
            user_id=row.user_id,
            user_email=row.user_email,
            team=row.team,
            enabled=row.enabled,
            reason=row.reason,
            actor=row.actor or "",
            since=row.created_at,
        )
        for row in rows
    )
    return kill_switches, overrides


def get_runtime(app: Flask | None = None) -> RolloutRuntime:
    """Return the rollout runtime of ``app`` (default: the current app), creating it."""
    app = app or current_app._get_current_object()
    runtime = app.extensions.get(EXTENSION_KEY)
    if runtime is None:
        runtime = app.extensions.setdefault(EXTENSION_KEY, RolloutRuntime())
    return runtime


def current_snapshot() -> Snapshot:
    """Return the rollout snapshot of the current app, refreshed when due."""
    app = current_app._get_current_object()
    return get_runtime(app).snapshot(app)


def reset_runtime(app: Flask) -> None:
    """Forget everything this process keeps about the rollout of ``app``.

    Tests call it when they empty the database, because the runtime would otherwise
    keep plans, overrides and exposures that no longer exist.
    """
    app.extensions.pop(EXTENSION_KEY, None)
