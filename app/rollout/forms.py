"""Forms of the rollout pages. Every change requires a reason, kept in the audit log."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from app.rollout.plan import NAME_PATTERN
from app.rollout.services import MAX_REASON_LENGTH

USER = "user"
TEAM = "team"
PULL = "pull"
RELEASE = "release"


def _reason_field() -> TextAreaField:
    return TextAreaField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=MAX_REASON_LENGTH)],
        description=_l("Kept in the audit log with your name and the time."),
    )


class KillSwitchForm(FlaskForm):
    """Pull or release a kill switch.

    ``action`` is the change the page offered, so a request sent after someone else
    changed the switch is rejected instead of undoing their change.
    """

    action = HiddenField(validators=[AnyOf((PULL, RELEASE))])
    reason = _reason_field()


class OverrideForm(FlaskForm):
    target = RadioField(
        _l("Applies to"),
        choices=[
            SelectChoice(USER, _l("One user")),
            SelectChoice(TEAM, _l("One team")),
        ],
        default=USER,
        validators=[DataRequired()],
    )
    user_email = EmailField(
        _l("User's email"), validators=[Optional(), Length(max=254)]
    )
    team = SelectField(_l("Team"), choices=[], validators=[Optional()])
    state = RadioField(
        _l("Feature"),
        choices=[
            SelectChoice("on", _l("Forced on")),
            SelectChoice("off", _l("Forced off")),
        ],
        default="on",
        validators=[DataRequired()],
    )
    reason = _reason_field()
    submit = SubmitField(_l("Save override"))

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.target.data == USER and not self.user_email.data:
            self.user_email.errors.append(_l("Enter the user's email."))
            return False
        if self.target.data == TEAM and not self.team.data:
            self.team.errors.append(_l("Choose a team."))
            return False
        return True


class RemoveOverrideForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField(_l("Remove override"))


class RevokePassForm(FlaskForm):
    """Revoke one module pass; the form carries only the CSRF token."""

    submit = SubmitField(_l("Revoke"))


class ModulePassForm(FlaskForm):
    user_email = EmailField(
        _l("User's email"), validators=[DataRequired(), Length(max=254)]
    )
    module_id = StringField(
        _l("Module id"),
        validators=[
            DataRequired(),
            Length(max=100),
            Regexp(
                NAME_PATTERN.pattern,
                message=_l("Use letters, digits, '-', '_' or '.'."),
            ),
        ],
    )
    submit = SubmitField(_l("Mark as passed"))
