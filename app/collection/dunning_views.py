"""Pages of dunning runs and actions, policies and a customer's dunning.

Collectors see and carry out their team's actions. Managers and admins also run
dunning, approve or cancel actions, edit policies and assign them to customers.
The letter pages of the same blueprint are in ``letter_views``.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from app.auth.models import Role
from app.auth.permissions import ledger_access_required, role_required
from app.collection import (
    dunning,
    dunning_policies,
    dunning_progress,
    letter_render,
    letter_template_store,
    letters,
)
from app.collection.dunning_forms import (
    LANGUAGE_LABELS,
    AssignPolicyForm,
    ConfirmForm,
    ExecuteForm,
    LevelForm,
    NewPolicyForm,
    PolicyForm,
    RunForm,
)
from app.collection.dunning_policies import CHANNEL_LABELS, DunningError, LevelSpec
from app.collection.letter_render import LetterError
from app.collection.models import (
    DunningAction,
    DunningActionStatus,
    DunningChannel,
    DunningLevel,
    DunningPolicy,
    Letter,
)
from app.extensions import db
from app.ledger.models import Customer
from app.ledger.services import get_customer_for
from app.rollout.flags import feature_required
from app.timeutil import business_today

bp = Blueprint("dunning", __name__)
logger = logging.getLogger(__name__)

manager_required = role_required(Role.ADMIN, Role.MANAGER)
ACTIONS_PER_PAGE = 100
STATUS_FILTERS = {
    "open": dunning.OPEN_STATUSES,
    "pending_approval": (DunningActionStatus.PENDING_APPROVAL,),
    "ready": (DunningActionStatus.READY,),
    "done": (DunningActionStatus.DONE,),
    "cancelled": (DunningActionStatus.CANCELLED,),
    "all": None,
}
# A stored letter is served as a standalone document that may use inline styles
# and nothing else, so no script runs even if a template let one through.
LETTER_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@bp.context_processor
def inject_labels() -> dict:
    return {
        "channel_labels": CHANNEL_LABELS,
        "language_labels": LANGUAGE_LABELS,
        "template_label": letter_template_store.template_label,
        "is_manager": current_user.is_authenticated
        and current_user.role in letters.FORMAL_NOTICE_ROLES,
    }


def letter_document_response(html: str):
    """Serve a letter document under a policy that allows inline styles only."""
    response = make_response(html)
    response.headers["Content-Security-Policy"] = LETTER_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- Runs and actions ------------------------------------------------------


@bp.route("/dunning")
@ledger_access_required
@feature_required("dunning")
def actions():
    """List the dunning actions the user may see, open ones first by default."""
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        status = "open"
    page = max(request.args.get("page", 1, type=int), 1)
    query = dunning.scoped_actions(current_user, STATUS_FILTERS[status])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.limit(ACTIONS_PER_PAGE).offset((page - 1) * ACTIONS_PER_PAGE)
    ).all()
    run_form = RunForm(on=business_today())
    return render_template(
        "collection/dunning_actions.html",
        actions=rows,
        total=total,
        page=page,
        pages=max((total + ACTIONS_PER_PAGE - 1) // ACTIONS_PER_PAGE, 1),
        status=status,
        statuses=list(STATUS_FILTERS),
        run_form=run_form,
    )


@bp.post("/dunning/run")
@manager_required
@feature_required("dunning")
def run():
    """Run dunning for a date, or show what a dry run would create."""
    form = RunForm()
    if not form.validate_on_submit():
        flash(_("Enter the run date as a valid date."), "error")
        return redirect(url_for("dunning.actions"))
    try:
        result = dunning.run_dunning(
            form.on.data, dry_run=form.dry_run.data, actor_label=current_user.email
        )
    except DunningError as error:
        db.session.rollback()
        logger.info(
            "dunning run for %s by %s rejected: %s",
            form.on.data,
            current_user.email,
            error,
        )
        flash(str(error), "error")
        return redirect(url_for("dunning.actions"))
    return render_template("collection/dunning_run.html", result=result)


@bp.route("/dunning/actions/<int:action_id>")
@ledger_access_required
@feature_required("dunning")
def action(action_id: int):
    """Show an action, its invoices and letters, and what the user may do with it."""
    record = dunning.get_action_for(current_user, action_id)
    return render_template(
        "collection/dunning_action.html",
        action=record,
        letters=dunning.action_letters(record),
        execute_form=_execute_form(record),
        confirm_form=ConfirmForm(),
        writes_letter=record.channel in dunning.LETTER_CHANNELS,
    )


@bp.post("/dunning/actions/<int:action_id>/approve")
@manager_required
@feature_required("dunning")
def approve(action_id: int):
    record = dunning.get_action_for(current_user, action_id)
    if ConfirmForm().validate_on_submit():
        try:
            dunning.approve_action(record, current_user)
            flash(_("Formal notice approved. It is ready to send."), "info")
        except DunningError as error:
            flash(str(error), "error")
    return redirect(url_for("dunning.action", action_id=action_id))


@bp.post("/dunning/actions/<int:action_id>/cancel")
@manager_required
@feature_required("dunning")
def cancel(action_id: int):
    record = dunning.get_action_for(current_user, action_id)
    if ConfirmForm().validate_on_submit():
        try:
            dunning.cancel_action(record, current_user)
            flash(_("Action cancelled."), "info")
        except DunningError as error:
            flash(str(error), "error")
    return redirect(url_for("dunning.action", action_id=action_id))


@bp.post("/dunning/actions/<int:action_id>/execute")
@ledger_access_required
@feature_required("dunning")
def execute(action_id: int):
    """Carry out a ready action: write its letter or log its call, then mark it done."""
    record = dunning.get_action_for(current_user, action_id)
    form = _execute_form(record)
    if not form.validate_on_submit():
        flash(_("Choose the language of the letter."), "error")
        return redirect(url_for("dunning.action", action_id=action_id))
    try:
        letter = dunning.execute_action(
            record, current_user, form.language.data, business_today()
        )
    except (DunningError, LetterError) as error:
        db.session.rollback()
        flash(_("The action was not done: %(error)s", error=str(error)), "error")
        return redirect(url_for("dunning.action", action_id=action_id))
    if letter is None:
        flash(_("Action marked as done."), "info")
    elif record.channel == DunningChannel.EMAIL:
        flash(
            _(
                "Email written and stored: %(subject)s. Cadence sends no email: "
                "copy it into your mailbox and send it to the customer.",
                subject=letter.subject,
            ),
            "info",
        )
    else:
        flash(
            _(
                "Letter written and stored: %(subject)s. Print its PDF and post it "
                "to the customer.",
                subject=letter.subject,
            ),
            "info",
        )
    return redirect(url_for("dunning.action", action_id=action_id))


@bp.route("/dunning/actions/<int:action_id>/preview")
@ledger_access_required
@feature_required("dunning")
def preview_action(action_id: int):
    """Show the letter an action would send today, storing nothing."""
    record = dunning.get_action_for(current_user, action_id)
    language = request.args.get("language", "fr")
    if record.channel not in dunning.LETTER_CHANNELS or language not in LANGUAGE_LABELS:
        abort(404)
    covered = {invoice.id for invoice in record.invoices}
    invoices = [
        i for i in letters.claimable_invoices(record.customer) if i.id in covered
    ]
    try:
        rendered = letter_render.render_letter(
            *_template_text(record.level.template_key, language),
            letter_render.recipient_of(record.customer),
            [letter_render.invoice_line(invoice) for invoice in invoices],
            business_today(),
            language,
            with_pdf=False,
        )
    except LetterError as error:
        flash(_("The letter cannot be previewed: %(error)s", error=str(error)), "error")
        return redirect(url_for("dunning.action", action_id=action_id))
    return letter_document_response(rendered.html)


def _execute_form(record: DunningAction) -> ExecuteForm:
    form = ExecuteForm()
    if record.channel == DunningChannel.CALL:
        form.submit.label.text = _("Mark the call as done")
    elif record.channel == DunningChannel.EMAIL:
        form.submit.label.text = _("Record the email as sent")
    else:
        form.submit.label.text = _("Send the letter")
    return form


def _template_text(key: str, language: str) -> tuple[str, str]:
    template = letter_template_store.find_template(key, language)
    if template is None:
        raise LetterError(
            _(
                "There is no letter template %(key)s in language %(language)s.",
                key=key,
                language=language,
            )
        )
    return template.subject, template.body


# --- Policies --------------------------------------------------------------


@bp.route("/dunning/policies", methods=["GET", "POST"])
@manager_required
@feature_required("dunning")
def policies():
    """List the policies and create a new one."""
    form = NewPolicyForm()
    if form.validate_on_submit():
        try:
            policy = dunning_policies.create_policy(
                form.name.data, form.description.data or "", current_user
            )
        except DunningError as error:
            flash(str(error), "error")
        else:
            flash(_("Policy created. Add its levels."), "info")
            return redirect(url_for("dunning.policy", policy_id=policy.id))
    if not db.session.scalar(select(func.count(DunningPolicy.id))):
        # First visit: show the standard policy the first run would create anyway.
        dunning_policies.ensure_default_policy()
        db.session.commit()
    return render_template(
        "collection/dunning_policies.html",
        policies=dunning_policies.list_policies(),
        form=form,
    )


@bp.route("/dunning/policies/<int:policy_id>", methods=["GET", "POST"])
@manager_required
@feature_required("dunning")
def policy(policy_id: int):
    """Show a policy's levels and edit its name, description and default flag."""
    record = db.get_or_404(DunningPolicy, policy_id)
    form = PolicyForm(obj=record if request.method == "GET" else None)
    if request.method == "GET":
        form.make_default.data = record.is_default
    if form.validate_on_submit():
        try:
            dunning_policies.update_policy(
                record,
                form.name.data,
                form.description.data or "",
                form.make_default.data,
                current_user,
            )
        except DunningError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Policy saved."), "info")
            return redirect(url_for("dunning.policy", policy_id=policy_id))
    return render_template(
        "collection/dunning_policy.html",
        policy=record,
        form=form,
        level_form=_level_form(),
        confirm_form=ConfirmForm(),
    )


@bp.post("/dunning/policies/<int:policy_id>/delete")
@manager_required
@feature_required("dunning")
def delete_policy(policy_id: int):
    record = db.get_or_404(DunningPolicy, policy_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("dunning.policy", policy_id=policy_id))
    try:
        dunning_policies.delete_policy(record, current_user)
    except DunningError as error:
        flash(str(error), "error")
        return redirect(url_for("dunning.policy", policy_id=policy_id))
    flash(_("Policy deleted."), "info")
    return redirect(url_for("dunning.policies"))


@bp.post("/dunning/policies/<int:policy_id>/levels")
@manager_required
@feature_required("dunning")
def add_level(policy_id: int):
    record = db.get_or_404(DunningPolicy, policy_id)
    form = _level_form()
    if form.validate_on_submit():
        try:
            dunning_policies.add_level(record, _level_spec(form), current_user)
        except DunningError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Level added."), "info")
            return redirect(url_for("dunning.policy", policy_id=policy_id))
    return render_template(
        "collection/dunning_policy.html",
        policy=record,
        form=PolicyForm(obj=record),
        level_form=form,
        confirm_form=ConfirmForm(),
    )


@bp.route(
    "/dunning/policies/<int:policy_id>/levels/<int:level_id>", methods=["GET", "POST"]
)
@manager_required
@feature_required("dunning")
def level(policy_id: int, level_id: int):
    """Edit one level of a policy."""
    record = _level_of(policy_id, level_id)
    form = _level_form(record if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            dunning_policies.update_level(record, _level_spec(form), current_user)
        except DunningError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Level saved."), "info")
            return redirect(url_for("dunning.policy", policy_id=policy_id))
    return render_template(
        "collection/dunning_level.html",
        level=record,
        level_form=form,
        confirm_form=ConfirmForm(),
    )


@bp.post("/dunning/policies/<int:policy_id>/levels/<int:level_id>/delete")
@manager_required
@feature_required("dunning")
def delete_level(policy_id: int, level_id: int):
    record = _level_of(policy_id, level_id)
    if ConfirmForm().validate_on_submit():
        try:
            dunning_policies.delete_level(record, current_user)
        except DunningError as error:
            flash(str(error), "error")
            return redirect(
                url_for("dunning.level", policy_id=policy_id, level_id=level_id)
            )
        flash(_("Level deleted."), "info")
    return redirect(url_for("dunning.policy", policy_id=policy_id))


def _level_of(policy_id: int, level_id: int) -> DunningLevel:
    record = db.get_or_404(DunningLevel, level_id)
    if record.policy_id != policy_id:
        abort(404)
    return record


def _level_form(record: DunningLevel | None = None) -> LevelForm:
    form = LevelForm(obj=record)
    form.template_key.choices = [SelectChoice("", _("None (call task)"))] + [
        SelectChoice(key, letter_template_store.template_label(key))
        for key in letter_template_store.template_keys()
    ]
    return form


def _level_spec(form: LevelForm) -> LevelSpec:
    return LevelSpec(
        name=form.name.data,
        days_from_due=form.days_from_due.data,
        channel=form.channel.data,
        template_key=form.template_key.data or "",
        min_amount=form.min_amount.data,
    )


# --- A customer's dunning and letters ---------------------------------------


@bp.route("/customers/<int:customer_id>/dunning")
@ledger_access_required
@feature_required("dunning")
def customer_dunning(customer_id: int):
    """Show the customer's policy, its assignment form for managers, and actions."""
    customer = get_customer_for(current_user, customer_id)
    history = db.session.scalars(
        dunning.scoped_actions(current_user, None).where(
            DunningAction.customer_id == customer.id
        )
    ).all()
    policy = dunning_policies.policy_of(customer)
    return render_template(
        "collection/dunning_customer.html",
        customer=customer,
        policy=policy,
        progress=dunning_progress.customer_progress(customer, policy, business_today()),
        actions=history,
        action_letters=_letters_by_action(history),
        assign_form=_assign_form(customer),
    )


def _letters_by_action(actions: list[DunningAction]) -> dict[int, list[Letter]]:
    letters_of: dict[int, list[Letter]] = {}
    if not actions:
        return letters_of
    rows = db.session.scalars(
        select(Letter)
        .where(Letter.action_id.in_([action.id for action in actions]))
        .order_by(Letter.id)
    )
    for letter in rows:
        letters_of.setdefault(letter.action_id, []).append(letter)
    return letters_of


@bp.post("/customers/<int:customer_id>/dunning/policy")
@manager_required
@feature_required("dunning")
def assign_policy(customer_id: int):
    customer = get_customer_for(current_user, customer_id)
    form = _assign_form(customer)
    if form.validate_on_submit():
        chosen = None
        if form.policy_id.data:
            chosen = db.get_or_404(DunningPolicy, form.policy_id.data)
        dunning_policies.assign_policy(customer, chosen, current_user)
        flash(_("Dunning policy assigned."), "info")
    else:
        flash(_("Choose a policy from the list."), "error")
    return redirect(url_for("dunning.customer_dunning", customer_id=customer_id))


def _assign_form(customer: Customer) -> AssignPolicyForm:
    form = AssignPolicyForm()
    if request.method == "GET":
        form.policy_id.data = customer.dunning_policy_id or 0
    form.policy_id.choices = [SelectChoice(0, _("The default policy"))] + [
        SelectChoice(policy.id, policy.name)
        for policy, _count in dunning_policies.list_policies()
    ]
    return form


# The letter routes register themselves on ``bp`` when imported, and they import
# ``bp`` from here, so this import comes last.
from app.collection import letter_views  # noqa: E402, F401
