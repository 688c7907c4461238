"""Helpers that move dunning along in tests: the business date, runs on a given
day, and actions marked done on a given day without writing their letters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import Flask
from sqlalchemy import select

from app.collection.dunning import RunResult, run_dunning
from app.collection.dunning_policies import ensure_default_policy
from app.collection.dunning_progress import timestamp_on
from app.collection.models import (
    DunningAction,
    DunningActionStatus,
    DunningLevel,
)
from app.extensions import db
from app.ledger.models import Customer, Invoice
from app.ledger.money import to_money


def run_on(app: Flask, day: dt.date, **options) -> RunResult:
    """Make ``day`` the business date, as the next morning would, and run dunning.

    The ``app`` fixture puts the business date back to 2013-06-30 for each test.
    """
    app.config["BUSINESS_DATE"] = day.isoformat()
    return run_dunning(day, **options)


def mark_done(action: DunningAction, day: dt.date) -> None:
    """Record an action as carried out on ``day``, as execute_action would."""
    action.status = DunningActionStatus.DONE
    action.done_at = timestamp_on(day)
    db.session.commit()


def actions_at(level_name: str) -> list[DunningAction]:
    return list(
        db.session.scalars(
            select(DunningAction)
            .join(DunningLevel, DunningLevel.id == DunningAction.level_id)
            .where(DunningLevel.name == level_name)
            .order_by(DunningAction.id)
        )
    )


def add_done_action(
    customer: Customer, level_name: str, invoices: Sequence[Invoice], day: dt.date
) -> DunningAction:
    """Add a default-policy action at ``level_name``, run and done on ``day``."""
    policy = ensure_default_policy()
    level = next(level for level in policy.levels if level.name == level_name)
    action = DunningAction(
        customer_id=customer.id,
        level_id=level.id,
        run_date=day,
        channel=level.channel,
        status=DunningActionStatus.DONE,
        amount=to_money(sum(invoice.open_amount for invoice in invoices)),
        done_at=timestamp_on(day),
    )
    action.invoices = list(invoices)
    db.session.add(action)
    db.session.flush()
    return action
