"""The rollout waves of the plan, as far as a phased migration needs them.

A wave of the rollout plan (``feature_flags.yaml``, at ``FEATURE_FLAGS_PATH``) has a
name, a start date and the teams that move to Cadence in it, or every team. A
migration run limited to a wave loads the customers of those teams. The plan is
read and validated by ``app.rollout.plan_file``.
"""

from __future__ import annotations

from flask import current_app


class WaveError(ValueError):
    """The plan has no such wave, or it cannot be read."""


def wave_teams(name: str, path: str | None = None) -> frozenset[str] | None:
    """Return the team codes of the wave ``name``, or None when it has every team.

    ``path`` defaults to the app's plan file. Raises WaveError when the plan is
    invalid or has no wave of that name.
    """
    # Imported here so that the migration commands and pages load even while the
    # plan file cannot be read.
    from app.rollout.plan_file import PlanInvalid, read_plan

    path = path or current_app.config["FEATURE_FLAGS_PATH"]
    try:
        plan = read_plan(path)
    except PlanInvalid as error:
        raise WaveError(f"the rollout plan {path} is invalid: {error}") from None
    names = [wave.name for wave in plan.waves]
    if name not in names:
        known = ", ".join(names) or "none"
        raise WaveError(
            f"the rollout plan has no wave {name!r}; its waves are: {known}. "
            "Add the wave to the plan or pick one of these"
        )
    teams = plan.wave(name).teams
    return None if teams is None else frozenset(teams)
