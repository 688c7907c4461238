"""Render a letter template for a customer into printable HTML and a PDF.

Templates run in Jinja's immutable sandbox with autoescaping, so an editor cannot
reach Python internals and customer data cannot inject markup. A letter's fixed
words, dates and amounts follow the letter's language, not the interface language
of the person who sends it. Interest and indemnity come from
``app.collection.penalty`` as of the letter date, the sender's identity from
``app.collection.creditor``, and the earlier reminders a letter may mention from
``app.collection.reminder_history``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial

from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_currency
from flask import current_app
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from app.collection.creditor import Creditor, CreditorFileError, current_creditor
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
)
from app.collection.rates import ecb_rates
from app.collection.rates import legal_rates as configured_legal_rates
from app.collection.reminder_history import (
    EarlierReminder,
    earlier_reminders,
    reminders_from_facts,
)
from app.ledger.models import Customer, Invoice
from app.ledger.money import ZERO, to_money

LETTER_LANGUAGES = ("fr", "en")
MAX_SUBJECT_LENGTH = 200  # the width of letters.subject and letter_templates.subject

# The fixed words around a template's text, per letter language.
LAYOUT_WORDS = {
    "fr": {
        "place_date": "{city}, le {date}",
        "reference": "Réf. client : {reference}",
        "subject": "Objet : {subject}",
        "page": "Page {page}/{pages}",
        "capital": "{form} au capital de {capital}",
        "office": "Siège social : {address}",
        "siren": "SIREN {siren}",
        "vat": "TVA intracommunautaire {vat}",
    },
    "en": {
        "place_date": "{city}, {date}",
        "reference": "Customer reference: {reference}",
        "subject": "Subject: {subject}",
        "page": "Page {page} of {pages}",
        "capital": "{form} with a share capital of {capital}",
        "office": "Registered office: {address}",
        "siren": "SIREN {siren}",
        "vat": "EU VAT number {vat}",
    },
}

# Names of earlier letters in a letter's text, by the template they were written
# from. A template key missing here gets the "" entry.
REMINDER_NAMES = {
    "fr": {
        "first_reminder": "notre première relance",
        "second_reminder": "notre seconde relance",
        "formal_notice": "notre mise en demeure",
        "": "notre relance",
    },
    "en": {
        "first_reminder": "our first reminder",
        "second_reminder": "our second reminder",
        "formal_notice": "our formal notice",
        "": "our reminder",
    },
}
REMINDER_DATED = {"fr": "{name} du {date}", "en": "{name} of {date}"}

# Limits on template arithmetic, so that an expression such as "x" * 10**9 fails
# at once instead of exhausting the worker's memory.
MAX_EXPONENT = 100
MAX_REPEATED_LENGTH = 100_000
# Styles of the ``date`` filter: "30 septembre 2013" and "30 sept. 2013" in French.
DATE_STYLES = frozenset({"long", "medium"})


class LetterError(ValueError):
    """A letter cannot be written as requested. The message is shown to the user."""


class LetterTemplateError(LetterError):
    """A template's subject or body failed to render, as ``field`` names."""

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
    customer_id: int | None = None  # None for the sample customer of previews


@dataclasses.dataclass(frozen=True)
class InvoiceLine:
    number: str
    issue_date: dt.date
    due_date: dt.date
    amount: Decimal
    open_amount: Decimal
    currency: str
    invoice_id: int | None = None  # None for the sample invoices of previews


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

    @property
    def total(self) -> Decimal:
        """Principal still open plus interest and indemnity."""
        return self.open_amount + self.interest + self.indemnity


@dataclasses.dataclass(frozen=True)
class ReminderMention:
    """An earlier letter as passed to templates. ``phrase`` names it with its date
    in the letter language, such as "notre première relance du 12 mai 2013"."""

    sent_on: dt.date
    level_name: str
    letter_id: int
    phrase: str


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


def creditor_for_letters() -> Creditor:
    """Return the creditor in force, or raise LetterError saying what to fix."""
    try:
        return current_creditor()
    except CreditorFileError as error:
        raise LetterError(
            _l(
                "The creditor details printed on letters are invalid: %(error)s",
                error=str(error),
            )
        ) from error


def company_details(creditor: Creditor, language: str) -> dict[str, str]:
    """Return the creditor as the ``company`` variable of templates."""
    return {
        "name": creditor.name,
        "legal_form": creditor.legal_form,
        "address": creditor.address,
        "city": creditor.city,
        "siren": creditor.siren_display,
        "rcs": creditor.rcs,
        "vat_number": creditor.vat_number,
        "phone": creditor.phone,
        "email": creditor.email,
        "bank": creditor.bank_name,
        "iban": creditor.iban_display,
        "bic": creditor.bic,
        "legal_mention": legal_mention(creditor, language),
    }


def legal_mention(creditor: Creditor, language: str) -> str:
    """Return the line that identifies the creditor at the foot of each page:
    legal form and share capital, registered office, SIREN or RCS, VAT number."""
    words = LAYOUT_WORDS[language]
    parts = [creditor.name]
    if creditor.legal_form and creditor.share_capital is not None:
        capital = format_currency(creditor.share_capital, "EUR", locale=language)
        parts[0] += ", " + words["capital"].format(
            form=creditor.legal_form, capital=capital
        )
    elif creditor.legal_form:
        parts[0] += " " + creditor.legal_form
    parts.append(
        words["office"].format(address=", ".join(creditor.address.split("\n")))
    )
    parts.append(creditor.rcs or words["siren"].format(siren=creditor.siren_display))
    if creditor.vat_number:
        parts.append(words["vat"].format(vat=creditor.vat_number))
    return " · ".join(parts)


def has_postal_address(customer: Customer) -> bool:
    return bool((customer.address or "").strip())


def missing_address_message(customer: Customer):
    """Return the message that rejects a formal notice to a customer without an
    address. Letters of the other templates go out with a warning instead."""
    return _l(
        "Customer %(reference)s has no postal address, so a formal notice can be "
        "neither approved nor sent. Add the address on the customer's contact "
        "details page, then try again.",
        reference=customer.reference,
    )


def recipient_of(customer: Customer) -> Recipient:
    return Recipient(
        name=customer.name,
        reference=customer.reference,
        address=customer.address or "",
        currency=customer.currency or "EUR",
        contract_rate=customer.contract_rate,
        customer_id=customer.id,
    )


def invoice_line(invoice: Invoice) -> InvoiceLine:
    return InvoiceLine(
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        amount=invoice.amount,
        open_amount=invoice.open_amount,
        currency=invoice.currency,
        invoice_id=invoice.id,
    )


def letter_context(
    recipient: Recipient,
    invoices: Sequence[InvoiceLine],
    on: dt.date,
    language: str = "fr",
    reminders: Sequence[EarlierReminder] = (),
) -> dict:
    """Return the variables passed to a template, with interest and indemnity as of
    ``on`` and the earlier ``reminders`` it may mention.

    NOTE: totals add amounts without converting currencies, so they are only
    right when every invoice is in the customer's currency.
    """
    creditor = creditor_for_letters()
    claimed = _claim_invoices(recipient, invoices, on)
    total_open = to_money(sum((line.open_amount for line in claimed), ZERO))
    total_interest = to_money(sum((line.interest for line in claimed), ZERO))
    total_indemnity = to_money(sum((line.indemnity for line in claimed), ZERO))
    return {
        "company": company_details(creditor, language),
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
        "rate_basis": "statutory" if recipient.contract_rate is None else "contract",
        "earlier_reminders": [_mention(reminder, language) for reminder in reminders],
        "letter_date": on,
        "payment_days": creditor.payment_days,
        "payment_deadline": on + dt.timedelta(days=creditor.payment_days),
        "indemnity_per_invoice": RECOVERY_INDEMNITY,
    }


def _mention(reminder: EarlierReminder, language: str) -> ReminderMention:
    names = REMINDER_NAMES[language]
    phrase = REMINDER_DATED[language].format(
        name=names.get(reminder.template_key, names[""]),
        date=_format_date(language, reminder.sent_on),
    )
    return ReminderMention(
        reminder.sent_on, reminder.level_name, reminder.letter_id, phrase
    )


def _claim_invoices(
    recipient: Recipient, invoices: Sequence[InvoiceLine], on: dt.date
) -> list[ClaimedInvoice]:
    try:
        rates = ecb_rates()
        legal_rates = None
        if recipient.contract_rate is not None:
            legal_rates = configured_legal_rates()
        return [_claim(line, recipient, on, rates, legal_rates) for line in invoices]
    except (MissingRateError, RateTableError) as error:
        raise LetterError(
            _l(
                "Late-payment interest cannot be computed: %(error)s. Ask an admin "
                "to add the missing rate, as the admin guide explains.",
                error=str(error).rstrip("."),
            )
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
    environment.filters["date"] = partial(_format_date, language)
    environment.filters["word_list"] = partial(_format_word_list, language)
    return environment


def _format_money(language: str, default_currency: str, value, currency=None) -> str:
    return format_currency(
        to_money(Decimal(value)), currency or default_currency, locale=language
    )


def _format_date(language: str, value: dt.date, style: str = "long") -> str:
    if style not in DATE_STYLES:
        raise ValueError(f"unknown date style {style!r}: use long or medium")
    return format_date(value, style, locale=language)


def _format_word_list(language: str, values) -> str:
    """Join texts into one phrase, with "et" in French and "and" in English."""
    return format_list([str(value) for value in values], locale=language)


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
    reminders: Sequence[EarlierReminder | Mapping] | None = None,
) -> RenderedLetter:
    """Render a template for a recipient into printable HTML and, if asked, a PDF.

    ``reminders`` are the earlier letters the text may mention: EarlierReminder
    objects, or the ``earlier_reminders`` dicts of a dunning action's facts. By
    default they are read from the letters stored for the recipient.
    """
    if language not in LETTER_LANGUAGES:
        raise LetterError(_l("Letters can be written in French or English only."))
    context = letter_context(
        recipient,
        invoices,
        on,
        language,
        _earlier_reminders(recipient, invoices, on, reminders),
    )
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

    layout = _layout(recipient, subject, body, on, language, context["company"])
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


def _earlier_reminders(
    recipient: Recipient,
    invoices: Sequence[InvoiceLine],
    on: dt.date,
    provided: Sequence[EarlierReminder | Mapping] | None,
) -> list[EarlierReminder]:
    if provided is not None:
        facts = [entry for entry in provided if isinstance(entry, Mapping)]
        objects = [entry for entry in provided if isinstance(entry, EarlierReminder)]
        return sorted(
            objects + reminders_from_facts(facts),
            key=lambda reminder: (reminder.sent_on, reminder.letter_id),
        )
    if recipient.customer_id is None:
        return []
    claimed = {
        line.invoice_id: line.due_date
        for line in invoices
        if line.invoice_id is not None
    }
    return earlier_reminders(recipient.customer_id, claimed, on)


def _layout(
    recipient: Recipient,
    subject: str,
    body: str,
    on: dt.date,
    language: str,
    company: dict[str, str],
) -> LetterLayout:
    words = LAYOUT_WORDS[language]
    sender_name = company["name"]
    if company["legal_form"]:
        sender_name += " " + company["legal_form"]
    return LetterLayout(
        sender_name=sender_name,
        sender_address=company["address"],
        recipient_name=recipient.name,
        recipient_address=recipient.address,
        place_date=words["place_date"].format(
            city=company["city"], date=_format_date(language, on)
        ),
        reference_line=words["reference"].format(reference=recipient.reference),
        subject_line=words["subject"].format(subject=subject),
        body_html=body,
        page_label=words["page"],
        legal_line=company["legal_mention"],
    )


def sample_recipient_and_invoices(on: dt.date) -> tuple[Recipient, list[InvoiceLine]]:
    """Return a fictitious customer with one old and one recent overdue invoice.

    The sample claims no stored invoice, so a preview mentions the sample reminder
    of ``sample_reminders`` only.
    """
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


def sample_reminders(on: dt.date) -> list[EarlierReminder]:
    """Return one first reminder sent 30 days before ``on``, for previews."""
    return [
        EarlierReminder(
            sent_on=on - dt.timedelta(days=30),
            level_name="Première relance",
            template_key="first_reminder",
            letter_id=0,
        )
    ]


def preview_template(
    subject: str, body: str, language: str, on: dt.date
) -> RenderedLetter:
    """Render a template text for the sample customer, PDF included, storing nothing."""
    recipient, invoices = sample_recipient_and_invoices(on)
    return render_letter(
        subject,
        body,
        recipient,
        invoices,
        on,
        language,
        with_pdf=True,
        reminders=sample_reminders(on),
    )
