"""The dunning run, which turns policies into the day's actions, and the approval
and execution of those actions.

Rules of a run on date D, for each open invoice with an open amount:

- Escalation is progressive. The invoice gets the lowest level of its policy
  above the latest level it reached, once that level is due: on or after the due
  date plus the level's days, and at least the gap between the two levels' days
  after the latest level was carried out (``dunning_progress`` has the exact
  rule). So a first run on 90-day-old debt creates the first reminder only. In
  the default policy, the second reminder follows 15 days after the first was
  sent. A level is never created twice for an invoice, and running again the
  same day creates nothing.
- While the latest level's action is open (waiting for approval or ready), the
  invoice waits. A cancelled action counts as its level reached, so a rejected
  formal notice is not proposed again.
- Disputed invoices (by flag or by an open dispute) and customers with a pending
  promise to pay are skipped.
- One action is created per customer and level, covering all of that customer's
  invoices due at that level, unless their open amount is below the level's
  minimum amount. Those invoices then stay at their level until the amount
  reaches the minimum.
- A real run may not be for a date after the business date. A dry run may, as a
  preview of what a run would create on that date if nothing changed until then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, insert, select
from sqlalchemy.orm import selectinload

from app.audit import services as audit
from app.auth.models import User
from app.collection.dunning_policies import (
    APPROVAL_CHANNELS,
    DunningError,
    DunningPermissionError,
    ensure_default_policy,
)
from app.collection.dunning_progress import (
    OPEN_STATUSES,
    earlier_reminders,
    levels_reached,
    next_level,
    timestamp_on,
)
from app.collection.letter_render import has_postal_address, missing_address_message
from app.collection.letters import (
    FORMAL_NOTICE_ROLES,
    claimable_invoices,
    compose_letter,
    record_letter,
)
from app.collection.models import (
    Activity,
    ActivityKind,
    Dispute,
    DisputeStatus,
    DunningAction,
    DunningActionStatus,
    DunningChannel,
    DunningLevel,
    DunningPolicy,
    Letter,
    Promise,
    PromiseStatus,
    dunning_action_invoices,
)
from app.collection.services import refresh_promises
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus
from app.ledger.money import ZERO, format_amount, to_money
from app.ledger.services import scope_customers
from app.timeutil import business_today, utcnow

logger = logging.getLogger(__name__)

# Channels whose execution writes a letter.
LETTER_CHANNELS = frozenset(
    {DunningChannel.EMAIL, DunningChannel.LETTER, DunningChannel.FORMAL_NOTICE}
)
# Channels whose letter is printed, so it is stored with a PDF.
PRINTED_CHANNELS = frozenset({DunningChannel.LETTER, DunningChannel.FORMAL_NOTICE})


@dataclasses.dataclass(frozen=True)
class PlannedAction:
    """An action a run created, or would create in a dry run (no id then)."""

    action_id: int | None
    customer_id: int
    customer_reference: str
    customer_name: str
    level_name: str
    days_from_due: int
    channel: str
    status: str
    amount: Decimal
    invoice_numbers: tuple[str, ...]


@dataclasses.dataclass
class RunResult:
    on: dt.date
    dry_run: bool
    business_date: dt.date
    actions: list[PlannedAction] = dataclasses.field(default_factory=list)
    disputed_invoices: int = 0  # invoices left out because they are disputed
    promised_customers: int = 0  # customers left out for a pending promise
    below_minimum: int = 0  # actions not created: amount below the level minimum
    customers_without_policy: int = 0

    @property
    def is_future_preview(self) -> bool:
        """Whether this is a dry run for a date after the business date."""
        return self.dry_run and self.on > self.business_date

    def as_json(self) -> dict:
        return {
            "date": self.on.isoformat(),
            "dry_run": self.dry_run,
            "business_date": self.business_date.isoformat(),
            "actions": [
                {
                    "id": action.action_id,
                    "customer": action.customer_reference,
                    "level": action.level_name,
                    "days_from_due": action.days_from_due,
                    "channel": action.channel,
                    "status": action.status,
                    "amount": format_amount(action.amount),
                    "invoices": list(action.invoice_numbers),
                }
                for action in self.actions
            ],
            "skipped": {
                "disputed_invoices": self.disputed_invoices,
                "promised_customers": self.promised_customers,
                "below_minimum": self.below_minimum,
                "customers_without_policy": self.customers_without_policy,
            },
        }


# --- The run ---------------------------------------------------------------


def run_dunning(
    on: dt.date, *, dry_run: bool = False, actor_label: str = "system"
) -> RunResult:
    """Create the dunning actions due on ``on`` and commit them.

    A dry run computes the same actions and then rolls the session back, so it
    changes nothing, not even the default policy it may have had to create.
    Raises DunningError for a real run after the business date.
    """
    today = business_today()
    check_run_date(on, dry_run, today)
    # A promise whose date passed unpaid no longer pauses dunning: settle the
    # outcomes first, inside this run's transaction, so a dry run undoes them.
    refresh_promises(on, commit=False)
    ensure_default_policy()
    # On PostgreSQL, locking the policies makes concurrent runs wait for each
    # other, so two runs cannot both create an action for the same invoice.
    # NOTE: SQLite has no row locks, so run one dunning scheduler at a time there.
    policies = list(
        db.session.scalars(
            select(DunningPolicy)
            .options(selectinload(DunningPolicy.levels))
            .with_for_update(of=DunningPolicy)
        )
    )
    result = RunResult(on=on, dry_run=dry_run, business_date=today)
    groups = _group_invoices_by_next_level(policies, on, result)
    levels = {level.id: level for policy in policies for level in policy.levels}
    ordered = sorted(groups, key=lambda key: (key[0], levels[key[1]].days_from_due))
    for customer_id, level_id in ordered:
        rows = groups[(customer_id, level_id)]
        planned = _create_action(customer_id, levels[level_id], rows, on)
        if planned is None:
            result.below_minimum += 1
        else:
            result.actions.append(planned)
    result.actions.sort(
        key=lambda action: (action.customer_reference, action.days_from_due)
    )

    if dry_run:
        db.session.rollback()
        result.actions = [
            dataclasses.replace(action, action_id=None) for action in result.actions
        ]
    else:
        db.session.commit()
    logger.info(
        "dunning run for %s by %s%s: %d actions, %d disputed invoices, "
        "%d promised customers, %d below minimum, %d customers without policy",
        on,
        actor_label,
        " (dry run)" if dry_run else "",
        len(result.actions),
        result.disputed_invoices,
        result.promised_customers,
        result.below_minimum,
        result.customers_without_policy,
    )
    return result


def check_run_date(on: dt.date, dry_run: bool, today: dt.date) -> None:
    """Raise DunningError when a real run is for a date after the business date.

    Actions created for a later date would be carried out before their date, and
    their letters would be dated in the future. A dry run only previews them.
    """
    if on > today and not dry_run:
        raise DunningError(
            _l(
                "A real dunning run cannot be for %(date)s, which is after today's "
                "business date %(today)s. Choose %(today)s or an earlier date, or "
                "tick the dry run to preview %(date)s.",
                date=on.isoformat(),
                today=today.isoformat(),
            )
        )


def _group_invoices_by_next_level(
    policies: list[DunningPolicy], on: dt.date, result: RunResult
) -> dict[tuple[int, int], list]:
    """Return the invoice rows to act on, by (customer id, next level id)."""
    default = next((policy for policy in policies if policy.is_default), None)
    levels_by_policy = {
        policy.id: sorted(policy.levels, key=lambda level: level.days_from_due)
        for policy in policies
    }
    earliest = min(
        (level.days_from_due for policy in policies for level in policy.levels),
        default=0,
    )
    horizon = on + dt.timedelta(days=max(-earliest, 0))

    history = levels_reached(due_by=horizon)
    disputed = set(
        db.session.scalars(
            select(Dispute.invoice_id).where(Dispute.status == DisputeStatus.OPEN)
        )
    )
    promised = set(
        db.session.scalars(
            select(Promise.customer_id).where(Promise.status == PromiseStatus.PENDING)
        )
    )
    groups: dict[tuple[int, int], list] = defaultdict(list)
    without_policy: set[int] = set()
    promised_seen: set[int] = set()
    for row in _candidate_invoices(horizon):
        policy_id = row.dunning_policy_id or (default.id if default else None)
        if policy_id is None:
            without_policy.add(row.customer_id)
            continue
        upcoming = next_level(
            levels_by_policy[policy_id], history.get(row.id, ()), row.due_date, on
        )
        if upcoming is None or not upcoming.is_due(on):
            continue
        if row.disputed or row.id in disputed:
            result.disputed_invoices += 1
            continue
        if row.customer_id in promised:
            promised_seen.add(row.customer_id)
            continue
        groups[(row.customer_id, upcoming.level.id)].append(row)
    result.customers_without_policy = len(without_policy)
    result.promised_customers = len(promised_seen)
    return groups


def _candidate_invoices(horizon: dt.date):
    return db.session.execute(
        select(
            Invoice.id,
            Invoice.customer_id,
            Invoice.number,
            Invoice.due_date,
            Invoice.open_amount,
            Invoice.disputed,
            Customer.dunning_policy_id,
        )
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount > 0,
            Invoice.due_date <= horizon,
        )
        .order_by(Invoice.customer_id, Invoice.due_date, Invoice.number)
    )


def _create_action(
    customer_id: int, level: DunningLevel, rows: list, on: dt.date
) -> PlannedAction | None:
    """Add the action for one customer and level, or return None below the minimum."""
    amount = to_money(sum((row.open_amount for row in rows), ZERO))
    if amount < level.min_amount:
        return None
    status = (
        DunningActionStatus.PENDING_APPROVAL
        if level.channel in APPROVAL_CHANNELS
        else DunningActionStatus.READY
    )
    action = DunningAction(
        customer_id=customer_id,
        level_id=level.id,
        run_date=on,
        channel=level.channel,
        status=status,
        amount=amount,
    )
    db.session.add(action)
    db.session.flush()
    db.session.execute(
        insert(dunning_action_invoices),
        [{"action_id": action.id, "invoice_id": row.id} for row in rows],
    )
    customer = db.session.get(Customer, customer_id)
    return PlannedAction(
        action_id=action.id,
        customer_id=customer_id,
        customer_reference=customer.reference,
        customer_name=customer.name,
        level_name=level.name,
        days_from_due=level.days_from_due,
        channel=level.channel,
        status=status,
        amount=amount,
        invoice_numbers=tuple(row.number for row in rows),
    )


# --- Reading actions within a user's scope ---------------------------------


def scoped_actions(user: User, statuses: tuple[str, ...] | None) -> Select:
    """Return a query of the actions the user may see, newest run first."""
    query = (
        select(DunningAction)
        .join(Customer, DunningAction.customer_id == Customer.id)
        .options(
            selectinload(DunningAction.level), selectinload(DunningAction.customer)
        )
        .order_by(DunningAction.run_date.desc(), DunningAction.id.desc())
    )
    if statuses:
        query = query.where(DunningAction.status.in_(statuses))
    return scope_customers(query, user)


def get_action_for(user: User, action_id: int) -> DunningAction:
    """Return the action, or 404 when it is missing or outside the user's scope."""
    query = scope_customers(
        select(DunningAction)
        .join(Customer, DunningAction.customer_id == Customer.id)
        .where(DunningAction.id == action_id),
        user,
    )
    action = db.session.scalar(query)
    if action is None:
        abort(404)
    return action


def action_letters(action: DunningAction) -> list[Letter]:
    return list(
        db.session.scalars(
            select(Letter).where(Letter.action_id == action.id).order_by(Letter.id)
        )
    )


# --- Approval and execution ------------------------------------------------


def approve_action(action: DunningAction, actor: User) -> None:
    """Let a formal notice go ahead. Only managers and admins may, and it is audited."""
    _require_manager(actor)
    if action.status != DunningActionStatus.PENDING_APPROVAL:
        raise DunningError(_l("This action is not waiting for approval."))
    if action.channel == DunningChannel.FORMAL_NOTICE and not has_postal_address(
        action.customer
    ):
        raise DunningError(missing_address_message(action.customer))
    action.status = DunningActionStatus.READY
    action.approved_by_id = actor.id
    action.approved_at = utcnow()
    audit.record(
        "dunning.approve",
        actor=actor,
        target=f"dunning_action:{action.id}",
        before={"status": DunningActionStatus.PENDING_APPROVAL.value},
        after=_audit_facts(action),
    )
    db.session.commit()
    logger.info("dunning action %s approved by %s", action.id, actor.email)


def cancel_action(action: DunningAction, actor: User) -> None:
    """Drop an action that is still open. Only managers and admins may, and it is
    audited.

    The invoices keep this level as reached, so no run recreates it, and their
    next level counts its gap from the action's run date.
    """
    _require_manager(actor)
    if action.status not in OPEN_STATUSES:
        raise DunningError(_l("Only an action that is not done yet can be cancelled."))
    before = {"status": action.status}
    action.status = DunningActionStatus.CANCELLED
    audit.record(
        "dunning.cancel",
        actor=actor,
        target=f"dunning_action:{action.id}",
        before=before,
        after=_audit_facts(action),
    )
    db.session.commit()
    logger.info("dunning action %s cancelled by %s", action.id, actor.email)


def execute_action(
    action: DunningAction, actor: User, language: str, on: dt.date
) -> Letter | None:
    """Carry out a ready action and mark it done, all in one commit.

    Letters and formal notices are stored with their PDF, emails as HTML only.
    Cadence does not send mail, so the collector sends the stored email text. A
    call task logs a call activity. Returns the letter written, if any.
    """
    if action.status == DunningActionStatus.PENDING_APPROVAL:
        raise DunningError(_l("A manager must approve this formal notice first."))
    if action.status != DunningActionStatus.READY:
        raise DunningError(_l("This action is already done or cancelled."))
    if _has_pending_promise(action.customer_id):
        raise DunningError(
            _l(
                "The customer has promised to pay since this action was planned. "
                "Wait for the promise to be kept or broken, or cancel the action."
            )
        )

    letter = None
    if action.channel in LETTER_CHANNELS:
        letter = _write_action_letter(action, actor, language, on)
    else:
        db.session.add(
            Activity(
                customer_id=action.customer_id,
                user_id=actor.id,
                kind=ActivityKind.CALL,
                summary=action.level.name,
                occurred_at=timestamp_on(on),
            )
        )
    action.status = DunningActionStatus.DONE
    # The date of execution, not of the run, starts the gap to the next level.
    action.done_at = timestamp_on(on)
    db.session.commit()
    logger.info(
        "dunning action %s (%s) done by %s", action.id, action.channel, actor.email
    )
    return letter


def _write_action_letter(
    action: DunningAction, actor: User, language: str, on: dt.date
) -> Letter:
    covered = {invoice.id for invoice in action.invoices}
    invoices = [i for i in claimable_invoices(action.customer) if i.id in covered]
    if not invoices:
        raise DunningError(
            _l(
                "None of this action's invoices is still open and undisputed. "
                "Cancel the action instead."
            )
        )
    rendered = compose_letter(
        action.customer,
        invoices,
        action.level.template_key,
        language,
        on,
        with_pdf=action.channel in PRINTED_CHANNELS,
        reminders=_action_facts(action)["earlier_reminders"],
    )
    kind = (
        ActivityKind.EMAIL
        if action.channel == DunningChannel.EMAIL
        else ActivityKind.LETTER
    )
    return record_letter(
        action.customer,
        rendered,
        action.level.template_key,
        language,
        actor,
        on,
        action_id=action.id,
        kind=kind,
    )


def _has_pending_promise(customer_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Promise.customer_id == customer_id,
                    Promise.status == PromiseStatus.PENDING,
                )
            )
        )
    )


def _require_manager(actor: User) -> None:
    if actor.role not in FORMAL_NOTICE_ROLES:
        raise DunningPermissionError(
            _l("Only a manager or an admin may approve or cancel dunning actions.")
        )


def _action_facts(action: DunningAction) -> dict:
    """Return what an action is about, for its audit entries and its letter.

    ``earlier_reminders`` lists the lower levels actually carried out for the
    action's invoices, with ``sent_on`` as a date (see
    ``dunning_progress.earlier_reminders``).
    """
    return {
        "status": action.status,
        "customer": action.customer.reference,
        "level": action.level.name,
        "channel": action.channel,
        "amount": format_amount(action.amount),
        "invoices": [invoice.number for invoice in action.invoices],
        "earlier_reminders": earlier_reminders(
            [invoice.id for invoice in action.invoices],
            below_days_from_due=action.level.days_from_due,
            exclude_action_id=action.id,
        ),
    }


def _audit_facts(action: DunningAction) -> dict:
    """Return ``_action_facts`` with dates as ISO strings, which JSON can store."""
    facts = _action_facts(action)
    facts["earlier_reminders"] = [
        {**reminder, "sent_on": reminder["sent_on"].isoformat()}
        for reminder in facts["earlier_reminders"]
    ]
    return facts
