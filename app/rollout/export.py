"""Export the rollout in force in the Unleash admin API's feature import format.

The output is the ``data`` object that Unleash's import (Admin UI "Import", or
``POST /api/admin/features-batch/import`` with a project and an environment) takes:
features, featureStrategies, featureEnvironments, contextFields, featureTags,
segments, tagTypes and dependencies, with the keys of Unleash's
``exportResultSchema``.

The strategies are the ones the engine evaluates, so after the move the same users
keep the same features: each wave keeps its group id and ``userId`` stickiness, and
Unleash buckets users with the same MurmurHash3 as Cadence. The SDKs must send the
same context: ``userId`` is Cadence's user id as text, ``team`` the team code, and
``passedModules`` the passed module ids between commas, such as ",mod-a,mod-b,".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from app.rollout.compiler import PASSED_MODULES_FIELD, TEAM_FIELD
from app.rollout.runtime import Snapshot

# Strategy ids derive from this namespace, the feature name and the position, so
# exporting the same rollout twice gives the same ids.
STRATEGY_ID_NAMESPACE = uuid.UUID("7d0c8f84-5d36-4c55-9a57-3e1d2f0b6a21")


def _strategy_id(feature: str, position: int) -> str:
    return str(uuid.uuid5(STRATEGY_ID_NAMESPACE, f"{feature}/{position}"))


def _team_values(snapshot: Snapshot, teams: Iterable[str]) -> list[str]:
    """Return every team a constraint may name: in the database, plan or overrides."""
    codes = set(teams)
    if snapshot.plan is not None:
        codes.update(snapshot.plan.teams)
    codes.update(override.team for override in snapshot.overrides if override.team)
    return sorted(codes)


def _context_fields(snapshot: Snapshot, teams: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": TEAM_FIELD,
            "description": "Code of the user's team in Cadence, such as country-391.",
            "stickiness": False,
            "sortOrder": 10,
            "legalValues": [{"value": code} for code in _team_values(snapshot, teams)],
        },
        {
            "name": PASSED_MODULES_FIELD,
            "description": (
                "Training modules the user has passed, as their ids between commas, "
                "such as ,worklist-101,dunning-101, with a comma at both ends."
            ),
            "stickiness": False,
            "sortOrder": 11,
            "legalValues": [],
        },
    ]


def export_unleash(
    snapshot: Snapshot,
    *,
    environment: str = "production",
    teams: Iterable[str] = (),
) -> dict[str, Any]:
    """Return the import data for the rollout in ``snapshot``.

    ``teams`` are extra legal values of the ``team`` context field, usually every
    team of the database, so overrides added later after the move stay valid.
    """
    features = []
    strategies = []
    environments = []
    dependencies = []
    for feature in snapshot.state["features"]:
        name = feature["name"]
        features.append(
            {
                "name": name,
                "description": feature["description"],
                "type": feature["type"],
                "project": feature["project"],
                "stale": False,
                "impressionData": False,
                "archived": False,
            }
        )
        for position, strategy in enumerate(feature["strategies"]):
            strategies.append(
                {
                    "id": _strategy_id(name, position),
                    "name": strategy["name"],
                    "featureName": name,
                    "title": strategy.get("title", ""),
                    "parameters": strategy["parameters"],
                    "constraints": strategy["constraints"],
                    "segments": [],
                    "sortOrder": position,
                    "disabled": False,
                }
            )
        environments.append(
            {
                "name": name,
                "featureName": name,
                "environment": environment,
                "enabled": feature["enabled"],
                "variants": [],
            }
        )
        if feature["dependencies"]:
            dependencies.append(
                {
                    "feature": name,
                    "dependencies": [
                        {"feature": dependency["feature"], "enabled": True}
                        for dependency in feature["dependencies"]
                    ],
                }
            )
    return {
        "features": features,
        "featureStrategies": strategies,
        "featureEnvironments": environments,
        "contextFields": _context_fields(snapshot, teams),
        "featureTags": [],
        "segments": [],
        "tagTypes": [],
        "dependencies": dependencies,
    }
