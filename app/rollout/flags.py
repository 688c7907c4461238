"""The single check of whether a feature is on for a user.

``is_enabled`` evaluates the compiled rollout in this process, refreshed as
``app.rollout.runtime`` describes. The first time a request serves an enabled feature
to its logged-in user, the exposure is stored after the response for the adoption
metrics.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import g, has_request_context
from flask_login import current_user
from werkzeug.exceptions import NotFound

from app.rollout.runtime import current_snapshot, get_runtime
from app.rollout.subjects import subject_of
from app.timeutil import business_today

_CONTEXTS = "_rollout_contexts"
_EXPOSURES = "_rollout_exposures"


class FeatureDisabled(NotFound):
    """A view of a feature that is off for the current user; rendered as a 404 page."""

    def __init__(self, flag: str) -> None:
        super().__init__()
        self.flag = flag


def _context_of(user, snapshot) -> dict[str, Any]:
    """Return the Unleash context of ``user``, built once per request."""
    cache = g.setdefault(_CONTEXTS, {}) if has_request_context() else {}
    context = cache.get(user.id)
    if context is None:
        needs_modules = bool(snapshot.plan and snapshot.plan.training_modules)
        subject = subject_of(user, with_modules=needs_modules)
        context = subject.context(business_today())
        cache[user.id] = context
    return context


def _note_exposure(user, flag: str) -> None:
    if not has_request_context() or not current_user.is_authenticated:
        return
    if user.id != current_user.id or (user.id, flag) in get_runtime().exposed:
        return
    g.setdefault(_EXPOSURES, set()).add(flag)


def is_enabled(flag: str, user=None) -> bool:
    """Return whether ``flag`` is on for ``user`` on the business date.

    ``user`` defaults to the logged-in user. Anonymous users get no feature.
    """
    if user is None:
        user = current_user if has_request_context() else None
    if user is None or not user.is_authenticated:
        return False
    snapshot = current_snapshot()
    enabled = snapshot.engine.is_enabled(flag, _context_of(user, snapshot))
    if enabled:
        _note_exposure(user, flag)
    return enabled


def feature_required(flag: str):
    """Serve the view only while ``flag`` is on for the current user.

    :raise FeatureDisabled: a 404 whose page gives the date the plan turns the flag on.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not is_enabled(flag, current_user):
                raise FeatureDisabled(flag)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def forget_request_cache() -> None:
    """Drop the contexts and exposures cached on ``g`` by an earlier request.

    Tests push one app context around many requests, so ``g`` outlives a request.
    """
    g.pop(_CONTEXTS, None)
    g.pop(_EXPOSURES, None)


def pending_exposures() -> set[str]:
    return g.pop(_EXPOSURES, set())
