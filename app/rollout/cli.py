"""``cadence rollout``: validate, explain, print and export the rollout plan.

The commands print English with ISO dates, whatever the interface language is.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Team
from app.auth.services import find_user
from app.extensions import db
from app.rollout import services
from app.rollout.decisions import decide, forecast
from app.rollout.export import export_unleash
from app.rollout.plan import Plan
from app.rollout.plan_file import PlanInvalid, read_plan
from app.rollout.runtime import current_snapshot
from app.rollout.subjects import subject_of
from app.rollout.timeline import steps
from app.timeutil import business_today

rollout = AppGroup("rollout", help="Check and explain the rollout plan.")


def _known_teams() -> list[str]:
    return list(db.session.scalars(select(Team.code).order_by(Team.code)))


def _summary(plan: Plan) -> str:
    flags = len(plan.flags)
    if plan.is_phased:
        return f"phased plan, {len(plan.waves)} waves, {flags} flags"
    return f"big-bang plan, cutover on {plan.cutover.isoformat()}, {flags} flags"


def _parse_date(context, parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2013-07-15."
        ) from None


@rollout.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def validate_command(path: str | None):
    """Check the plan file (default: the app's plan) and list every error.

    Exits with status 1 when the plan is invalid.
    """
    path = path or current_app.config["FEATURE_FLAGS_PATH"]
    try:
        plan = read_plan(path, _known_teams())
    except PlanInvalid as invalid:
        for error in invalid.errors:
            location = f"{path}:{error.line}" if error.line else path
            click.echo(f"{location}: {error.message}", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"{path} is valid: {_summary(plan)}.")
    for step in steps(plan):
        click.echo("  " + _step_line(step))


def _step_line(step) -> str:
    teams = ", ".join(step.teams) if step.teams is not None else "everyone"
    share = "" if step.percent == 100 else f" ({step.percent}% of their users)"
    label = f"wave {step.wave}" if step.wave else "cutover"
    flags = ", ".join(step.flags) or "no flags"
    return f"{step.day.isoformat()}  {label}: {teams}{share} get {flags}"


@rollout.command("timeline")
def timeline_command():
    """Print which teams get which flags on which date, under the plan in force."""
    snapshot = current_snapshot()
    if snapshot.plan is None:
        raise click.ClickException("no rollout plan has passed validation yet")
    if snapshot.errors:
        click.echo("The plan file is invalid; this is the last valid plan.", err=True)
    click.echo(f"{_summary(snapshot.plan).capitalize()}:")
    for step in steps(snapshot.plan):
        click.echo("  " + _step_line(step))


@rollout.command("explain")
@click.argument("flag")
@click.option("--user", "email", required=True, help="Email of the user.")
@click.option(
    "--at",
    "day",
    callback=_parse_date,
    help="Business date to evaluate, YYYY-MM-DD (default: the app's business date).",
)
def explain_command(flag: str, email: str, day: dt.date | None):
    """Say whether FLAG is on for a user, and every reason for it."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user has the email {email}")
    day = day or business_today()
    snapshot = current_snapshot()
    if snapshot.errors:
        click.echo(
            "The plan file is invalid; explaining the last valid plan.", err=True
        )
    subject = subject_of(user)
    decision = decide(snapshot, flag, subject, day)
    engine_result = snapshot.engine.is_enabled(flag, subject.context(day))

    state = "ON" if decision.enabled else "OFF"
    team = subject.team or "no team"
    click.echo(f"{flag} is {state} for {user.email} ({team}, {user.role}) on {day}.")
    for reason in decision.reasons:
        indent = "     " * reason.depth
        mark = "+" if reason.passed else "-"
        click.echo(f"  {indent}{mark} {reason.message}")
    if not decision.enabled:
        prediction = forecast(snapshot, flag, subject, day)
        if prediction.day:
            audience = f"team {prediction.team}" if prediction.team else "everyone"
            click.echo(f"The plan turns it on from {prediction.day} for {audience}.")
    if engine_result != decision.enabled:
        # Both read the same snapshot, so this means a bug in one of them.
        raise click.ClickException(
            "this explanation does not match the engine, which returns "
            f"{'ON' if engine_result else 'OFF'}; please report the bug"
        )


@rollout.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["unleash"]),
    required=True,
    help="Output format; unleash is the Unleash admin API's feature import format.",
)
@click.option(
    "--environment",
    default="production",
    show_default=True,
    help="Unleash environment whose settings the export carries.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write; default standard output.",
)
def export_command(export_format: str, environment: str, output: str | None):
    """Export the plan in force, with its kill switches and overrides."""
    snapshot = current_snapshot()
    if snapshot.plan is None:
        raise click.ClickException("no rollout plan has passed validation yet")
    data = export_unleash(snapshot, environment=environment, teams=_known_teams())
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {len(data['features'])} features to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@rollout.command("pass-module")
@click.option("--user", "email", required=True, help="Email of the user.")
@click.option("--module", "module_id", required=True, help="Training module id.")
def pass_module_command(email: str, module_id: str):
    """Record that a user passed a training module, opening its gated flags."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user has the email {email}")
    try:
        services.record_module_pass(user, module_id, actor_label="cli")
    except services.RolloutError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.email} passed module {module_id}.")
