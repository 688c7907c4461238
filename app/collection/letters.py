"""Letters sent to customers: which invoices a letter may claim, writing a letter
from the template in force, and the verbatim record of each letter sent.

A sent letter keeps its HTML and PDF as they were, so a later template change
never alters it. Each one is logged in the customer's history and audited as
``letter.sent``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit import services as audit
from app.auth.models import Role, User
from app.collection.letter_render import (
    LetterError,
    RenderedLetter,
    invoice_line,
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
from app.timeutil import utcnow

logger = logging.getLogger(__name__)

# Roles that may approve a formal notice or send one outside a dunning run.
FORMAL_NOTICE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


class LetterPermissionError(LetterError):
    """The user's role may not send this letter."""


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
) -> RenderedLetter:
    """Render the stored template (loading the default on first use) for a customer."""
    check_template_address(template_key, language)
    template = load_template(template_key, language)
    return render_letter(
        template.subject,
        template.body,
        recipient_of(customer),
        [invoice_line(invoice) for invoice in invoices],
        on,
        language,
        with_pdf=with_pdf,
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
    *,
    action_id: int | None = None,
    kind: str = ActivityKind.LETTER,
) -> Letter:
    """Store a sent letter verbatim with its activity and audit entry. The caller
    commits."""
    now = utcnow()
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


def _check_due_dates(template_key: str, invoices: Sequence[Invoice], on: dt.date) -> None:
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
) -> Letter:
    """Write a letter outside a dunning run for some of the customer's invoices,
    store it as sent with its PDF, and commit.

    A formal notice sent this way needs a role that may approve one.
    """
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
    rendered = compose_letter(
        customer, invoices, template_key, language, on, with_pdf=True
    )
    letter = record_letter(customer, rendered, template_key, language, actor)
    db.session.commit()
    return letter
