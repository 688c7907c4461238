"""Write audit entries; callers commit them with the change they describe."""

import logging

from app.audit.models import AuditEntry
from app.extensions import db

logger = logging.getLogger(__name__)


def record(
    action: str,
    *,
    actor=None,
    actor_label: str | None = None,
    target: str = "",
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; it is committed with the caller's change."""
    label = actor_label or (actor.email if actor is not None else "system")
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=label,
        action=action,
        target=target,
        reason=reason,
        before=before,
        after=after,
    )
    db.session.add(entry)
    logger.info("audit %s by %s on %s", action, label, target or "-")
    return entry
