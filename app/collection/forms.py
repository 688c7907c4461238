"""Forms of the customer page (activities, promises, disputes, payments) and of
portfolio assignment.

Each customer-page form has its own prefix, so its field ids stay unique on a page
that shows all of them. Choices that depend on the customer are set by the caller.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget, TextInput

from app.collection.labels import (
    ACTIVITY_KIND_LABELS,
    DISPUTE_REASON_LABELS,
    OUTCOME_LABELS,
    PAYMENT_KIND_LABELS,
)
from app.collection.services import (
    COLLECTOR_DISPUTE_REASONS,
    MANUAL_ACTIVITY_KINDS,
    MAX_REFERENCE_LENGTH,
    MAX_TEXT_LENGTH,
    RECORDABLE_PAYMENT_KINDS,
    SUBMISSION_KEY_PATTERN,
    AllocationMode,
)

# An amount as French and English users type or paste it: digits, optionally
# grouped by three with a space, no-break space or narrow no-break space, then a
# decimal point or comma. No exponent, no stray separator: "1 04,52" is a typo.
_AMOUNT = re.compile(
    r"[+-]?(?:\d+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:[.,]\d+)?"
)
_GROUP_SEPARATORS = re.compile("[ \u00a0\u202f]")


class MoneyField(DecimalField):
    """Amount typed as 1250.00, 1250,00 or 1 250,00, kept as an exact Decimal."""

    # A number input rejects the spaces of "1 250,00", and in some browsers the comma.
    widget = TextInput()

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        typed = valuelist[0].strip()
        if "," in typed and "." in typed:
            self.data = None
            raise ValueError(
                _l("Write the amount with one decimal separator, such as 1250.00.")
            )
        if not _AMOUNT.fullmatch(typed):
            self.data = None
            raise ValueError(_l("Enter an amount such as 1250.00."))
        text = _GROUP_SEPARATORS.sub("", typed)
        try:
            self.data = Decimal(text.replace(",", "."))
        except InvalidOperation:
            self.data = None
            raise ValueError(_l("Enter an amount such as 1250.00.")) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choices(labels: dict, codes) -> list[SelectChoice]:
    return [SelectChoice(code.value, labels[code]) for code in codes]


class ActivityForm(FlaskForm):
    kind = SelectField(
        _l("Kind"), choices=_choices(ACTIVITY_KIND_LABELS, MANUAL_ACTIVITY_KINDS)
    )
    outcome = SelectField(_l("Outcome"), validators=[Optional()])
    summary = TextAreaField(
        _l("Summary"), validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)]
    )
    submit = SubmitField(_l("Log activity"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "activity")
        super().__init__(*args, **kwargs)
        self.outcome.choices = [SelectChoice("", _l("Not recorded"))] + [
            SelectChoice(code.value, label) for code, label in OUTCOME_LABELS.items()
        ]


class PromiseForm(FlaskForm):
    amount = MoneyField(_l("Amount"), validators=[InputRequired()])
    promised_date = DateField(_l("Promised date"), validators=[InputRequired()])
    invoice_ids = MultiCheckboxField(_l("Invoices"), coerce=int, validate_choice=True)
    note = TextAreaField(_l("Note"), validators=[Length(max=MAX_TEXT_LENGTH)])
    submit = SubmitField(_l("Record promise"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "promise")
        super().__init__(*args, **kwargs)


class CancelPromiseForm(FlaskForm):
    submit = SubmitField(_l("Cancel promise"))


class DisputeForm(FlaskForm):
    invoice_id = SelectField(_l("Invoice"), coerce=int)
    reason = SelectField(
        _l("Reason"),
        choices=_choices(DISPUTE_REASON_LABELS, COLLECTOR_DISPUTE_REASONS),
    )
    owner_id = SelectField(_l("Owner"), coerce=int)
    note = TextAreaField(_l("Note"), validators=[Length(max=MAX_TEXT_LENGTH)])
    submit = SubmitField(_l("Open dispute"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "dispute")
        super().__init__(*args, **kwargs)


class ResolveDisputeForm(FlaskForm):
    resolution = TextAreaField(
        _l("Resolution"), validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)]
    )
    submit = SubmitField(_l("Resolve"))


class AllocationLineForm(Form):
    """One open invoice of the payment form and the amount to allocate to it."""

    invoice_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    amount = MoneyField(_l("Allocate"), validators=[Optional()])


def _entered_lines(allocations: FieldList) -> list[tuple[int, Decimal]]:
    """Return the (invoice id, amount) lines of an allocation table that have an
    amount."""
    return [
        (line.invoice_id.data, line.amount.data)
        for line in allocations
        if line.amount.data is not None
    ]


# Shown when the one-time key is missing or malformed, for example when a page
# rendered before an upgrade is sent.
INCOMPLETE_FORM_MESSAGE = _l(
    "This form is incomplete. Reload the page and enter the payment again."
)


class PaymentForm(FlaskForm):
    """A payment or credit note with its allocation.

    ``submission_key`` is a one-time key set when the form is rendered, so that
    sending the same form twice records one payment.
    """

    kind = SelectField(
        _l("Kind"), choices=_choices(PAYMENT_KIND_LABELS, RECORDABLE_PAYMENT_KINDS)
    )
    received_on = DateField(_l("Received on"), validators=[InputRequired()])
    amount = MoneyField(_l("Amount"), validators=[InputRequired()])
    reference = StringField(
        _l("Reference"), validators=[Length(max=MAX_REFERENCE_LENGTH)]
    )
    allocation = SelectField(
        _l("Allocation"),
        choices=[
            SelectChoice(AllocationMode.OLDEST_FIRST.value, _l("Oldest due first")),
            SelectChoice(AllocationMode.CHOSEN.value, _l("To the invoices below")),
            SelectChoice(
                AllocationMode.UNALLOCATED.value, _l("Keep as unallocated cash")
            ),
        ],
    )
    allocations = FieldList(FormField(AllocationLineForm))
    submission_key = HiddenField(
        validators=[
            InputRequired(INCOMPLETE_FORM_MESSAGE),
            Regexp(SUBMISSION_KEY_PATTERN, message=INCOMPLETE_FORM_MESSAGE),
        ]
    )
    confirm_similar = BooleanField(_l("This is another payment. Record it as well."))
    submit = SubmitField(_l("Record payment"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "payment")
        super().__init__(*args, **kwargs)

    def chosen_lines(self) -> list[tuple[int, Decimal]]:
        """Return the (invoice id, amount) lines that have an amount."""
        return _entered_lines(self.allocations)

    def validate_allocation(self, field):
        if field.data != AllocationMode.CHOSEN and self.chosen_lines():
            raise ValidationError(
                _l(
                    "Choose the allocation to the invoices below, or clear the "
                    "amounts entered for them."
                )
            )


class ApplyCashForm(FlaskForm):
    """Unallocated cash of an account to apply to its open invoices.

    ``expected_unallocated`` is the unallocated total the page showed. The service
    applies nothing when the total changed since, so the same form sent twice
    applies the cash once.
    """

    allocation = SelectField(
        _l("Apply to"),
        choices=[
            SelectChoice(AllocationMode.OLDEST_FIRST.value, _l("Oldest due first")),
            SelectChoice(AllocationMode.CHOSEN.value, _l("The invoices below")),
        ],
    )
    amount = MoneyField(_l("Amount to apply"), validators=[Optional()])
    allocations = FieldList(FormField(AllocationLineForm))
    expected_unallocated = MoneyField(
        widget=HiddenInput(), validators=[InputRequired()]
    )
    submit = SubmitField(_l("Apply to invoices"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "apply")
        super().__init__(*args, **kwargs)

    def chosen_lines(self) -> list[tuple[int, Decimal]]:
        """Return the (invoice id, amount) lines that have an amount."""
        return _entered_lines(self.allocations)

    def validate_allocation(self, field):
        if field.data == AllocationMode.CHOSEN and self.amount.data is not None:
            raise ValidationError(
                _l(
                    "Enter an amount for each chosen invoice below, and leave the "
                    "amount to apply empty."
                )
            )
        if field.data != AllocationMode.CHOSEN and self.chosen_lines():
            raise ValidationError(
                _l(
                    "Choose to apply the cash to the invoices below, or clear the "
                    "amounts entered for them."
                )
            )


def _optional_int(value) -> int | None:
    if value in ("", None):
        return None
    return int(value)


class CollectorForm(FlaskForm):
    """Collector of a customer. The empty choice leaves the customer unassigned."""

    collector_id = SelectField(_l("Collector"), coerce=_optional_int)
    submit = SubmitField(_l("Assign"))

    def set_collectors(self, collectors) -> None:
        self.collector_id.choices = [SelectChoice("", _l("Unassigned"))] + [
            SelectChoice(user.id, user.name) for user in collectors
        ]


class PortfolioForm(CollectorForm):
    """Collector for the customers ticked in a team's portfolio."""

    customer_ids = MultiCheckboxField(_l("Customers"), coerce=int)
