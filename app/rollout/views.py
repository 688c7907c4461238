"""Rollout pages for project leads and admins, and the app-wide rollout hooks.

Project leads and admins see the plan as a timeline, who has each flag now and why,
the kill switch behind a confirmation page, the overrides and the rollout audit log.
Admins also record and revoke training module passes until the training pages do.

After a kill switch or override change, the page redirects with the new shared
version in ``?version=``. A worker whose snapshot is older reloads before it renders,
so the page shows the change whichever worker serves it.
"""

from __future__ import annotations

import datetime as dt
import os

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, gettext
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.audit.models import AuditEntry
from app.auth.models import Role, Team, User
from app.auth.permissions import role_required
from app.auth.services import find_user
from app.extensions import db
from app.rollout import services
from app.rollout.catalogue import describe_flag
from app.rollout.decisions import decide, forecast, no_team_note
from app.rollout.flags import FeatureDisabled, forget_request_cache, pending_exposures
from app.rollout.forms import (
    PULL,
    RELEASE,
    TEAM,
    KillSwitchForm,
    ModulePassForm,
    OverrideForm,
    RemoveOverrideForm,
    RevokePassForm,
)
from app.rollout.messages import Message
from app.rollout.models import TrainingModulePass
from app.rollout.runtime import current_snapshot, get_runtime
from app.rollout.subjects import all_subjects, subject_of
from app.rollout.timeline import schedule, steps
from app.templating import short_date
from app.timeutil import business_today

bp = Blueprint("rollout", __name__, url_prefix="/rollout")

LEAD_ROLES = (Role.PROJECT_LEAD, Role.ADMIN)
AUDIT_PAGE_SIZE = 50
RECENT_PASSES = 50
WORKER_HEADER = "X-Cadence-Worker"

lead_required = role_required(*LEAD_ROLES)


# --- app-wide hooks -------------------------------------------------------------------


@bp.before_app_request
def drop_cached_contexts():
    forget_request_cache()


@bp.after_app_request
def store_exposures(response):
    """Store the first exposures of this request, and name the worker when asked."""
    flags = pending_exposures()
    if flags and current_user.is_authenticated:
        user_id = current_user.id
        if services.record_exposures(user_id, flags):
            get_runtime().exposed.update((user_id, flag) for flag in flags)
    # The two-worker freshness test reads this header to tell the workers apart.
    if current_app.config.get("TESTING") or current_app.config.get("EXPOSE_WORKER_PID"):
        response.headers[WORKER_HEADER] = str(os.getpid())
    return response


@bp.app_errorhandler(FeatureDisabled)
def feature_disabled(error: FeatureDisabled):
    """Render the 404 page of a feature that is off, saying when it turns on."""
    snapshot = current_snapshot()
    spec = snapshot.plan.flag(error.flag) if snapshot.plan else None
    prediction = None
    if current_user.is_authenticated:
        prediction = forecast(
            snapshot, error.flag, subject_of(current_user), business_today()
        )
    page = render_template(
        "rollout/feature_disabled.html", flag=error.flag, spec=spec, forecast=prediction
    )
    return page, 404


def _snapshot_at_least(version: int | None):
    """Return the current snapshot, reloaded first when older than ``version``.

    ``version`` comes from the URL that a change redirected to, and another worker
    may have made that change less than a refresh interval ago.
    """
    snapshot = current_snapshot()
    if version is not None and (snapshot.version or 0) < version:
        app = current_app._get_current_object()
        snapshot = get_runtime(app).reload(app)
    return snapshot


def _redirect_after_change(endpoint: str, **values):
    """Redirect to ``endpoint`` with the shared version this request has reloaded."""
    snapshot = get_runtime().last_snapshot
    if snapshot is not None and snapshot.version is not None:
        values["version"] = snapshot.version
    return redirect(url_for(endpoint, **values))


@bp.app_context_processor
def inject_plan_problems() -> dict:
    """Give project leads and admins the errors of the plan file, for the banner."""
    if not current_user.is_authenticated or current_user.role not in LEAD_ROLES:
        return {}
    return {"rollout_plan_errors": current_snapshot().errors}


@bp.app_template_filter("message")
def render_message(message: Message) -> str:
    return message.render(gettext, short_date)


@bp.app_template_filter("flag_description")
def flag_description(spec) -> str:
    """Return the plan's description of a flag, or the catalogue's, translated."""
    return describe_flag(spec, gettext)


@bp.app_template_filter("audit_details")
def audit_details(values: dict | None) -> list[tuple[str, str]]:
    """Return the before or after state of an audit entry as (key, text) pairs."""
    return [(key, _detail_text(key, value)) for key, value in (values or {}).items()]


def _detail_text(key: str, value) -> str:
    if value is None:
        return gettext("none")
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or gettext("none")
    if key == "digest":
        # The first 12 hex digits tell plan versions apart on a page.
        return str(value)[:12]
    return str(value)


@bp.app_template_filter("short_datetime")
def short_datetime(value: dt.datetime | None) -> str:
    """Format a stored UTC timestamp in the user's time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value, "short")


# --- pages ----------------------------------------------------------------------------


def _plan_or_404():
    snapshot = _snapshot_at_least(request.args.get("version", type=int))
    if snapshot.plan is None:
        abort(404, gettext("No rollout plan has passed validation yet."))
    return snapshot


def _count_enabled(snapshot, subjects, day, flags) -> dict[str, int]:
    """Count, for each of ``flags``, the users who have it on ``day``."""
    contexts = [subject.context(day) for subject in subjects]
    return {
        flag: sum(snapshot.engine.is_enabled(flag, context) for context in contexts)
        for flag in flags
    }


@bp.get("/")
@lead_required
def overview():
    """Show the plan as a timeline, and each flag with how many users have it."""
    snapshot = _snapshot_at_least(request.args.get("version", type=int))
    plan = snapshot.plan
    today = business_today()
    subjects = all_subjects()
    counts = _count_enabled(snapshot, subjects, today, plan.flag_names) if plan else {}
    teams = sorted(set(_team_codes()) | set(plan.teams if plan else ()))
    return render_template(
        "rollout/overview.html",
        snapshot=snapshot,
        plan=plan,
        steps=steps(plan) if plan else [],
        schedule=schedule(plan, teams) if plan else {},
        teams=teams,
        counts=counts,
        user_count=len(subjects),
        today=today,
    )


def _team_codes() -> list[str]:
    return list(db.session.scalars(select(Team.code).order_by(Team.code)))


def _team_choices() -> list[SelectChoice]:
    return [SelectChoice(code) for code in _team_codes()]


def _render_flag(flag: str, override_form: OverrideForm | None = None, status=200):
    snapshot = _plan_or_404()
    spec = snapshot.plan.flag(flag)
    if spec is None:
        abort(404)
    today = business_today()
    decisions = [
        (subject, decide(snapshot, flag, subject, today)) for subject in all_subjects()
    ]
    if override_form is None:
        override_form = OverrideForm()
    override_form.team.choices = _team_choices()
    page = render_template(
        "rollout/flag.html",
        spec=spec,
        plan=snapshot.plan,
        kill_switch=snapshot.kill_switches.get(flag),
        overrides=snapshot.overrides_of(flag),
        decisions=decisions,
        enabled_count=sum(decision.enabled for _subject, decision in decisions),
        override_form=override_form,
        remove_form=RemoveOverrideForm(),
        today=today,
    )
    return page, status


@bp.get("/flags/<flag>")
@lead_required
def flag_detail(flag: str):
    """Show who has the flag now and why, its overrides and its kill switch."""
    return _render_flag(flag)


@bp.route("/flags/<flag>/kill-switch", methods=["GET", "POST"])
@lead_required
def kill_switch(flag: str):
    """Confirm and then pull, or release, the kill switch of one flag."""
    snapshot = _plan_or_404()
    if snapshot.plan.flag(flag) is None:
        abort(404)
    pulled = snapshot.kill_switches.get(flag)
    offered = RELEASE if pulled else PULL
    form = KillSwitchForm(action=offered)

    if form.validate_on_submit():
        if form.action.data != offered:
            message = gettext(
                "The kill switch of %(flag)s changed in the meantime. Check its state "
                "and try again.",
                flag=flag,
            )
            flash(message, "error")
            return redirect(url_for("rollout.flag_detail", flag=flag))
        try:
            if pulled:
                services.release_kill_switch(
                    flag, actor=current_user, reason=form.reason.data
                )
                flash(gettext("%(flag)s follows the plan again.", flag=flag), "info")
            else:
                services.pull_kill_switch(
                    flag, actor=current_user, reason=form.reason.data
                )
                flash(gettext("%(flag)s is now off for everyone.", flag=flag), "info")
        except services.RolloutError as error:
            flash(render_message(error.message), "error")
        return _redirect_after_change("rollout.flag_detail", flag=flag)

    today = business_today()
    subjects = all_subjects()
    affected = _count_enabled(snapshot, subjects, today, [flag])[flag]
    return render_template(
        "rollout/kill_switch.html",
        flag=flag,
        spec=snapshot.plan.flag(flag),
        pulled=pulled,
        form=form,
        affected=affected,
    )


@bp.post("/flags/<flag>/overrides")
@lead_required
def add_override(flag: str):
    """Force the flag on or off for one user or one team."""
    form = OverrideForm()
    form.team.choices = _team_choices()
    if not form.validate_on_submit():
        return _render_flag(flag, form, 400)

    user = team = None
    if form.target.data == TEAM:
        team = db.session.scalar(select(Team).where(Team.code == form.team.data))
    else:
        user = find_user(form.user_email.data)
        if user is None:
            form.user_email.errors.append(
                gettext("No user has the email %(email)s.", email=form.user_email.data)
            )
            return _render_flag(flag, form, 400)
    try:
        services.set_override(
            flag,
            actor=current_user,
            reason=form.reason.data,
            enabled=form.state.data == "on",
            user=user,
            team=team,
        )
    except services.RolloutError as error:
        flash(render_message(error.message), "error")
        return redirect(url_for("rollout.flag_detail", flag=flag))
    flash(gettext("Override saved for %(flag)s.", flag=flag), "info")
    return _redirect_after_change("rollout.flag_detail", flag=flag)


@bp.post("/overrides/<int:override_id>/delete")
@lead_required
def delete_override(override_id: int):
    """Remove an override, with the reason for the audit log."""
    flag = request.args.get("flag", "")
    form = RemoveOverrideForm()
    if not form.validate_on_submit():
        flash(gettext("Give a reason to remove the override."), "error")
    else:
        try:
            services.remove_override(
                override_id, actor=current_user, reason=form.reason.data
            )
            flash(gettext("Override removed."), "info")
        except services.RolloutError as error:
            flash(render_message(error.message), "error")
    if current_snapshot().plan and current_snapshot().plan.flag(flag):
        return _redirect_after_change("rollout.flag_detail", flag=flag)
    return _redirect_after_change("rollout.overview")


@bp.get("/flags/<flag>/users/<int:user_id>")
@lead_required
def explain_user(flag: str, user_id: int):
    """Show every step of the decision for one user, and when the flag turns on."""
    snapshot = _plan_or_404()
    if snapshot.plan.flag(flag) is None:
        abort(404)
    user = db.session.get(User, user_id) or abort(404)
    subject = subject_of(user)
    today = business_today()
    decision = decide(snapshot, flag, subject, today)
    prediction = None if decision.enabled else forecast(snapshot, flag, subject, today)
    return render_template(
        "rollout/explain.html",
        flag=flag,
        subject=subject,
        decision=decision,
        forecast=prediction,
        no_team_note=no_team_note(snapshot, decision, subject),
        today=today,
    )


@bp.get("/audit")
@lead_required
def audit_log():
    """List rollout actions, newest first: plan changes, kill switches, overrides."""
    page = max(request.args.get("page", 1, type=int), 1)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.like("rollout.%"))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE + 1)
    ).all()
    return render_template(
        "rollout/audit.html",
        entries=entries[:AUDIT_PAGE_SIZE],
        page=page,
        has_next=len(entries) > AUDIT_PAGE_SIZE,
    )


def _flash_module_change(change: services.ModulePassChange) -> None:
    if change.gates_nothing is not None:
        flash(render_message(change.gates_nothing), "warning")
    flash(render_message(change.message), "info")


@bp.route("/training", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def training_passes():
    """Record that a user passed a training module, which opens its gated flags."""
    form = ModulePassForm()
    if form.validate_on_submit():
        user = find_user(form.user_email.data)
        if user is None:
            form.user_email.errors.append(
                gettext("No user has the email %(email)s.", email=form.user_email.data)
            )
        else:
            try:
                change = services.record_module_pass(
                    user, form.module_id.data, actor=current_user
                )
            except services.RolloutError as error:
                flash(render_message(error.message), "error")
            else:
                _flash_module_change(change)
                return redirect(url_for("rollout.training_passes"))

    snapshot = current_snapshot()
    passes = db.session.scalars(
        select(TrainingModulePass)
        .order_by(TrainingModulePass.passed_at.desc(), TrainingModulePass.id.desc())
        .limit(RECENT_PASSES)
    ).all()
    status = 400 if form.errors else 200
    page = render_template(
        "rollout/training.html",
        form=form,
        revoke_form=RevokePassForm(),
        passes=passes,
        modules=snapshot.plan.training_modules if snapshot.plan else [],
    )
    return page, status


@bp.post("/training/<int:pass_id>/revoke")
@role_required(Role.ADMIN)
def revoke_pass(pass_id: int):
    """Revoke a training module pass, which closes its gated flags for the user."""
    form = RevokePassForm()
    if not form.validate_on_submit():
        abort(400)
    passed = db.session.get(TrainingModulePass, pass_id)
    if passed is None:
        flash(gettext("This pass no longer exists. Nothing changed."), "info")
        return redirect(url_for("rollout.training_passes"))
    change = services.revoke_module_pass(
        passed.user, passed.module_id, actor=current_user
    )
    _flash_module_change(change)
    return redirect(url_for("rollout.training_passes"))
