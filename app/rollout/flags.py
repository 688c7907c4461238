"""The single check of whether a feature is on for a user."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import yaml
from flask import abort, current_app
from flask_login import current_user

from app.timeutil import business_today

logger = logging.getLogger(__name__)


def _load_plan(path: str) -> dict:
    with open(Path(path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def is_enabled(flag: str, user=None) -> bool:
    """Return whether ``flag`` is on for ``user`` today, according to the plan file."""
    plan = _load_plan(current_app.config["FEATURE_FLAGS_PATH"])
    spec = (plan.get("flags") or {}).get(flag)
    if spec is None:
        return False
    cutover = plan.get("cutover")
    return cutover is None or business_today() >= cutover


def feature_required(flag: str):
    """Serve the view only while ``flag`` is on for the current user; 404 otherwise."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not is_enabled(flag, current_user):
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorator
