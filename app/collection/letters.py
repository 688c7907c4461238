"""Letters sent to customers: which invoices a letter may claim, writing a letter
from the template in force, and the verbatim record of each letter sent.

A sent letter keeps its HTML and PDF as they were, so a later template change
never alters it. Each one is logged in the customer's history and audited as
``letter.sent``.

A letter written by hand from the template of a level of the customer's dunning
policy counts as that level. It is stored as a done dunning action covering the
claimed invoices that had not reached the level yet, so the next run continues
from there. Such a letter is rejected while one of its invoices has an open
action at that level or a lower one, because that action would send a reminder
again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.auth.models import Role, User
from app.collection import dunning_progress
from app.collection.dunning_policies import ensure_default_policy, policy_of
from app.collection.letter_render import (
    LetterError,
    RenderedLetter,
    has_postal_address,
    invoice_line,
    missing_address_message,
    recipient_of,
    render_letter,
)
from app.collection.letter_template_store import (
    FORMAL_NOTICE_KEY,
    check_template_address,
    find_template,
    load_template,
)
from app.collection.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Dispute,
    DisputeStatus,
    Letter,
)
from app.extensions import db
from app.ledger.models import Customer, Invoice, InvoiceStatus

logger = logging.getLogger(__name__)

# Roles that may approve a formal notice or send one outside a dunning run.
FORMAL_NOTICE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


class LetterPermissionError(LetterError):
    """The user's role may not send this letter."""


class LetterAlreadyStored(LetterError):
    """Error: an earlier submission of the same form stored ``letter``."""

    def __init__(self, message, letter: Letter):
        super().__init__(message)
        self.letter = letter


def _reject_stored_submission(customer: Customer, key: str) -> None:
    """Raise LetterAlreadyStored when a letter of ``customer`` has the form's key."""
    letter = db.session.scalar(select(Letter).where(Letter.submission_key == key))
    if letter is None:
        return
    if letter.customer_id != customer.id:
        # Only a hand-edited form reuses another customer's key, so the message
        # reveals nothing of that customer's letter.
        raise LetterError(
            _l("This form is incomplete. Reload the page and write the letter again.")
        )
    raise LetterAlreadyStored(
        _l(
            "This letter was already stored as sent: %(subject)s. Nothing was "
            "stored twice.",
            subject=letter.subject,
        ),
        letter,
    )


def claimable_invoices(customer: Customer) -> list[Invoice]:
    """Return the customer's open invoices that a letter may claim: not disputed,
    by flag or by an open dispute, oldest due first."""
    open_dispute = (
        select(Dispute.id)
        .where(Dispute.invoice_id == Invoice.id, Dispute.status == DisputeStatus.OPEN)
        .exists()
    )
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == customer.id,
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount > 0,
                Invoice.disputed.is_(False),
                ~open_dispute,
            )
            .order_by(Invoice.due_date, Invoice.number)
        )
    )


def compose_letter(
    customer: Customer,
    invoices: Sequence[Invoice],
    template_key: str,
    language: str,
    on: dt.date,
    *,
    with_pdf: bool,
    reminders: Sequence[dict] | None = None,
) -> RenderedLetter:
    """Render the stored template (loading the default on first use) for a customer.

    ``reminders`` are the earlier reminders the letter may mention, as listed by
    a dunning action's facts. By default they come from the stored letters. A
    formal notice needs the customer's postal address.
    """
    check_template_address(template_key, language)
    if template_key == FORMAL_NOTICE_KEY and not has_postal_address(customer):
        raise LetterError(missing_address_message(customer))
    template = load_template(template_key, language)
    return render_letter(
        template.subject,
        template.body,
        recipient_of(customer),
        [invoice_line(invoice) for invoice in invoices],
        on,
        language,
        with_pdf=with_pdf,
        reminders=reminders,
    )


def preview_customer_letter(
    customer: Customer, template_key: str, language: str, on: dt.date
) -> RenderedLetter:
    """Render the HTML a letter would have, without storing anything."""
    check_template_address(template_key, language)
    template = find_template(template_key, language)
    if template is None:
        raise LetterError(
            _l(
                "There is no letter template %(key)s in language %(language)s.",
                key=template_key,
                language=language,
            )
        )
    return render_letter(
        template.subject,
        template.body,
        recipient_of(customer),
        [invoice_line(invoice) for invoice in claimable_invoices(customer)],
        on,
        language,
        with_pdf=False,
    )


def record_letter(
    customer: Customer,
    rendered: RenderedLetter,
    template_key: str,
    language: str,
    actor: User,
    on: dt.date,
    *,
    action_id: int | None = None,
    kind: str = ActivityKind.LETTER,
) -> Letter:
    """Store a letter sent on the business date ``on`` verbatim, with its activity
    and audit entry. The caller commits."""
    now = dunning_progress.timestamp_on(on)
    letter = Letter(
        customer_id=customer.id,
        action_id=action_id,
        template_key=template_key,
        language=language,
        subject=rendered.subject,
        html=rendered.html,
        pdf=rendered.pdf,
        created_by_id=actor.id,
        created_at=now,
        sent_at=now,
    )
    db.session.add(letter)
    db.session.flush()
    db.session.add(
        Activity(
            customer_id=customer.id,
            user_id=actor.id,
            kind=kind,
            occurred_at=now,
            summary=rendered.subject,
            outcome=ActivityOutcome.SENT,
        )
    )
    audit.record(
        "letter.sent",
        actor=actor,
        target=f"letter:{letter.id}",
        after={
            "customer": customer.reference,
            "template": template_key,
            "language": language,
            "subject": rendered.subject,
            "action_id": action_id,
            "pdf": rendered.pdf is not None,
        },
    )
    logger.info(
        "letter %s (%s/%s) sent to customer %s by %s",
        letter.id,
        template_key,
        language,
        customer.reference,
        actor.email,
    )
    return letter


# The courtesy reminder announces a coming due date; every other letter claims
# invoices whose due date has passed.
BEFORE_DUE_TEMPLATE_KEYS = frozenset({"courtesy_reminder"})


def _check_due_dates(
    template_key: str, invoices: Sequence[Invoice], on: dt.date
) -> None:
    """Raise LetterError for invoices whose due date contradicts the letter's text."""
    if template_key in BEFORE_DUE_TEMPLATE_KEYS:
        wrong = [i.number for i in invoices if i.due_date < on]
        if wrong:
            raise LetterError(
                _l(
                    "A courtesy reminder is for invoices not yet due; these are "
                    "already past due: %(numbers)s.",
                    numbers=", ".join(wrong),
                )
            )
        return
    wrong = [i.number for i in invoices if i.due_date >= on]
    if wrong:
        raise LetterError(
            _l(
                "This letter claims overdue invoices; these are not past due yet: "
                "%(numbers)s.",
                numbers=", ".join(wrong),
            )
        )


def send_letter(
    customer: Customer,
    template_key: str,
    language: str,
    invoice_ids: Sequence[int],
    actor: User,
    on: dt.date,
    *,
    submission_key: str | None = None,
) -> Letter:
    """Write a letter outside a dunning run for some of the customer's invoices,
    store it as sent with its PDF, and commit.

    A formal notice sent this way needs a role that may approve one. A letter
    from a dunning level's template is also stored as that level done, as the
    module docstring describes. ``submission_key`` is the one-time key of the
    form: a second letter with the same key raises LetterAlreadyStored and stores
    nothing.
    """
    if submission_key is not None:
        _reject_stored_submission(customer, submission_key)
    if template_key == FORMAL_NOTICE_KEY and actor.role not in FORMAL_NOTICE_ROLES:
        raise LetterPermissionError(
            _l("Only a manager or an admin may send a formal notice.")
        )
    requested_ids = set(invoice_ids)
    invoices = [i for i in claimable_invoices(customer) if i.id in requested_ids]
    if not requested_ids or len(invoices) != len(requested_ids):
        raise LetterError(
            _l("Choose one or more open, undisputed invoices of this customer.")
        )
    _check_due_dates(template_key, invoices, on)
    letter_level = dunning_progress.level_of_letter(
        policy_of(customer) or ensure_default_policy(),
        template_key,
        [invoice.id for invoice in invoices],
    )
    if letter_level is not None:
        _check_no_open_action(letter_level, invoices)
    rendered = compose_letter(
        customer, invoices, template_key, language, on, with_pdf=True
    )
    action_id = None
    if letter_level is not None and letter_level.new_invoice_ids:
        new_ids = set(letter_level.new_invoice_ids)
        action = dunning_progress.record_level_by_hand(
            customer,
            letter_level.level,
            [invoice for invoice in invoices if invoice.id in new_ids],
            on,
        )
        action_id = action.id
    letter = record_letter(
        customer, rendered, template_key, language, actor, on, action_id=action_id
    )
    letter.submission_key = submission_key
    try:
        db.session.commit()
    except IntegrityError:
        # The same form, sent again at the same moment, stored its letter first.
        db.session.rollback()
        if submission_key is None:
            raise
        _reject_stored_submission(customer, submission_key)
        raise
    if action_id is not None:
        logger.info(
            "letter %s recorded as dunning level %s (action %s) for customer %s",
            letter.id,
            letter_level.level.id,
            action_id,
            customer.reference,
        )
    return letter


def _check_no_open_action(
    letter_level: dunning_progress.LetterLevel, invoices: Sequence[Invoice]
) -> None:
    """Raise LetterError when a claimed invoice has an open action that this letter
    would duplicate or overtake."""
    if not letter_level.open_actions:
        return
    numbers = [i.number for i in invoices if i.id in letter_level.open_actions]
    levels = sorted(
        {reached.level_name for reached in letter_level.open_actions.values()}
    )
    raise LetterError(
        _l(
            "Invoices %(numbers)s already have a dunning action to carry out "
            "(%(levels)s). Send that action from the dunning page, or ask a "
            "manager to cancel it, before writing this letter.",
            numbers=", ".join(numbers),
            levels=", ".join(levels),
        )
    )
