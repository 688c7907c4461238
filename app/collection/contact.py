"""A customer's contact details: the postal address letters are sent to and the
email address, edited by the users who may open the customer's account page.
Managers and admins also set the late-payment rate agreed in the customer's
contract on the same page.

Each change is logged in the account history and audited as
``customer.contact_update`` (or ``customer.contract_rate_update``) with the values
before and after.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.audit import services as audit
from app.auth.models import User
from app.auth.permissions import ledger_access_required
from app.collection.creditor import (
    MAX_ADDRESS_LINE_LENGTH,
    MAX_ADDRESS_LINES,
    is_plausible_email,
)
from app.collection.forms import MoneyField
from app.collection.models import Activity, ActivityKind
from app.collection.views import bp
from app.extensions import db
from app.ledger.models import Customer
from app.ledger.services import get_customer_for
from app.timeutil import business_now

logger = logging.getLogger(__name__)

MAX_EMAIL_LENGTH = 254  # the width of customers.email


def normalise_address(text: str) -> str:
    """Return the address with each line trimmed and blank lines dropped."""
    lines = (line.strip() for line in (text or "").splitlines())
    return "\n".join(line for line in lines if line)


def address_problem(address: str) -> str | None:
    """Return why a normalised address cannot be printed on a letter, or None."""
    lines = address.splitlines()
    if len(lines) > MAX_ADDRESS_LINES:
        return _(
            "The address has %(count)s lines. Use at most %(max)s.",
            count=len(lines),
            max=MAX_ADDRESS_LINES,
        )
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_ADDRESS_LINE_LENGTH:
            return _(
                "Line %(number)s of the address has more than %(max)s characters. "
                "Split it over two lines.",
                number=number,
                max=MAX_ADDRESS_LINE_LENGTH,
            )
    return None


class ContactForm(FlaskForm):
    address = TextAreaField(
        _l("Postal address"),
        validators=[Optional()],
        description=_l(
            "As printed on letters, without the customer's name: street, postcode "
            "and town, and the country outside France. At most 6 lines."
        ),
    )
    email = StringField(
        _l("Email"), validators=[Optional(), Length(max=MAX_EMAIL_LENGTH)]
    )
    submit = SubmitField(_l("Save the contact details"))

    def validate_address(self, field) -> None:
        problem = address_problem(normalise_address(field.data))
        if problem:
            raise ValidationError(problem)

    def validate_email(self, field) -> None:
        if field.data and not is_plausible_email(field.data.strip()):
            raise ValidationError(
                _("Enter an email address such as compta@example.fr.")
            )


def update_contact(
    customer: Customer, address: str, email: str, actor: User
) -> list[str]:
    """Store new contact details, log and audit them, and commit.

    Returns the names of the fields that changed ("address", "email"); nothing
    is written when the list is empty. Callers validate the values first.
    """
    before = {"address": customer.address or "", "email": customer.email or ""}
    after = {"address": normalise_address(address), "email": (email or "").strip()}
    changed = [name for name in ("address", "email") if before[name] != after[name]]
    if not changed:
        return []

    customer.address = after["address"] or None
    customer.email = after["email"] or None
    db.session.add(
        Activity(
            customer_id=customer.id,
            user_id=actor.id,
            kind=ActivityKind.NOTE,
            summary=_history_text(before, after, changed),
            occurred_at=business_now(),
        )
    )
    audit.record(
        "customer.contact_update",
        actor=actor,
        target=f"customer:{customer.id}",
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    db.session.commit()
    logger.info(
        "contact details (%s) of customer %s changed by user %s",
        ", ".join(changed),
        customer.id,
        actor.id,
    )
    return changed


def _history_text(before: dict, after: dict, changed: list[str]) -> str:
    """Describe the change in the language of the person who makes it."""
    sentences = []
    if "address" in changed:
        if after["address"]:
            one_line = ", ".join(after["address"].splitlines())
            sentences.append(_("Postal address set to %(address)s.", address=one_line))
        else:
            sentences.append(_("Postal address removed."))
    if "email" in changed:
        if after["email"]:
            sentences.append(_("Email set to %(email)s.", email=after["email"]))
        else:
            sentences.append(_("Email removed."))
    return " ".join(sentences)


# The width of customers.contract_rate: Numeric(6, 3).
MAX_CONTRACT_RATE = Decimal("100")


class ContractRateForm(FlaskForm):
    contract_rate = MoneyField(
        _l("Contract late-payment rate (% a year)"),
        validators=[
            Optional(),
            NumberRange(
                min=Decimal("0.001"),
                max=MAX_CONTRACT_RATE,
                message=_l("Enter a rate above 0 and at most 100, such as 12.5."),
            ),
        ],
        description=_l(
            "Leave empty for the statutory rate (ECB rate + 10 points). A contract "
            "rate below three times the legal interest rate is raised to that floor "
            "when interest is computed."
        ),
    )
    submit_rate = SubmitField(_l("Save the contract rate"))

    def validate_contract_rate(self, field) -> None:
        if field.data is not None and field.data != field.data.quantize(
            Decimal("0.001")
        ):
            raise ValidationError(_("Give the rate with at most 3 decimals."))


def update_contract_rate(customer: Customer, rate: Decimal | None, actor: User) -> bool:
    """Store the customer's contract rate (None: statutory), log, audit, commit.

    Returns False, writing nothing, when the rate is unchanged.
    """
    before = customer.contract_rate
    if before == rate:
        return False
    customer.contract_rate = rate
    if rate is None:
        summary = _("Contract late-payment rate removed: the statutory rate applies.")
    else:
        summary = _("Contract late-payment rate set to %(rate)s %%.", rate=str(rate))
    db.session.add(
        Activity(
            customer_id=customer.id,
            user_id=actor.id,
            kind=ActivityKind.NOTE,
            summary=summary,
            occurred_at=business_now(),
        )
    )
    audit.record(
        "customer.contract_rate_update",
        actor=actor,
        target=f"customer:{customer.id}",
        before={"contract_rate": None if before is None else str(before)},
        after={"contract_rate": None if rate is None else str(rate)},
    )
    db.session.commit()
    return True


@bp.route(
    "/customers/<int(max=2147483647):customer_id>/contract-rate", methods=["POST"]
)
@ledger_access_required
def customer_contract_rate(customer_id: int):
    """Set the contract late-payment rate of a customer; managers and admins only.

    :raise 404: when the customer is missing or in another team's portfolio.
    :raise 403: for a collector.
    """
    customer = get_customer_for(current_user, customer_id)
    if not current_user.sees_all_portfolios:
        abort(403)
    rate_form = ContractRateForm()
    if rate_form.validate_on_submit():
        if update_contract_rate(customer, rate_form.contract_rate.data, current_user):
            flash(_("Contract rate saved."), "success")
        else:
            flash(_("Nothing changed in the contract rate."), "info")
        return redirect(url_for("collection.customer_contact", customer_id=customer.id))
    form = ContactForm(obj=customer)
    return render_template(
        "collection/contact.html", customer=customer, form=form, rate_form=rate_form
    ), 400


@bp.route(
    "/customers/<int(max=2147483647):customer_id>/contact", methods=["GET", "POST"]
)
@ledger_access_required
def customer_contact(customer_id: int):
    """Edit the postal address and email of a customer in the user's portfolios.

    :raise 404: when the customer is missing or in another team's portfolio.
    """
    customer = get_customer_for(current_user, customer_id)
    form = ContactForm(obj=customer)
    if form.validate_on_submit():
        changed = update_contact(
            customer, form.address.data, form.email.data, current_user
        )
        if changed:
            flash(_("Contact details saved."), "success")
        else:
            flash(_("Nothing changed in the contact details."), "info")
        return redirect(url_for("ledger.customer", customer_id=customer.id))
    status = 400 if form.is_submitted() else 200
    rate_form = None
    if current_user.sees_all_portfolios:
        rate_form = ContractRateForm(
            formdata=None, contract_rate=customer.contract_rate
        )
    return render_template(
        "collection/contact.html", customer=customer, form=form, rate_form=rate_form
    ), status
