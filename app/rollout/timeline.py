"""The plan as a timeline: which features turn on for which teams, on which date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.rollout.plan import Plan

EVERYONE = None
"""The ``teams`` of a step that covers every user."""


@dataclass(frozen=True)
class Step:
    """One date of the plan: a wave, or the big-bang cutover when ``wave`` is None."""

    day: dt.date
    wave: str | None
    teams: tuple[str, ...] | None
    percent: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """The share of a team's users that gets a flag from ``day`` on."""

    day: dt.date
    percent: int
    wave: str | None


def steps(plan: Plan) -> list[Step]:
    """Return the plan's steps by date, waves of the same date in plan order."""
    if not plan.is_phased:
        if plan.cutover is None:
            return []
        return [Step(plan.cutover, None, EVERYONE, 100, tuple(plan.flag_names))]
    found = [
        Step(
            day=wave.start,
            wave=wave.name,
            teams=wave.teams,
            percent=wave.percent,
            flags=tuple(flag.name for flag in plan.flags if wave.name in flag.waves),
        )
        for wave in plan.waves
    ]
    return sorted(found, key=lambda step: step.day)


def schedule(plan: Plan, teams: list[str]) -> dict[str | None, dict[str, list[Entry]]]:
    """Return, per team and flag, the dates on which a share of the team gets the flag.

    The key None collects steps for everyone, which also apply to every team and to
    users without a team. A team's list stops at its first 100% entry, because later
    waves add nothing for it.
    """
    rows: dict[str | None, dict[str, list[Entry]]] = {
        team: {flag: [] for flag in plan.flag_names} for team in [None, *teams]
    }
    for step in steps(plan):
        targets = [None, *teams] if step.teams is EVERYONE else step.teams
        for team in targets:
            if team not in rows:
                continue
            for flag in step.flags:
                entries = rows[team][flag]
                if entries and entries[-1].percent == 100:
                    continue
                entries.append(Entry(step.day, step.percent, step.wave))
    return rows
