"""Collection pages: the worklist, the account actions of the customer page, the
portfolio assignment and the KPI dashboard."""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectChoice

from app.auth.models import Role, Team
from app.auth.permissions import ledger_access_required, role_required
from app.collection import charts, dashboard, portfolio
from app.collection.account import (
    account_context,
    open_invoices_of,
    prepare_dispute_form,
    prepare_promise_form,
    team_collectors,
)
from app.collection.forms import (
    ActivityForm,
    ApplyCashForm,
    CancelPromiseForm,
    CollectorForm,
    DisputeForm,
    PaymentForm,
    PortfolioForm,
    PromiseForm,
    ResolveDisputeForm,
)
from app.collection.labels import (
    ACTIVITY_KIND_LABELS,
    DUNNING_ACTION_STATUS_LABELS,
    DUNNING_CHANNEL_LABELS,
)
from app.collection.legacy_disputes import resolution_text
from app.collection.models import Dispute, DisputeStatus, Promise
from app.collection.promises import dunning_pause, latest_promise_date
from app.collection.services import (
    MANUAL_ACTIVITY_KINDS,
    ActionError,
    AllocationMode,
    DisputeAlreadyResolved,
    PaymentAlreadyRecorded,
    apply_unallocated_cash,
    assign_customers,
    cancel_promise,
    create_promise,
    log_activity,
    open_dispute,
    record_payment,
    refresh_promises,
    resolve_dispute,
)
from app.collection.worklist import (
    AGE_WEIGHT_DAYS,
    BROKEN_PROMISE_DAYS,
    BROKEN_PROMISE_WINDOW_DAYS,
    DUNNING_LEVEL_DAYS,
    today_items,
    worklist_page,
)
from app.extensions import db
from app.ledger.ageing import BUCKET_LABELS, BUCKETS
from app.ledger.services import customer_history, get_customer_for
from app.rollout.flags import feature_required
from app.templating import money
from app.timeutil import business_date_of, business_today

logger = logging.getLogger(__name__)

bp = Blueprint("collection", __name__)

MANAGER_ROLES = (Role.ADMIN, Role.MANAGER)


@bp.app_template_filter("business_date")
def business_date_filter(timestamp):
    """Return the Paris business date of a stored timestamp."""
    return business_date_of(timestamp) if timestamp else None


# For the customer page: the dunning pause of its promises, the promise form's
# latest date, and dispute resolutions as shown.
bp.add_app_template_filter(dunning_pause, "dunning_pause")
bp.add_app_template_global(latest_promise_date, "latest_promise_date")
bp.add_app_template_filter(resolution_text, "dispute_resolution")


# --- Worklist -----------------------------------------------------------------------


@bp.route("/worklist")
@ledger_access_required
@feature_required("worklist")
def worklist():
    """List today's work and the customers with overdue invoices, by priority."""
    today = business_today()
    refresh_promises(today)

    listing = worklist_page(current_user, today, request.args.get("page", 1, type=int))
    return render_template(
        "collection/worklist.html",
        listing=listing,
        rows=listing.rows,
        today_items=today_items(current_user, today),
        buckets=BUCKETS,
        labels=BUCKET_LABELS,
        age_weight_days=AGE_WEIGHT_DAYS,
        broken_promise_days=BROKEN_PROMISE_DAYS,
        broken_promise_window_days=BROKEN_PROMISE_WINDOW_DAYS,
        dunning_level_days=DUNNING_LEVEL_DAYS,
        channel_labels=DUNNING_CHANNEL_LABELS,
        action_status_labels=DUNNING_ACTION_STATUS_LABELS,
        today=today,
    )


# --- Account actions on the customer page -------------------------------------------


def _customer_page(customer, **bound):
    """Render the customer page again with a form that failed, status 400."""
    today = business_today()
    history = customer_history(customer, today)
    context = account_context(customer, current_user, today, **bound)
    page = render_template(
        "ledger/customer.html",
        customer=customer,
        history=history,
        today=today,
        **context,
    )
    return page, 400


def _show_error(form, error: ActionError) -> None:
    """Attach a service error to its form field, or to the form as a whole."""
    logger.info(
        "rejected %s by user %d on %s: %s",
        type(form).__name__,
        current_user.id,
        request.path,
        error,
    )
    field = getattr(form, error.field, None) if error.field else None
    if error.field == "allocations":
        field = form.allocation
    if field is None:
        form.form_errors.append(error.message)
    else:
        field.errors = [*field.errors, error.message]


def _back_to(customer, anchor: str):
    return redirect(url_for("ledger.customer", customer_id=customer.id) + anchor)


@bp.post("/customers/<int:customer_id>/activities")
@ledger_access_required
@feature_required("activities")
def add_activity(customer_id: int):
    """Log a call, email, letter or note on the account."""
    customer = get_customer_for(current_user, customer_id)
    form = ActivityForm()
    if not form.validate_on_submit():
        return _customer_page(customer, activity_form=form)

    try:
        log_activity(
            current_user,
            customer,
            kind=form.kind.data,
            summary=form.summary.data,
            outcome=form.outcome.data or "",
        )
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, activity_form=form)
    flash(_("Activity logged."), "success")
    return _back_to(customer, "#history")


@bp.post("/customers/<int:customer_id>/promises")
@ledger_access_required
@feature_required("promises")
def add_promise(customer_id: int):
    """Record a promise to pay."""
    customer = get_customer_for(current_user, customer_id)
    form = prepare_promise_form(PromiseForm(), open_invoices_of(customer))
    if not form.validate_on_submit():
        return _customer_page(customer, promise_form=form)

    try:
        create_promise(
            current_user,
            customer,
            amount=form.amount.data,
            promised_date=form.promised_date.data,
            invoice_ids=form.invoice_ids.data or [],
            note=form.note.data or "",
        )
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, promise_form=form)
    flash(_("Promise to pay recorded."), "success")
    return _back_to(customer, "#promises")


@bp.post("/customers/<int:customer_id>/promises/<int:promise_id>/cancel")
@ledger_access_required
@feature_required("promises")
def cancel_promise_view(customer_id: int, promise_id: int):
    """Cancel a pending promise."""
    customer = get_customer_for(current_user, customer_id)
    promise = db.session.get(Promise, promise_id)
    if promise is None or promise.customer_id != customer.id:
        abort(404)
    if not CancelPromiseForm().validate_on_submit():
        abort(400)

    try:
        cancel_promise(current_user, promise)
    except ActionError as error:
        logger.info("rejected cancelling promise %d: %s", promise.id, error)
        flash(str(error.message), "error")
        return _back_to(customer, "#promises")
    flash(_("Promise cancelled."), "success")
    return _back_to(customer, "#promises")


@bp.post("/customers/<int:customer_id>/disputes")
@ledger_access_required
@feature_required("disputes")
def add_dispute(customer_id: int):
    """Open a dispute on an invoice."""
    customer = get_customer_for(current_user, customer_id)
    form = prepare_dispute_form(DisputeForm(), customer, open_invoices_of(customer))
    if not form.validate_on_submit():
        return _customer_page(customer, dispute_form=form)

    try:
        open_dispute(
            current_user,
            customer,
            invoice_id=form.invoice_id.data,
            reason=form.reason.data,
            owner_id=form.owner_id.data,
            note=form.note.data or "",
        )
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, dispute_form=form)
    flash(_("Dispute opened. The invoice is left out of dunning."), "success")
    return _back_to(customer, "#disputes")


@bp.post("/customers/<int:customer_id>/disputes/<int:dispute_id>/resolve")
@ledger_access_required
@feature_required("disputes")
def resolve_dispute_view(customer_id: int, dispute_id: int):
    """Resolve an open dispute with a resolution text."""
    customer = get_customer_for(current_user, customer_id)
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None or dispute.customer_id != customer.id:
        abort(404)
    # A second tab, or Back and resend, posts again for a resolved dispute. Its
    # form is no longer on the page, so the account page shows a message instead.
    if dispute.status != DisputeStatus.OPEN:
        return _dispute_already_resolved(customer, DisputeAlreadyResolved(dispute))
    form = ResolveDisputeForm(prefix=f"resolve-{dispute.id}")
    if not form.validate_on_submit():
        return _customer_page(customer, resolve_forms={dispute.id: form})

    try:
        resolve_dispute(current_user, dispute, resolution=form.resolution.data)
    except DisputeAlreadyResolved as error:
        return _dispute_already_resolved(customer, error)
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, resolve_forms={dispute.id: form})
    flash(_("Dispute resolved."), "success")
    return _back_to(customer, "#disputes")


def _dispute_already_resolved(customer, error: DisputeAlreadyResolved):
    logger.info(
        "rejected resolving dispute %d again by user %d: %s",
        error.dispute.id,
        current_user.id,
        error,
    )
    flash(str(error.message), "warning")
    return _back_to(customer, "#disputes")


@bp.post("/customers/<int:customer_id>/payments")
@ledger_access_required
@feature_required("payments")
def add_payment(customer_id: int):
    """Record a payment or credit note and allocate it."""
    customer = get_customer_for(current_user, customer_id)
    form = PaymentForm()
    if not form.validate_on_submit():
        return _customer_page(customer, payment_form=form)

    try:
        record_payment(
            current_user,
            customer,
            kind=form.kind.data,
            received_on=form.received_on.data,
            amount=form.amount.data,
            reference=form.reference.data or "",
            allocation=AllocationMode(form.allocation.data),
            lines=form.chosen_lines(),
            submission_key=form.submission_key.data,
            confirm_similar=form.confirm_similar.data,
        )
    except PaymentAlreadyRecorded as duplicate:
        # After a double click, or Back and send again, the first request recorded
        # the payment. Show the account with a notice rather than an error.
        logger.info(
            "ignored a second submission of payment %d by user %d",
            duplicate.payment.id,
            current_user.id,
        )
        flash(_already_recorded_notice(customer, duplicate), "warning")
        return _back_to(customer, "#history")
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, payment_form=form)
    flash(_("Payment recorded."), "success")
    return _back_to(customer, "#history")


def _already_recorded_notice(customer, duplicate: PaymentAlreadyRecorded) -> Markup:
    """Return the duplicate's message with a link to the account history."""
    link = url_for("ledger.customer", customer_id=customer.id) + "#history"
    return Markup('{} <a href="{}">{}</a>').format(
        str(duplicate.message), link, _("See the account history.")
    )


@bp.post("/customers/<int:customer_id>/unallocated-cash")
@ledger_access_required
@feature_required("payments")
def apply_cash(customer_id: int):
    """Apply the account's unallocated cash to its open invoices."""
    customer = get_customer_for(current_user, customer_id)
    form = ApplyCashForm()
    if not form.validate_on_submit():
        return _customer_page(customer, apply_form=form)

    try:
        allocations = apply_unallocated_cash(
            current_user,
            customer,
            allocation=AllocationMode(form.allocation.data),
            amount=form.amount.data,
            lines=form.chosen_lines(),
            expected_unallocated=form.expected_unallocated.data,
        )
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, apply_form=form)
    total = sum(allocation.amount for allocation in allocations)
    flash(
        _(
            "%(amount)s of unallocated cash applied.",
            amount=money(total, customer.currency),
        ),
        "success",
    )
    return _back_to(customer, "#unallocated")


@bp.post("/customers/<int:customer_id>/collector")
@role_required(*MANAGER_ROLES)
def assign_collector(customer_id: int):
    """Give the customer to a collector of its team, or unassign it."""
    customer = get_customer_for(current_user, customer_id)
    form = CollectorForm()
    form.set_collectors(team_collectors(customer.team_id))
    if not form.validate_on_submit():
        return _customer_page(customer, collector_form=form)

    try:
        assign_customers(current_user, [customer.id], form.collector_id.data)
    except ActionError as error:
        _show_error(form, error)
        return _customer_page(customer, collector_form=form)
    flash(_("Collector updated."), "success")
    return _back_to(customer, "")


# --- Portfolios ---------------------------------------------------------------------


@bp.route("/portfolio", methods=["GET", "POST"])
@role_required(*MANAGER_ROLES)
def portfolio_page():
    """Assign a team's customers, one or many at a time, to its collectors."""
    teams = portfolio.teams_with_customers()
    if not teams:
        return render_template("collection/portfolio.html", teams=[], team=None)
    team = _chosen_team(teams, request.args.get("team"))
    page_number = request.args.get("page", 1, type=int)
    listing = portfolio.team_portfolio(team, business_today(), page_number)

    form = PortfolioForm()
    form.set_collectors(team_collectors(team.id))
    form.customer_ids.choices = [
        SelectChoice(row.customer.id, row.customer.reference) for row in listing.rows
    ]
    # The service checks that every customer belongs to the collector's team, so a
    # customer ticked on another page of the list is accepted.
    form.customer_ids.validate_choice = False
    if form.validate_on_submit():
        try:
            changed = assign_customers(
                current_user, form.customer_ids.data, form.collector_id.data
            )
        except ActionError as error:
            _show_error(form, error)
        else:
            flash(
                ngettext(
                    "%(num)d customer changed collector.",
                    "%(num)d customers changed collector.",
                    changed,
                ),
                "success",
            )
            return redirect(
                url_for(".portfolio_page", team=team.code, page=listing.page)
            )
    status = 400 if request.method == "POST" else 200
    page = render_template(
        "collection/portfolio.html",
        teams=teams,
        team=team,
        listing=listing,
        form=form,
    )
    return page, status


def _chosen_team(teams: list[Team], code: str | None) -> Team:
    if code is None:
        return teams[0]
    for team in teams:
        if team.code == code:
            return team
    abort(404)


# --- KPI dashboard ------------------------------------------------------------------


@bp.route("/dashboard")
@ledger_access_required
@feature_required("kpi_dashboard")
def dashboard_page():
    """Show the KPIs with their definitions, the monthly trend, overdue by bucket and
    collector activity. Collectors see their team only."""
    today = business_today()
    visible = _visible_teams()
    team = _dashboard_team(visible, request.args.get("team"))
    refresh_promises(today)

    data = dashboard.build_dashboard(visible, team, today)
    month_labels = [format_date(point.month_end, "MMM yy") for point in data.trend]
    return render_template(
        "collection/dashboard.html",
        data=data,
        teams=visible,
        kpi_labels=dashboard.KPI_LABELS,
        kpi_definitions=dashboard.KPI_TRANSLATED_DEFINITIONS,
        kpi_units=dashboard.KPI_UNITS,
        dso_chart=charts.line_chart(month_labels, [p.dso for p in data.trend]),
        overdue_chart=charts.bar_chart(month_labels, [p.overdue for p in data.trend]),
        bucket_chart=charts.bar_chart(
            [str(BUCKET_LABELS[name]) for name in data.overdue_buckets],
            [values["amount"] for values in data.overdue_buckets.values()],
        ),
        bucket_labels=BUCKET_LABELS,
        activity_kinds=MANUAL_ACTIVITY_KINDS,
        activity_labels=ACTIVITY_KIND_LABELS,
    )


def _visible_teams() -> list[Team]:
    if current_user.sees_all_portfolios:
        return list(db.session.scalars(select(Team).order_by(Team.code)))
    team = db.session.get(Team, current_user.team_id)
    if team is None:
        abort(403)
    return [team]


def _dashboard_team(visible: list[Team], code: str | None) -> Team | None:
    """Return the team asked for, None for all teams, or 404 for one not visible."""
    if not current_user.sees_all_portfolios:
        if code not in (None, visible[0].code):
            abort(404)
        return visible[0]
    if code is None:
        return None
    return _chosen_team(visible, code)


# The contact details page adds its route to this blueprint.
from app.collection import contact  # noqa: E402, F401
from app.collection.rates import inject_rate_table_problems  # noqa: E402

bp.app_context_processor(inject_rate_table_problems)
