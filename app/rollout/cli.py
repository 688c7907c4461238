"""``cadence rollout``: validate, explain, print and export the rollout plan.

The commands print English with ISO dates, whatever the interface language is. They
read the plan in force like the server does, but never store it as the last good
plan: only the serving app does, so inspecting another plan file from the command
line cannot change what the server falls back to.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Team
from app.auth.services import find_user
from app.extensions import db
from app.rollout import services
from app.rollout.catalogue import FLAG_CATALOGUE, unknown_flag_message
from app.rollout.decisions import decide, forecast, no_team_note
from app.rollout.export import export_unleash
from app.rollout.plan import Plan
from app.rollout.plan_file import PlanInvalid, read_plan
from app.rollout.runtime import current_snapshot
from app.rollout.subjects import subject_of
from app.rollout.timeline import steps
from app.timeutil import business_today

rollout = AppGroup("rollout", help="Check and explain the rollout plan.")

ENVIRONMENT_PATTERN = re.compile(r"[A-Za-z0-9_-]+\Z")


def _known_teams() -> list[str]:
    return list(db.session.scalars(select(Team.code).order_by(Team.code)))


def _count(number: int, noun: str) -> str:
    """Return "1 wave" or "3 waves"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary(plan: Plan) -> str:
    flags = _count(len(plan.flags), "flag")
    if plan.is_phased:
        return f"phased plan, {_count(len(plan.waves), 'wave')}, {flags}"
    return f"big-bang plan, cutover on {plan.cutover.isoformat()}, {flags}"


def _echo_problems(path: str, problems: Iterable, label: str = "") -> None:
    """Print plan errors or warnings to standard error, as PATH:LINE: MESSAGE."""
    for problem in problems:
        location = f"{path}:{problem.line}" if problem.line else path
        click.echo(f"{location}: {label}{problem.message}", err=True)


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

    A valid plan prints its timeline, then its warnings on standard error. Exits
    with status 1 when the plan is invalid.
    """
    path = path or current_app.config["FEATURE_FLAGS_PATH"]
    try:
        plan = read_plan(path, _known_teams())
    except PlanInvalid as invalid:
        _echo_problems(path, invalid.errors)
        raise click.exceptions.Exit(1) from None
    click.echo(f"{path} is valid: {_summary(plan)}.")
    for step in steps(plan):
        click.echo("  " + _step_line(plan, step))
    _echo_problems(path, plan.warnings, "warning: ")


def _step_line(plan: Plan, step) -> str:
    """Return one line of the timeline, such as "2013-06-01  wave pilot: ..."."""
    if step.teams is None:
        audience, verb, their = "everyone", "gets", "their"
    else:
        audience = ", ".join(step.teams)
        several = len(step.teams) > 1
        verb, their = ("get", "their") if several else ("gets", "its")
    share = "" if step.percent == 100 else f" ({step.percent}% of {their} users)"
    label = f"wave {step.wave}" if step.wave else "cutover"
    flags = ", ".join(_flag_label(plan, name) for name in step.flags) or "no flag"
    return f"{step.day.isoformat()}  {label}: {audience}{share} {verb} {flags}"


def _flag_label(plan: Plan, name: str) -> str:
    spec = plan.flag(name)
    if spec is not None and spec.training:
        return f"{name} (after training {spec.training})"
    return name


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
        click.echo("  " + _step_line(snapshot.plan, step))


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
    if flag not in FLAG_CATALOGUE:
        raise click.BadParameter(str(unknown_flag_message(flag)), param_hint="'FLAG'")
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
        note = no_team_note(snapshot, decision, subject)
        if note is not None:
            click.echo(str(note))
    if engine_result != decision.enabled:
        # Both read the same snapshot, so this means a bug in one of them.
        raise click.ClickException(
            "this explanation does not match the engine, which returns "
            f"{'ON' if engine_result else 'OFF'}; please report the bug"
        )


def _check_environment(context, parameter, value: str) -> str:
    if not ENVIRONMENT_PATTERN.match(value or ""):
        raise click.BadParameter(
            f"{value!r} is not an environment name. Use letters, digits, '-' and "
            "'_', such as production."
        )
    return value


def _check_output(context, parameter, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"the directory {path.parent} does not exist. Create it first, or write "
            "to another file."
        )
    return path


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
    callback=_check_environment,
    help="Unleash environment whose settings the export carries: letters, digits, "
    "'-' and '_'.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    callback=_check_output,
    help="File to write, in an existing directory; default standard output.",
)
@click.option(
    "--use-last-good",
    is_flag=True,
    help="Export the last valid plan when the plan file is invalid, instead of "
    "failing.",
)
def export_command(
    export_format: str, environment: str, output: Path | None, use_last_good: bool
):
    """Export the plan in force, with its kill switches and overrides.

    Exits with status 1, listing the errors, when the plan file is invalid, unless
    --use-last-good is given.
    """
    snapshot = current_snapshot()
    if snapshot.errors and not use_last_good:
        _echo_problems(snapshot.path, snapshot.errors)
        raise click.ClickException(
            "the plan file is invalid, so nothing was exported. Fix it, or add "
            "--use-last-good to export the last valid plan"
        )
    if snapshot.plan is None:
        raise click.ClickException("no rollout plan has passed validation yet")
    if snapshot.errors:
        click.echo(
            f"The plan file {snapshot.path} is invalid. Exporting the last valid plan.",
            err=True,
        )
    data = export_unleash(snapshot, environment=environment, teams=_known_teams())
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(
            f"could not write {output}: {error.strerror or error}"
        ) from None
    count = _count(len(data["features"]), "feature")
    click.echo(f"Wrote {count} to {output}.", err=True)


@rollout.command("pass-module")
@click.option("--user", "email", required=True, help="Email of the user.")
@click.option("--module", "module_id", required=True, help="Training module id.")
def pass_module_command(email: str, module_id: str):
    """Record that a user passed a training module, opening its gated flags.

    A pass that exists already is left as it is, with exit status 0.
    """
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user has the email {email}")
    try:
        change = services.record_module_pass(user, module_id, actor_label="cli")
    except services.RolloutError as error:
        raise click.ClickException(str(error)) from None
    _echo_module_change(change)


@rollout.command("revoke-module")
@click.option("--user", "email", required=True, help="Email of the user.")
@click.option("--module", "module_id", required=True, help="Training module id.")
def revoke_module_command(email: str, module_id: str):
    """Delete a user's pass of a training module, closing its gated flags.

    Revoking a pass that does not exist changes nothing, with exit status 0.
    """
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user has the email {email}")
    try:
        change = services.revoke_module_pass(user, module_id, actor_label="cli")
    except services.RolloutError as error:
        raise click.ClickException(str(error)) from None
    _echo_module_change(change)


def _echo_module_change(change: services.ModulePassChange) -> None:
    if change.gates_nothing is not None:
        click.echo(f"Warning: {change.gates_nothing}", err=True)
    click.echo(str(change.message))
