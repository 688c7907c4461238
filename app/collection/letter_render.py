"""Render a letter template for a customer into printable HTML and a PDF.

Templates run in Jinja's immutable sandbox with autoescaping, so an editor cannot
reach Python internals and customer data cannot inject markup. A letter's fixed
words, dates and amounts follow the letter's language, not the interface language
of the person who sends it. Interest and indemnity come from
``app.collection.penalty`` as of the letter date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import partial

from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from app.collection.letter_pdf import (
    LetterLayout,
    LetterMarkupError,
    check_markup,
    render_pdf,
)
from app.collection.penalty import (
    RECOVERY_INDEMNITY,
    MissingRateError,
    RateTableError,
    compute_penalty,
    load_legal_rate_table,
    load_rate_table,
)
from app.ledger.models import Customer, Invoice
from app.ledger.money import ZERO, to_money

LETTER_LANGUAGES = ("fr", "en")
MAX_SUBJECT_LENGTH = 200  # the width of letters.subject and letter_templates.subject

# Used when the app config leaves a value empty. NOTE: the bank details are
# placeholders, so set COMPANY_IBAN, COMPANY_BIC and COMPANY_BANK in production.
COMPANY_DEFAULTS = {
    "COMPANY_NAME": "Cadence Démo SAS",
    "COMPANY_ADDRESS": "12 rue des Exemples\n75002 Paris\nFrance",
    "COMPANY_CITY": "Paris",
    "COMPANY_BANK": "Banque de démonstration",
    "COMPANY_IBAN": "FR76 0000 0000 0000 0000 0000 000",
    "COMPANY_BIC": "DEMOFRPPXXX",
    "LETTER_PAYMENT_DAYS": 8,
}

# The fixed words around a template's text, per letter language.
LAYOUT_WORDS = {
    "fr": {
        "place_date": "{city}, le {date}",
        "reference": "Réf. client : {reference}",
        "subject": "Objet : {subject}",
        "page": "Page {page}/{pages}",
    },
    "en": {
        "place_date": "{city}, {date}",
        "reference": "Customer reference: {reference}",
        "subject": "Subject: {subject}",
        "page": "Page {page} of {pages}",
    },
}

# Limits on template arithmetic, so that an expression such as "x" * 10**9 fails
# at once instead of exhausting the worker's memory.
MAX_EXPONENT = 100
MAX_REPEATED_LENGTH = 100_000


class LetterError(ValueError):
    """A letter cannot be written as requested. The message is shown to the user."""


class LetterTemplateError(LetterError):
    """A template's subject or body fails to render. ``field`` is "subject" or "body"."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Recipient:
    name: str
    reference: str
    address: str
    currency: str
    contract_rate: Decimal | None


@dataclasses.dataclass(frozen=True)
class InvoiceLine:
    number: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    open_amount: Decimal
    currency: str


@dataclasses.dataclass(frozen=True)
class ClaimedInvoice:
    """An invoice as passed to templates, with what is owed on it on the letter date."""

    number: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    open_amount: Decimal
    currency: str
    days_late: int
    interest: Decimal
    indemnity: Decimal


@dataclasses.dataclass(frozen=True)
class RenderedLetter:
    subject: str
    body_html: str
    html: str  # the complete printable document
    pdf: bytes | None


class _LetterSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float | Decimal):
            if abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                    if len(sequence) * count > MAX_REPEATED_LENGTH:
                        raise SecurityError("the repeated text or list is too long")
        return super().call_binop(context, operator, left, right)


def company_setting(name: str):
    return current_app.config.get(name) or COMPANY_DEFAULTS[name]


def company_details() -> dict[str, str]:
    return {
        "name": company_setting("COMPANY_NAME"),
        "address": company_setting("COMPANY_ADDRESS"),
        "city": company_setting("COMPANY_CITY"),
        "bank": company_setting("COMPANY_BANK"),
        "iban": company_setting("COMPANY_IBAN"),
        "bic": company_setting("COMPANY_BIC"),
    }


def recipient_of(customer: Customer) -> Recipient:
    return Recipient(
        name=customer.name,
        reference=customer.reference,
        address=customer.address or "",
        currency=customer.currency or "EUR",
        contract_rate=customer.contract_rate,
    )


def invoice_line(invoice: Invoice) -> InvoiceLine:
    return InvoiceLine(
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        amount=invoice.amount,
        open_amount=invoice.open_amount,
        currency=invoice.currency,
    )


def letter_context(
    recipient: Recipient, invoices: Sequence[InvoiceLine], on: dt.date
) -> dict:
    """Return the variables passed to a template, with interest and indemnity as of
    ``on``.

    NOTE: totals add amounts without converting currencies, so they are only
    right when every invoice is in the customer's currency.
    """
    claimed = _claim_invoices(recipient, invoices, on)
    payment_days = int(company_setting("LETTER_PAYMENT_DAYS"))
    total_open = to_money(sum((line.open_amount for line in claimed), ZERO))
    total_interest = to_money(sum((line.interest for line in claimed), ZERO))
    total_indemnity = to_money(sum((line.indemnity for line in claimed), ZERO))
    return {
        "company": company_details(),
        "customer": {
            "name": recipient.name,
            "reference": recipient.reference,
            "address": recipient.address,
        },
        "invoices": claimed,
        "totals": {
            "open": total_open,
            "interest": total_interest,
            "indemnity": total_indemnity,
            "claimed": total_open + total_interest + total_indemnity,
        },
        "letter_date": on,
        "payment_days": payment_days,
        "payment_deadline": on + dt.timedelta(days=payment_days),
        "indemnity_per_invoice": RECOVERY_INDEMNITY,
    }


def _claim_invoices(
    recipient: Recipient, invoices: Sequence[InvoiceLine], on: dt.date
) -> list[ClaimedInvoice]:
    try:
        rates = load_rate_table()
        legal_rates = None
        if recipient.contract_rate is not None:
            legal_rates = load_legal_rate_table()
        return [_claim(line, recipient, on, rates, legal_rates) for line in invoices]
    except (MissingRateError, RateTableError) as error:
        raise LetterError(
            _l("Late-payment interest cannot be computed: %(error)s", error=str(error))
        ) from error


def _claim(
    line: InvoiceLine, recipient: Recipient, on, rates, legal_rates
) -> ClaimedInvoice:
    penalty = compute_penalty(
        line.open_amount,
        line.due_date,
        None,
        on,
        rates,
        recipient.contract_rate,
        legal_rates,
    )
    return ClaimedInvoice(
        number=line.number,
        issue_date=line.issue_date,
        due_date=line.due_date,
        amount=line.amount,
        open_amount=line.open_amount,
        currency=line.currency,
        days_late=penalty.days_late,
        interest=penalty.interest,
        indemnity=penalty.indemnity,
    )


def _sandbox(language: str, currency: str, autoescape: bool) -> _LetterSandbox:
    environment = _LetterSandbox(autoescape=autoescape, undefined=StrictUndefined)
    environment.filters["money"] = partial(_format_money, language, currency)
    environment.filters["date"] = partial(_format_long_date, language)
    return environment


def _format_money(language: str, default_currency: str, value, currency=None) -> str:
    return format_currency(
        to_money(Decimal(value)), currency or default_currency, locale=language
    )


def _format_long_date(language: str, value: dt.date) -> str:
    return format_date(value, "long", locale=language)


def render_text(field: str, source: str, environment, context: dict) -> str:
    """Render one template field, raising LetterTemplateError with the field's name."""
    try:
        return environment.from_string(source).render(context)
    except TemplateSyntaxError as error:
        raise LetterTemplateError(
            field, f"line {error.lineno}: {error.message}"
        ) from error
    except TemplateError as error:
        raise LetterTemplateError(field, str(error)) from error
    # Expressions in a template can fail like any Python expression, for example
    # a division by zero or a filter given text instead of a number.
    except (ArithmeticError, LookupError, TypeError, ValueError) as error:
        raise LetterTemplateError(field, f"{type(error).__name__}: {error}") from error


def render_letter(
    subject_source: str,
    body_source: str,
    recipient: Recipient,
    invoices: Sequence[InvoiceLine],
    on: dt.date,
    language: str,
    *,
    with_pdf: bool,
) -> RenderedLetter:
    """Render a template for a recipient into printable HTML and, if asked, a PDF."""
    if language not in LETTER_LANGUAGES:
        raise LetterError(_l("Letters can be written in French or English only."))
    context = letter_context(recipient, invoices, on)
    subject_environment = _sandbox(language, recipient.currency, autoescape=False)
    subject = " ".join(
        render_text("subject", subject_source, subject_environment, context).split()
    )
    if not subject:
        raise LetterTemplateError("subject", "the subject is empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise LetterTemplateError(
            "subject", f"the subject is longer than {MAX_SUBJECT_LENGTH} characters"
        )
    body_environment = _sandbox(language, recipient.currency, autoescape=True)
    body = render_text("body", body_source, body_environment, context)
    try:
        check_markup(body)
    except LetterMarkupError as error:
        raise LetterTemplateError("body", str(error)) from error

    layout = _layout(recipient, subject, body, on, language)
    html = current_app.jinja_env.get_template("collection/letter_document.html").render(
        layout=layout, body=Markup(body), language=language
    )
    pdf = None
    if with_pdf:
        try:
            pdf = render_pdf(layout)
        except LetterMarkupError as error:
            raise LetterTemplateError("body", str(error)) from error
    return RenderedLetter(subject=subject, body_html=body, html=html, pdf=pdf)


def _layout(
    recipient: Recipient, subject: str, body: str, on: dt.date, language: str
) -> LetterLayout:
    words = LAYOUT_WORDS[language]
    company = company_details()
    return LetterLayout(
        sender_name=company["name"],
        sender_address=company["address"],
        recipient_name=recipient.name,
        recipient_address=recipient.address,
        place_date=words["place_date"].format(
            city=company["city"], date=_format_long_date(language, on)
        ),
        reference_line=words["reference"].format(reference=recipient.reference),
        subject_line=words["subject"].format(subject=subject),
        body_html=body,
        page_label=words["page"],
    )


def sample_recipient_and_invoices(on: dt.date) -> tuple[Recipient, list[InvoiceLine]]:
    """Return a fictitious customer with one old and one recent overdue invoice."""
    recipient = Recipient(
        name="Exemple Industries SARL",
        reference="C-0001",
        address="8 avenue du Modèle\n69002 Lyon\nFrance",
        currency="EUR",
        contract_rate=None,
    )
    invoices = [
        InvoiceLine(
            number="F-2024-0117",
            issue_date=on - dt.timedelta(days=80),
            due_date=on - dt.timedelta(days=50),
            amount=Decimal("1250.00"),
            open_amount=Decimal("1250.00"),
            currency="EUR",
        ),
        InvoiceLine(
            number="F-2024-0188",
            issue_date=on - dt.timedelta(days=42),
            due_date=on - dt.timedelta(days=12),
            amount=Decimal("980.50"),
            open_amount=Decimal("480.50"),
            currency="EUR",
        ),
    ]
    return recipient, invoices


def preview_template(
    subject: str, body: str, language: str, on: dt.date
) -> RenderedLetter:
    """Render a template text for the sample customer, PDF included, storing nothing."""
    recipient, invoices = sample_recipient_and_invoices(on)
    return render_letter(
        subject, body, recipient, invoices, on, language, with_pdf=True
    )
