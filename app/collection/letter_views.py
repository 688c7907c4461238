"""Pages of letters: writing one for a customer, serving sent letters exactly as
stored, and editing the letter templates.

Collectors write letters for their team's customers, except formal notices, which
need a manager or an admin. Managers and admins edit the templates.
"""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.utils import secure_filename
from wtforms import SelectChoice

from app.auth.permissions import ledger_access_required
from app.collection import letter_render, letter_template_store, letters
from app.collection.account import new_submission_key
from app.collection.creditor import creditor_status
from app.collection.dunning_forms import (
    LANGUAGE_LABELS,
    ConfirmForm,
    LetterForm,
    NewTemplateForm,
    TemplateForm,
)
from app.collection.dunning_views import bp, letter_document_response, manager_required
from app.collection.letter_render import LetterError, LetterTemplateError
from app.collection.models import Letter
from app.extensions import db
from app.ledger.models import Customer
from app.ledger.services import get_customer_for, scope_customers
from app.rollout.flags import feature_required
from app.templating import money, short_date
from app.timeutil import business_today


@bp.route("/customers/<int:customer_id>/letters", methods=["GET", "POST"])
@ledger_access_required
@feature_required("letters")
def customer_letters(customer_id: int):
    """List the letters sent to a customer and write a new one as PDF."""
    customer = get_customer_for(current_user, customer_id)
    form = _letter_form(customer)
    if form.validate_on_submit():
        try:
            letter = letters.send_letter(
                customer,
                form.template_key.data,
                form.language.data,
                form.invoices.data,
                current_user,
                business_today(),
                submission_key=form.submission_key.data,
            )
        except letters.LetterAlreadyStored as stored:
            db.session.rollback()
            flash(str(stored), "info")
            return redirect(
                url_for(
                    "dunning.customer_letters",
                    customer_id=customer_id,
                    sent=stored.letter.id,
                )
            )
        except LetterError as error:
            db.session.rollback()
            flash(_("The letter was not sent: %(error)s", error=str(error)), "error")
        else:
            flash(
                _("Letter stored as sent: %(subject)s", subject=letter.subject), "info"
            )
            return redirect(
                url_for(
                    "dunning.customer_letters", customer_id=customer_id, sent=letter.id
                )
            )
    if form.submission_key.errors:
        # A form without its one-time key (an old page): show why, with a new key.
        flash(str(form.submission_key.errors[0]), "error")
        form.submission_key.data = new_submission_key()
    sent = db.session.scalars(
        select(Letter)
        .where(Letter.customer_id == customer.id)
        .order_by(Letter.id.desc())
    ).all()
    return render_template(
        "collection/letter_customer.html",
        customer=customer,
        letters=sent,
        form=form,
        just_sent=request.args.get("sent", type=int),
        creditor_status=creditor_status(),
    )


@bp.route("/customers/<int:customer_id>/letters/preview")
@ledger_access_required
@feature_required("letters")
def preview_customer_letter(customer_id: int):
    """Show the letter as it would be written today for all claimable invoices."""
    customer = get_customer_for(current_user, customer_id)
    key = request.args.get("template_key", "")
    language = request.args.get("language", "fr")
    try:
        rendered = letters.preview_customer_letter(
            customer, key, language, business_today()
        )
    except LetterError as error:
        flash(_("The letter cannot be previewed: %(error)s", error=str(error)), "error")
        return redirect(url_for("dunning.customer_letters", customer_id=customer_id))
    return letter_document_response(rendered.html)


def _letter_form(customer: Customer) -> LetterForm:
    form = LetterForm()
    keys = letter_template_store.template_keys()
    if current_user.role not in letters.FORMAL_NOTICE_ROLES:
        keys = [key for key in keys if key != letter_template_store.FORMAL_NOTICE_KEY]
    form.template_key.choices = [
        SelectChoice(key, letter_template_store.template_label(key)) for key in keys
    ]
    today = business_today()
    claimable = letters.claimable_invoices(customer)
    form.invoices.choices = [
        SelectChoice(
            invoice.id,
            _(
                "%(number)s, due %(due)s, %(amount)s open",
                number=invoice.number,
                due=short_date(invoice.due_date),
                amount=money(invoice.open_amount, invoice.currency),
            ),
        )
        for invoice in claimable
    ]
    if not form.is_submitted():
        form.submission_key.data = new_submission_key()
    if not form.is_submitted():
        form.invoices.data = [i.id for i in claimable if i.due_date < today]
        if "first_reminder" in keys:
            form.template_key.data = "first_reminder"
    return form


@bp.route("/letters/<int:letter_id>")
@ledger_access_required
@feature_required("letters")
def letter_html(letter_id: int):
    """Serve a sent letter's HTML exactly as stored."""
    return letter_document_response(_letter_for(letter_id).html)


@bp.route("/letters/<int:letter_id>/pdf")
@ledger_access_required
@feature_required("letters")
def letter_pdf(letter_id: int):
    """Send a sent letter's PDF exactly as stored, or 404 for an email, which has none."""
    record = _letter_for(letter_id)
    if record.pdf is None:
        abort(404)
    name = secure_filename(
        f"{record.customer.reference}-{record.template_key}-{record.id}.pdf"
    )
    return send_file(
        io.BytesIO(record.pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=name,
    )


def _letter_for(letter_id: int) -> Letter:
    query = scope_customers(
        select(Letter)
        .join(Customer, Letter.customer_id == Customer.id)
        .where(Letter.id == letter_id),
        current_user,
    )
    record = db.session.scalar(query)
    if record is None:
        abort(404)
    return record


# --- Letter templates -------------------------------------------------------


@bp.route("/letter-templates", methods=["GET", "POST"])
@manager_required
@feature_required("letters")
def letter_templates():
    """List the templates per language and create a new template key."""
    form = NewTemplateForm()
    if form.validate_on_submit():
        key = form.key.data.strip()
        try:
            letter_template_store.create_letter_template(key, current_user)
        except LetterError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Template created from the first reminder. Edit its text."), "info")
            return redirect(url_for("dunning.letter_template", key=key, language="fr"))
    rows = [
        (
            key,
            [
                (language, letter_template_store.find_template(key, language))
                for language in LANGUAGE_LABELS
            ],
        )
        for key in letter_template_store.template_keys()
    ]
    return render_template(
        "collection/letter_templates.html",
        rows=rows,
        form=form,
        creditor_status=creditor_status(),
    )


@bp.route("/letter-templates/<key>/<language>", methods=["GET", "POST"])
@manager_required
@feature_required("letters")
def letter_template(key: str, language: str):
    """Edit a template, preview it on a sample customer, and save it."""
    if (
        language not in LANGUAGE_LABELS
        or key not in letter_template_store.template_keys()
    ):
        abort(404)
    current = letter_template_store.find_template(key, language)
    form = TemplateForm(obj=current if request.method == "GET" else None)
    preview = None
    error = None
    if form.validate_on_submit():
        try:
            if form.save.data:
                letter_template_store.save_letter_template(
                    key,
                    language,
                    form.subject.data,
                    form.body.data,
                    current_user,
                    business_today(),
                )
                flash(_("Template saved. Letters sent from now on use it."), "info")
                return redirect(
                    url_for("dunning.letter_template", key=key, language=language)
                )
            preview = letter_render.preview_template(
                form.subject.data, form.body.data, language, business_today()
            )
            if form.preview_pdf.data:
                return send_file(
                    io.BytesIO(preview.pdf),
                    mimetype="application/pdf",
                    download_name=f"{key}-{language}-preview.pdf",
                )
        except LetterTemplateError as failure:
            db.session.rollback()
            error = _template_error_message(failure)
        except LetterError as failure:
            db.session.rollback()
            error = str(failure)
    return render_template(
        "collection/letter_template_form.html",
        creditor_status=creditor_status(),
        key=key,
        language=language,
        form=form,
        preview=preview,
        # The body passed the letter markup check, which admits no script, style,
        # link or event attribute, and every variable in it was escaped.
        preview_body=Markup(preview.body_html) if preview else None,
        error=error,
        has_default=letter_template_store.read_default_template(key, language)
        is not None,
        confirm_form=ConfirmForm(),
    )


@bp.post("/letter-templates/<key>/<language>/restore")
@manager_required
@feature_required("letters")
def restore_letter_template(key: str, language: str):
    if language not in LANGUAGE_LABELS:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            letter_template_store.restore_default_template(key, language, current_user)
        except LetterError as error:
            flash(str(error), "error")
        else:
            flash(_("The default text is back."), "info")
    return redirect(url_for("dunning.letter_template", key=key, language=language))


def _template_error_message(failure: LetterTemplateError) -> str:
    if failure.field == "subject":
        return _("The subject cannot be rendered: %(detail)s", detail=failure.detail)
    return _("The body cannot be rendered: %(detail)s", detail=failure.detail)
