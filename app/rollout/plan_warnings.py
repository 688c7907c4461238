"""Find what is legal in a valid plan but probably not what the project lead meant.

These checks produce warnings, which never reject a plan: training modules that
Cadence cannot verify, a flag that reaches a team before its prerequisite does, and a
wave that gives no flag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.rollout.messages import Message, _
from app.rollout.plan import FlagSpec, Plan, Wave

LineMessage = tuple[int | None, Message]
"""A line (1-based, None for the whole file) and the message for it."""


@dataclass(frozen=True)
class PlanLines:
    """The lines on which the plan file defines what the warnings point at."""

    requires: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """The line of each prerequisite, by (flag, prerequisite)."""
    training: Mapping[str, int] = field(default_factory=dict)
    """The line of each flag's training key, by flag name."""
    waves: Mapping[str, int] = field(default_factory=dict)
    """The line of each wave's first key, by wave name."""


def plan_warnings(plan: Plan, lines: PlanLines) -> list[LineMessage]:
    """Return every warning about ``plan``."""
    warnings = _training_warnings(plan, lines)
    if plan.is_phased:
        warnings += _prerequisite_order_warnings(plan, lines)
        warnings += _idle_wave_warnings(plan, lines)
    return warnings


def _training_warnings(plan: Plan, lines: PlanLines) -> list[LineMessage]:
    """Warn once, listing each training module and the flags it gates.

    The training content lives outside Cadence and may not exist yet, so a module
    id cannot be checked. A wrong id keeps the flag off for every user without an
    override.
    """
    gated: dict[str, list[str]] = {}
    for flag in plan.flags:
        if flag.training:
            gated.setdefault(flag.training, []).append(flag.name)
    if not gated:
        return []
    listing = "; ".join(
        f"{module} ({', '.join(flags)})" for module, flags in sorted(gated.items())
    )
    first_line = min(lines.training.values(), default=None)
    template = _(
        "The plan gates flags on training modules that Cadence cannot check: "
        "%(modules)s. Make sure each module exists and that passes are recorded for "
        "it, because a gated flag stays off for every user who has not passed it."
    )
    return [(first_line, Message(template, {"modules": listing}))]


def _first_wave(
    plan: Plan, flag: FlagSpec, team: str | None
) -> tuple[dt.date, Wave] | None:
    """Return the earliest wave of ``flag`` that includes ``team``, with its start.

    ``team`` None means the users whose team no wave names, whom only
    ``teams: all`` waves reach.
    """
    reaching = [
        wave
        for wave in plan.waves_of(flag)
        if wave.teams is None or (team is not None and team in wave.teams)
    ]
    if not reaching:
        return None
    first = min(reaching, key=lambda wave: wave.start)
    return first.start, first


def _prerequisite_order_warnings(plan: Plan, lines: PlanLines) -> list[LineMessage]:
    """Warn where a flag's wave reaches a team before the flag's prerequisite does.

    Such a flag stays off for those users until the prerequisite arrives.

    NOTE: the percent of a wave is not compared. A prerequisite at 50% and its
    dependent flag at 100% from the same date pass this check, yet half of the users
    get neither.
    """
    warnings: list[LineMessage] = []
    for flag in plan.flags:
        for prerequisite_name in flag.requires:
            prerequisite = plan.flag(prerequisite_name)
            if prerequisite is None:
                continue
            line = lines.requires.get((flag.name, prerequisite_name))
            for team in [*plan.teams, None]:
                found = _order_warning(plan, flag, prerequisite, team)
                if found is not None:
                    warnings.append((line, found))
    return warnings


def _order_warning(
    plan: Plan, flag: FlagSpec, prerequisite: FlagSpec, team: str | None
) -> Message | None:
    own = _first_wave(plan, flag, team)
    if own is None:
        return None
    start, wave = own
    needed = _first_wave(plan, prerequisite, team)
    if needed is not None and needed[0] <= start:
        return None
    values = {
        "flag": flag.name,
        "prerequisite": prerequisite.name,
        "team": team,
        "wave": wave.name,
        "start": start,
    }
    if needed is not None:
        values["date"] = needed[0]
    if team is not None and needed is not None:
        template = _(
            "%(flag)s cannot turn on before %(prerequisite)s, which team %(team)s "
            "gets from %(date)s, so wave %(wave)s gives %(flag)s to that team from "
            "then, not from %(start)s."
        )
    elif team is not None:
        template = _(
            "%(flag)s cannot turn on without %(prerequisite)s, which no wave gives to "
            "team %(team)s, so that team never gets %(flag)s from wave %(wave)s."
        )
    elif needed is not None:
        template = _(
            "%(flag)s cannot turn on before %(prerequisite)s, which users without a "
            "listed team get from %(date)s, so wave %(wave)s gives %(flag)s to them "
            "from then, not from %(start)s."
        )
    else:
        template = _(
            "%(flag)s cannot turn on without %(prerequisite)s, which no teams: all "
            "wave gives, so users without a listed team never get %(flag)s from wave "
            "%(wave)s."
        )
    return Message(template, values)


def _idle_wave_warnings(plan: Plan, lines: PlanLines) -> list[LineMessage]:
    used = {name for flag in plan.flags for name in flag.waves}
    template = _(
        "Wave %(wave)s gives no flag, because no flag lists it in its waves. Add it "
        "to the waves of a flag, or remove the wave."
    )
    return [
        (lines.waves.get(wave.name), Message(template, {"wave": wave.name}))
        for wave in plan.waves
        if wave.name not in used
    ]
