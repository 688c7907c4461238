"""The rollout plan: waves of teams, or one cutover date, and the flags they turn on.

``app.rollout.plan_file`` reads a plan from ``feature_flags.yaml`` and validates it.
The classes here hold a plan that passed validation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.rollout.plan_file import PlanWarning

BIG_BANG = "big_bang"
PHASED = "phased"
STRATEGIES = (BIG_BANG, PHASED)
ALL_TEAMS = "all"
"""The value of a wave's ``teams`` that includes every user, with or without a team."""

# Names end up in Unleash as feature names, group ids and constraint values, so they
# keep to characters that Unleash accepts everywhere. Commas are excluded because the
# training gate joins module ids with commas.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True)
class Wave:
    """A group of teams that gets its features from ``start`` on.

    ``teams`` is None when the wave covers every user. ``percent`` is the share of
    those users that get the features, chosen by a hash of the user id that does not
    change, so a user in at 30% is still in at 60%.
    """

    name: str
    start: dt.date
    teams: tuple[str, ...] | None
    percent: int = 100

    def includes_team(self, team: str | None) -> bool:
        return self.teams is None or team in self.teams


@dataclass(frozen=True)
class FlagSpec:
    """The plan's settings of one feature flag.

    ``waves`` lists the waves that give the flag, in plan order; it is empty in a
    big-bang plan. ``description`` is empty when the plan gives none, and the pages
    then show the description from ``app.rollout.catalogue``.
    """

    name: str
    description: str
    requires: tuple[str, ...] = ()
    training: str | None = None
    waves: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A validated rollout plan."""

    strategy: str
    cutover: dt.date | None
    waves: tuple[Wave, ...]
    flags: tuple[FlagSpec, ...]
    warnings: tuple[PlanWarning, ...] = field(default=(), compare=False)
    """Problems that do not reject the plan, from validation; a stored plan has none."""
    _flags_by_name: dict[str, FlagSpec] = field(init=False, repr=False, compare=False)
    _waves_by_name: dict[str, Wave] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_flags_by_name", {f.name: f for f in self.flags})
        object.__setattr__(self, "_waves_by_name", {w.name: w for w in self.waves})

    @property
    def is_phased(self) -> bool:
        return self.strategy == PHASED

    def flag(self, name: str) -> FlagSpec | None:
        return self._flags_by_name.get(name)

    def wave(self, name: str) -> Wave:
        return self._waves_by_name[name]

    def waves_of(self, flag: FlagSpec) -> list[Wave]:
        return [self._waves_by_name[name] for name in flag.waves]

    @property
    def flag_names(self) -> list[str]:
        return [flag.name for flag in self.flags]

    @property
    def teams(self) -> list[str]:
        """Return every team code that a wave names, sorted."""
        codes = {code for wave in self.waves for code in wave.teams or ()}
        return sorted(codes)

    @property
    def training_modules(self) -> list[str]:
        return sorted({flag.training for flag in self.flags if flag.training})

    def start_dates(self) -> list[dt.date]:
        """Return the dates on which the plan turns something on, sorted."""
        if not self.is_phased:
            return [self.cutover] if self.cutover else []
        return sorted({wave.start for wave in self.waves})

    def to_json(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data that ``Plan.from_json`` reads back."""
        return {
            "strategy": self.strategy,
            "cutover": self.cutover.isoformat() if self.cutover else None,
            "waves": [
                {
                    "name": wave.name,
                    "start": wave.start.isoformat(),
                    "teams": list(wave.teams) if wave.teams is not None else None,
                    "percent": wave.percent,
                }
                for wave in self.waves
            ],
            "flags": [
                {
                    "name": flag.name,
                    "description": flag.description,
                    "requires": list(flag.requires),
                    "training": flag.training,
                    "waves": list(flag.waves),
                }
                for flag in self.flags
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Rebuild a plan saved by ``to_json``; the data is trusted, not validated."""
        cutover = data.get("cutover")
        return cls(
            strategy=data["strategy"],
            cutover=dt.date.fromisoformat(cutover) if cutover else None,
            waves=tuple(
                Wave(
                    name=wave["name"],
                    start=dt.date.fromisoformat(wave["start"]),
                    teams=tuple(wave["teams"]) if wave["teams"] is not None else None,
                    percent=wave["percent"],
                )
                for wave in data["waves"]
            ),
            flags=tuple(
                FlagSpec(
                    name=flag["name"],
                    description=flag["description"],
                    requires=tuple(flag["requires"]),
                    training=flag["training"],
                    waves=tuple(flag["waves"]),
                )
                for flag in data["flags"]
            ),
        )
