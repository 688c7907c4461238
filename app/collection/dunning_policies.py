"""Dunning policies: the levels that set when, how and from what amount a customer
is reminded, the default policy, and which policy each customer follows.

A policy's levels are kept in order of ``days_from_due``: ``position`` is renumbered
1, 2, ... after every change, so no two levels of a policy share a day. Exactly one
policy is the default whenever any policy exists: the first one created becomes
it, and the default can be changed but not deleted.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select, update

from app.auth.models import User
from app.collection.letter_template_store import template_keys
from app.collection.models import (
    DunningAction,
    DunningChannel,
    DunningLevel,
    DunningPolicy,
)
from app.extensions import db
from app.ledger.models import Customer
from app.ledger.money import to_money

logger = logging.getLogger(__name__)

CHANNEL_LABELS = {
    DunningChannel.EMAIL: _l("Email reminder"),
    DunningChannel.LETTER: _l("Letter"),
    DunningChannel.CALL: _l("Call task"),
    DunningChannel.FORMAL_NOTICE: _l("Formal notice"),
}
# Actions on these channels wait for a manager's approval before anyone runs them.
APPROVAL_CHANNELS = frozenset({DunningChannel.FORMAL_NOTICE})
# Levels may start at most this many days before the due date and at most this
# many days after it.
MIN_DAYS_FROM_DUE = -90
MAX_DAYS_FROM_DUE = 730
MAX_NAME_LENGTH = 100


class DunningError(ValueError):
    """A dunning request cannot be carried out. The message is shown to the user."""


class DunningPermissionError(DunningError):
    """The user's role may not do this."""


@dataclasses.dataclass(frozen=True)
class LevelSpec:
    """The editable fields of a level, before validation."""

    name: str
    days_from_due: int
    channel: str
    template_key: str
    min_amount: Decimal


DEFAULT_POLICY_NAME = "Relance standard"
DEFAULT_POLICY_DESCRIPTION = (
    "Rappel courtois 5 jours avant l'échéance, relances écrites à 10 et 25 jours, "
    "appel à 35 jours, mise en demeure à 45 jours après approbation d'un manager."
)
# Seeded French default: minimum amounts in EUR keep small balances away from
# the costlier steps.
DEFAULT_LEVELS = (
    LevelSpec(
        "Rappel courtois avant échéance",
        -5,
        DunningChannel.EMAIL,
        "courtesy_reminder",
        Decimal("0.00"),
    ),
    LevelSpec(
        "Première relance",
        10,
        DunningChannel.LETTER,
        "first_reminder",
        Decimal("10.00"),
    ),
    LevelSpec(
        "Seconde relance",
        25,
        DunningChannel.LETTER,
        "second_reminder",
        Decimal("10.00"),
    ),
    LevelSpec("Appel de relance", 35, DunningChannel.CALL, "", Decimal("50.00")),
    LevelSpec(
        "Mise en demeure",
        45,
        DunningChannel.FORMAL_NOTICE,
        "formal_notice",
        Decimal("100.00"),
    ),
)


def default_policy() -> DunningPolicy | None:
    return db.session.scalar(select(DunningPolicy).where(DunningPolicy.is_default))


def ensure_default_policy() -> DunningPolicy:
    """Return the default policy, creating the French standard one if there is none.

    The caller commits, so a dry run that rolls back leaves no policy behind.
    """
    policy = default_policy()
    if policy is not None:
        return policy
    policy = db.session.scalar(
        select(DunningPolicy).where(DunningPolicy.name == DEFAULT_POLICY_NAME)
    )
    if policy is None:
        policy = DunningPolicy(
            name=DEFAULT_POLICY_NAME, description=DEFAULT_POLICY_DESCRIPTION
        )
        db.session.add(policy)
        for position, spec in enumerate(DEFAULT_LEVELS, start=1):
            policy.levels.append(_new_level(spec, position))
        logger.info("created the default dunning policy %r", DEFAULT_POLICY_NAME)
    db.session.execute(update(DunningPolicy).values(is_default=False))
    policy.is_default = True
    db.session.flush()
    return policy


def policy_of(customer: Customer) -> DunningPolicy | None:
    """Return the policy the customer follows: its own, else the default."""
    if customer.dunning_policy_id is not None:
        return db.session.get(DunningPolicy, customer.dunning_policy_id)
    return default_policy()


def list_policies() -> list[tuple[DunningPolicy, int]]:
    """Return every policy with the number of customers assigned to it explicitly."""
    counts = dict(
        db.session.execute(
            select(Customer.dunning_policy_id, func.count(Customer.id))
            .where(Customer.dunning_policy_id.is_not(None))
            .group_by(Customer.dunning_policy_id)
        ).all()
    )
    policies = db.session.scalars(
        select(DunningPolicy).order_by(
            DunningPolicy.is_default.desc(), DunningPolicy.name
        )
    )
    return [(policy, counts.get(policy.id, 0)) for policy in policies]


def create_policy(name: str, description: str, actor: User) -> DunningPolicy:
    """Create an empty policy. The first policy ever created becomes the default."""
    name = _check_policy_name(name)
    policy = DunningPolicy(
        name=name,
        description=description.strip(),
        is_default=default_policy() is None,
    )
    db.session.add(policy)
    db.session.commit()
    logger.info("dunning policy %s %r created by %s", policy.id, name, actor.email)
    return policy


def update_policy(
    policy: DunningPolicy, name: str, description: str, make_default: bool, actor: User
) -> None:
    """Rename or describe a policy, and make it the default if asked."""
    policy.name = _check_policy_name(name, policy)
    policy.description = description.strip()
    if make_default and not policy.is_default:
        db.session.execute(update(DunningPolicy).values(is_default=False))
        policy.is_default = True
    db.session.commit()
    logger.info(
        "dunning policy %s updated by %s (default: %s)",
        policy.id,
        actor.email,
        policy.is_default,
    )


def delete_policy(policy: DunningPolicy, actor: User) -> None:
    """Delete a policy that is not the default, has no customer and no action."""
    if policy.is_default:
        raise DunningError(
            _l(
                "The default policy cannot be deleted. "
                "Make another policy the default first."
            )
        )
    customers = db.session.scalar(
        select(func.count(Customer.id)).where(Customer.dunning_policy_id == policy.id)
    )
    if customers:
        raise DunningError(
            _l(
                "Customers following this policy: %(count)s. "
                "Assign them another policy first.",
                count=customers,
            )
        )
    if any(_has_actions(level) for level in policy.levels):
        raise DunningError(
            _l(
                "This policy has dunning actions in its history, "
                "so it cannot be deleted."
            )
        )
    db.session.delete(policy)
    db.session.commit()
    logger.info("dunning policy %s deleted by %s", policy.id, actor.email)


def add_level(policy: DunningPolicy, spec: LevelSpec, actor: User) -> DunningLevel:
    spec = _check_level(policy, spec)
    position = max((level.position for level in policy.levels), default=0) + 1
    level = _new_level(spec, position)
    policy.levels.append(level)
    db.session.flush()
    _renumber(policy)
    db.session.commit()
    logger.info(
        "dunning level %s added to policy %s by %s", level.id, policy.id, actor.email
    )
    return level


def update_level(level: DunningLevel, spec: LevelSpec, actor: User) -> None:
    spec = _check_level(level.policy, spec, level)
    level.name = spec.name
    level.days_from_due = spec.days_from_due
    level.channel = spec.channel
    level.template_key = spec.template_key
    level.min_amount = spec.min_amount
    db.session.flush()
    _renumber(level.policy)
    db.session.commit()
    logger.info("dunning level %s updated by %s", level.id, actor.email)


def delete_level(level: DunningLevel, actor: User) -> None:
    if _has_actions(level):
        raise DunningError(
            _l(
                "This level has dunning actions in its history, "
                "so it cannot be deleted."
            )
        )
    policy = level.policy
    policy.levels.remove(level)
    db.session.flush()
    _renumber(policy)
    db.session.commit()
    logger.info("dunning level %s deleted by %s", level.id, actor.email)


def assign_policy(
    customer: Customer, policy: DunningPolicy | None, actor: User
) -> None:
    """Make the customer follow ``policy``, or the default policy when it is None."""
    before = customer.dunning_policy_id
    customer.dunning_policy_id = policy.id if policy is not None else None
    db.session.commit()
    logger.info(
        "customer %s dunning policy changed from %s to %s by %s",
        customer.reference,
        before,
        customer.dunning_policy_id,
        actor.email,
    )


def _new_level(spec: LevelSpec, position: int) -> DunningLevel:
    return DunningLevel(
        position=position,
        name=spec.name,
        days_from_due=spec.days_from_due,
        channel=spec.channel,
        template_key=spec.template_key,
        min_amount=spec.min_amount,
    )


def _renumber(policy: DunningPolicy) -> None:
    """Number the levels 1, 2, ... by days from the due date.

    Positions go through negative values first, because (policy_id, position) is
    unique and swapping two levels in place would collide.
    """
    levels = sorted(policy.levels, key=lambda level: (level.days_from_due, level.id))
    for index, level in enumerate(levels, start=1):
        level.position = -index
    db.session.flush()
    for index, level in enumerate(levels, start=1):
        level.position = index
    db.session.flush()
    policy.levels.sort(key=lambda level: level.position)


def _has_actions(level: DunningLevel) -> bool:
    if level.id is None:
        return False
    return (
        db.session.scalar(
            select(DunningAction.id).where(DunningAction.level_id == level.id).limit(1)
        )
        is not None
    )


def _check_policy_name(name: str, policy: DunningPolicy | None = None) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise DunningError(
            _l("A policy name needs 1 to %(max)s characters.", max=MAX_NAME_LENGTH)
        )
    clash = db.session.scalar(select(DunningPolicy).where(DunningPolicy.name == name))
    if clash is not None and clash is not policy:
        raise DunningError(_l("A policy named %(name)s already exists.", name=name))
    return name


def _check_level(
    policy: DunningPolicy, spec: LevelSpec, level: DunningLevel | None = None
) -> LevelSpec:
    """Return the spec cleaned up, or raise DunningError naming the invalid field."""
    name = spec.name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise DunningError(
            _l("A level name needs 1 to %(max)s characters.", max=MAX_NAME_LENGTH)
        )
    if not MIN_DAYS_FROM_DUE <= spec.days_from_due <= MAX_DAYS_FROM_DUE:
        raise DunningError(
            _l(
                "Days from the due date must be between %(min)s and %(max)s.",
                min=MIN_DAYS_FROM_DUE,
                max=MAX_DAYS_FROM_DUE,
            )
        )
    if spec.channel not in set(DunningChannel):
        raise DunningError(_l("Unknown channel %(channel)s.", channel=spec.channel))
    template_key = spec.template_key.strip()
    if spec.channel == DunningChannel.CALL:
        template_key = ""
    elif not template_key:
        raise DunningError(_l("Choose the letter template that this level sends."))
    elif template_key not in template_keys():
        raise DunningError(
            _l(
                "The letter template %(key)s does not exist. "
                "Choose one for this channel.",
                key=template_key,
            )
        )
    if not spec.min_amount.is_finite() or spec.min_amount < 0:
        raise DunningError(_l("The minimum amount must be zero or more."))
    for other in policy.levels:
        if other is not level and other.days_from_due == spec.days_from_due:
            raise DunningError(
                lazy_ngettext(
                    "The level %(name)s already starts %(days)d day from the due date.",
                    "The level %(name)s already starts %(days)d days from the due date.",
                    abs(spec.days_from_due),
                    name=other.name,
                    days=spec.days_from_due,
                )
            )
    return LevelSpec(
        name=name,
        days_from_due=spec.days_from_due,
        channel=spec.channel,
        template_key=template_key,
        min_amount=to_money(spec.min_amount),
    )
