"""Compile a rollout plan and its overrides into Unleash client-features state.

Each flag becomes one Unleash feature:

- a phased wave becomes a ``flexibleRollout`` strategy whose group id is the wave
  name, so a user's bucket is the same for every flag of the wave, with a ``team``
  IN constraint and a ``currentTime`` DATE_AFTER constraint;
- a big-bang cutover becomes one ``default`` strategy with the DATE_AFTER constraint;
- prerequisites become dependencies and the kill switch sets ``enabled`` to false;
- the training gate becomes a constraint on the ``passedModules`` property on each
  plan strategy;
- overrides become strategies in front of the plan's, and NOT_IN constraints on the
  strategies they take users out of.

Strategies are alternatives, so a later wave never takes a feature away from a user
whom an earlier wave gave it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from app.rollout.catalogue import describe_flag
from app.rollout.plan import FlagSpec, Plan, Wave

PARIS = ZoneInfo("Europe/Paris")
TEAM_FIELD = "team"
ROLE_FIELD = "role"
PASSED_MODULES_FIELD = "passedModules"
MODULE_SEPARATOR = ","
STATE_FORMAT_VERSION = 2


@dataclass(frozen=True)
class Overrides:
    """The users and teams forced on or off, by flag.

    User ids are text, as in the Unleash context.
    """

    killed: frozenset[str] = frozenset()
    users_on: Mapping[str, frozenset[str]] = field(default_factory=dict)
    users_off: Mapping[str, frozenset[str]] = field(default_factory=dict)
    teams_on: Mapping[str, frozenset[str]] = field(default_factory=dict)
    teams_off: Mapping[str, frozenset[str]] = field(default_factory=dict)


NO_OVERRIDES = Overrides()


def day_start(day: dt.date) -> dt.datetime:
    """Return midnight in Europe/Paris at the start of ``day``, in UTC."""
    return dt.datetime.combine(day, dt.time(), PARIS).astimezone(dt.UTC)


def evaluation_moment(day: dt.date) -> dt.datetime:
    """Return the moment that stands for business date ``day``: noon in Europe/Paris.

    DATE_AFTER is strict, so evaluating at midnight would leave a wave off on its
    start date. Noon is after the midnight on which the day starts and before the
    next one in every time zone offset Paris uses.
    """
    return dt.datetime.combine(day, dt.time(12), PARIS)


def format_instant(moment: dt.datetime) -> str:
    """Format ``moment`` as Unleash stores dates: UTC with milliseconds and a Z."""
    utc = moment.astimezone(dt.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def passed_modules_value(modules: Iterable[str]) -> str:
    """Return the ``passedModules`` context value: sorted ids between commas.

    Unleash context values are strings, so the gate tests STR_CONTAINS ",id,". The
    leading and trailing commas stop "mod-1" from matching inside "mod-10".
    """
    ids = sorted(set(modules))
    if not ids:
        return ""
    return MODULE_SEPARATOR + MODULE_SEPARATOR.join(ids) + MODULE_SEPARATOR


def build_context(
    user_id: int | str,
    day: dt.date,
    *,
    team: str | None,
    role: str,
    passed_modules: Iterable[str] = (),
) -> dict[str, Any]:
    """Build the Unleash context of a user on business date ``day``."""
    properties = {
        ROLE_FIELD: role,
        PASSED_MODULES_FIELD: passed_modules_value(passed_modules),
    }
    if team:
        properties[TEAM_FIELD] = team
    return {
        "userId": str(user_id),
        "currentTime": evaluation_moment(day),
        "properties": properties,
    }


def _constraint(
    context_name: str, operator: str, values: Iterable[str] | None = None, value=None
) -> dict[str, Any]:
    constraint: dict[str, Any] = {
        "contextName": context_name,
        "operator": operator,
        "caseInsensitive": False,
        "inverted": False,
    }
    if values is not None:
        constraint["values"] = sorted(values)
    else:
        constraint["value"] = value
    return constraint


def starts_on(day: dt.date) -> dict[str, Any]:
    """Return the constraint that passes from ``day`` on, Paris time."""
    return _constraint(
        "currentTime", "DATE_AFTER", value=format_instant(day_start(day))
    )


def training_gate(module: str) -> dict[str, Any]:
    value = MODULE_SEPARATOR + module + MODULE_SEPARATOR
    return _constraint(PASSED_MODULES_FIELD, "STR_CONTAINS", values=[value])


def _exclusions(
    flag: str, overrides: Overrides, *, teams: bool = True
) -> list[dict[str, Any]]:
    """Return the NOT_IN constraints that keep forced-off users and teams out."""
    constraints = []
    users_off = overrides.users_off.get(flag)
    if users_off:
        constraints.append(_constraint("userId", "NOT_IN", values=users_off))
    teams_off = overrides.teams_off.get(flag)
    if teams and teams_off:
        constraints.append(_constraint(TEAM_FIELD, "NOT_IN", values=teams_off))
    return constraints


def _override_strategies(flag: str, overrides: Overrides) -> list[dict[str, Any]]:
    strategies = []
    users_on = overrides.users_on.get(flag)
    if users_on:
        strategies.append(
            {
                "name": "default",
                "title": "Forced on for users",
                "parameters": {},
                "constraints": [_constraint("userId", "IN", values=users_on)],
            }
        )
    teams_on = overrides.teams_on.get(flag)
    if teams_on:
        # A user's own override wins over the team's, so forced-off users stay out.
        constraints = [_constraint(TEAM_FIELD, "IN", values=teams_on)]
        constraints += _exclusions(flag, overrides, teams=False)
        strategies.append(
            {
                "name": "default",
                "title": "Forced on for teams",
                "parameters": {},
                "constraints": constraints,
            }
        )
    return strategies


def _wave_strategy(wave: Wave, flag: FlagSpec, overrides: Overrides) -> dict[str, Any]:
    constraints = []
    if wave.teams is not None:
        constraints.append(_constraint(TEAM_FIELD, "IN", values=wave.teams))
    constraints.append(starts_on(wave.start))
    if flag.training:
        constraints.append(training_gate(flag.training))
    constraints += _exclusions(flag.name, overrides)
    return {
        "name": "flexibleRollout",
        "title": f"Wave {wave.name}",
        "parameters": {
            "rollout": str(wave.percent),
            "stickiness": "userId",
            "groupId": wave.name,
        },
        "constraints": constraints,
    }


def _cutover_strategy(
    cutover: dt.date, flag: FlagSpec, overrides: Overrides
) -> dict[str, Any]:
    constraints = [starts_on(cutover)]
    if flag.training:
        constraints.append(training_gate(flag.training))
    constraints += _exclusions(flag.name, overrides)
    return {
        "name": "default",
        "title": "Cutover",
        "parameters": {},
        "constraints": constraints,
    }


def compile_flag(
    plan: Plan, flag: FlagSpec, overrides: Overrides = NO_OVERRIDES
) -> dict[str, Any]:
    """Return the Unleash feature of one flag of ``plan``."""
    strategies = _override_strategies(flag.name, overrides)
    if plan.is_phased:
        strategies += [
            _wave_strategy(wave, flag, overrides) for wave in plan.waves_of(flag)
        ]
    elif plan.cutover is not None:
        strategies.append(_cutover_strategy(plan.cutover, flag, overrides))
    # Unleash turns a feature without strategies on for everyone. A valid plan gives
    # every flag a strategy, but should one be missing, the flag stays off.
    enabled = bool(strategies) and flag.name not in overrides.killed
    return {
        "name": flag.name,
        "description": describe_flag(flag),
        "type": "release",
        "project": "default",
        "enabled": enabled,
        "stale": False,
        "impressionData": False,
        "strategies": strategies,
        "variants": [],
        "dependencies": [
            {"feature": prerequisite, "enabled": True} for prerequisite in flag.requires
        ],
    }


def compile_plan(plan: Plan, overrides: Overrides = NO_OVERRIDES) -> dict[str, Any]:
    """Return the Unleash client-features state of ``plan`` with ``overrides``."""
    return {
        "version": STATE_FORMAT_VERSION,
        "features": [compile_flag(plan, flag, overrides) for flag in plan.flags],
        "segments": [],
    }
