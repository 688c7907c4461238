"""Forms of the dunning, policy, letter and letter template pages.

Choices that depend on the database (templates, policies, invoices) are set by the
view that builds the form.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
)

from app.collection.dunning_policies import (
    CHANNEL_LABELS,
    MAX_DAYS_FROM_DUE,
    MAX_NAME_LENGTH,
    MIN_DAYS_FROM_DUE,
)
from app.collection.forms import MoneyField, MultiCheckboxField
from app.collection.letter_render import LETTER_LANGUAGES, MAX_SUBJECT_LENGTH
from app.collection.models import DunningChannel
from app.collection.services import SUBMISSION_KEY_PATTERN

LANGUAGE_LABELS = {"fr": _l("French"), "en": _l("English")}
INCOMPLETE_LETTER_FORM = _l(
    "This form is incomplete. Reload the page and write the letter again."
)


def language_choices() -> list[SelectChoice]:
    return [SelectChoice(code, LANGUAGE_LABELS[code]) for code in LETTER_LANGUAGES]


class ConfirmForm(FlaskForm):
    """A button that only carries the CSRF token: approve, cancel, delete."""

    submit = SubmitField(_l("Confirm"))


class RunForm(FlaskForm):
    on = DateField(_l("Run date"), validators=[InputRequired()])
    dry_run = BooleanField(_l("Dry run: show the actions without saving them"))
    submit = SubmitField(_l("Run dunning"))


class ExecuteForm(FlaskForm):
    language = SelectField(_l("Letter language"), choices=language_choices)
    submit = SubmitField(_l("Mark as done"))


class PolicyForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)]
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    make_default = BooleanField(_l("Default policy for customers without their own"))
    submit = SubmitField(_l("Save the policy"))


class NewPolicyForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)]
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Create the policy"))


class LevelForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)]
    )
    days_from_due = IntegerField(
        _l("Days from the due date (negative: before it)"),
        validators=[
            InputRequired(),
            NumberRange(min=MIN_DAYS_FROM_DUE, max=MAX_DAYS_FROM_DUE),
        ],
    )
    channel = SelectField(
        _l("Channel"),
        choices=[
            SelectChoice(channel.value, CHANNEL_LABELS[channel])
            for channel in DunningChannel
        ],
    )
    template_key = SelectField(_l("Letter template"), choices=[])
    min_amount = MoneyField(
        _l("Minimum open amount (EUR)"),
        validators=[InputRequired(), NumberRange(min=0)],
    )
    submit = SubmitField(_l("Save the level"))


class AssignPolicyForm(FlaskForm):
    policy_id = SelectField(_l("Dunning policy"), coerce=int, choices=[])
    submit = SubmitField(_l("Assign"))


class LetterForm(FlaskForm):
    """A letter written by hand.

    ``submission_key`` is a one-time key set when the form is rendered, so that
    sending the same form twice stores one letter.
    """

    template_key = SelectField(_l("Letter"), choices=[])
    language = SelectField(_l("Language"), choices=language_choices)
    invoices = MultiCheckboxField(_l("Invoices to claim"), coerce=int, choices=[])
    submission_key = HiddenField(
        validators=[
            InputRequired(INCOMPLETE_LETTER_FORM),
            Regexp(SUBMISSION_KEY_PATTERN, message=INCOMPLETE_LETTER_FORM),
        ]
    )
    submit = SubmitField(_l("Generate the PDF letter"))


class TemplateForm(FlaskForm):
    subject = StringField(
        _l("Subject"), validators=[DataRequired(), Length(max=MAX_SUBJECT_LENGTH)]
    )
    body = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=50_000)])
    preview = SubmitField(_l("Preview"))
    preview_pdf = SubmitField(_l("Preview the PDF"))
    save = SubmitField(_l("Save"))


class NewTemplateForm(FlaskForm):
    key = StringField(
        _l("Template key"), validators=[DataRequired(), Length(min=2, max=64)]
    )
    submit = SubmitField(_l("Create the template"))
