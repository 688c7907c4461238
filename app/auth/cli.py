"""``cadence users`` and ``cadence demo``."""

import datetime as dt
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select, update

from app.auth.models import Role, Team, User
from app.auth.services import (
    UserError,
    create_user,
    find_user,
    set_active,
    set_password,
)
from app.extensions import db
from app.ledger.models import Customer

users = AppGroup("users", help="Manage user accounts.")
demo = AppGroup("demo", help="Set up the demonstration data.")

SAMPLE_FILE = Path(__file__).resolve().parent.parent / "sample_data" / "ibm-accounts-receivable.csv"
DEMO_AS_OF = dt.date(2013, 6, 30)
DEMO_PASSWORD = "cadence-demo"


@users.command("create")
@click.option("--email", required=True, help="Login email address.")
@click.option("--name", required=True, help="Full name shown in the app.")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="Role."
)
@click.option("--team", "team_code", help="Team code, e.g. country-391.")
@click.password_option(help="Password; asked for when not given.")
def create_command(email, name, role, team_code, password):
    """Create a user account."""
    try:
        user = create_user(
            email=email, name=name, role=role, password=password, team_code=team_code
        )
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {user.email} ({user.role}).")


def _user_or_fail(email: str):
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}; see `cadence users list`")
    return user


@users.command("set-password")
@click.option("--email", required=True, help="Login email address.")
@click.password_option(help="New password; asked for when not given.")
def set_password_command(email, password):
    """Change a user's password and end their open sessions."""
    user = _user_or_fail(email)
    try:
        set_password(user, password)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password changed for {user.email}.")


@users.command("deactivate")
@click.option("--email", required=True, help="Login email address.")
def deactivate_command(email):
    """Stop a user from logging in and end their open sessions."""
    user = _user_or_fail(email)
    set_active(user, False)
    click.echo(f"{user.email} can no longer log in.")


@users.command("activate")
@click.option("--email", required=True, help="Login email address.")
def activate_command(email):
    """Let a deactivated user log in again."""
    user = _user_or_fail(email)
    set_active(user, True)
    click.echo(f"{user.email} can log in again.")


@users.command("list")
def list_command():
    """List user accounts."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        team = user.team.code if user.team else "-"
        state = "" if user.active else "  (deactivated)"
        click.echo(f"{user.email:<32} {user.role:<13} {team}{state}")


def _demo_users(team_codes: list[str]) -> list[dict]:
    people = [
        {"email": "admin@cadence.test", "name": "Alice Admin", "role": Role.ADMIN},
        {"email": "lead@cadence.test", "name": "Paul Projet", "role": Role.PROJECT_LEAD},
        {"email": "manager@cadence.test", "name": "Marie Manager", "role": Role.MANAGER},
    ]
    for code in team_codes:
        suffix = code.removeprefix("country-")
        people.append(
            {
                "email": f"collector-{suffix}@cadence.test",
                "name": f"Collector {suffix}",
                "role": Role.COLLECTOR,
                "team": code,
            }
        )
    people.append(
        {
            "email": "trainee@cadence.test",
            "name": "Théo Trainee",
            "role": Role.TRAINEE,
            "team": team_codes[0] if team_codes else None,
        }
    )
    return people


@demo.command("setup")
def setup_command():
    """Import the IBM sample as of 2013-06-30 and create one demo user per role."""
    from migration.importer import run_import

    outcome = run_import(SAMPLE_FILE, profile="ibm-ar", as_of=DEMO_AS_OF)
    click.echo(
        f"IBM sample as of {DEMO_AS_OF}: {outcome.status}, "
        f"{outcome.summary['open_invoices']} open invoices."
    )
    team_codes = list(db.session.scalars(select(Team.code).order_by(Team.code)))
    for person in _demo_users(team_codes):
        if find_user(person["email"]) is None:
            try:
                create_user(
                    email=person["email"],
                    name=person["name"],
                    role=person["role"],
                    password=DEMO_PASSWORD,
                    team_code=person.get("team"),
                )
            except UserError as error:
                raise click.ClickException(str(error)) from None
    _assign_portfolios()
    _open_demo_management()

    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for person in _demo_users(team_codes):
        click.echo(f"  {person['role']:<13} {person['email']}")


# Managers and admins have no team, so the phased demo plan reaches them only in its
# last wave. They approve formal notices from the pilot's first day, so the demo
# gives them dunning and letters by override, as a project lead would.
MANAGEMENT_FLAGS = ("dunning", "letters")
MANAGEMENT_EMAILS = ("manager@cadence.test", "admin@cadence.test")
PILOT_COLLECTOR = "collector-406@cadence.test"
LETTERS_MODULE = "letters-basics"


def _open_demo_management() -> None:
    """Give the demo's managers dunning and letters, and the pilot collector a pass."""
    from app.rollout.models import Override
    from app.rollout.services import record_module_pass, set_override

    admin = find_user("admin@cadence.test")
    for email in MANAGEMENT_EMAILS:
        user = find_user(email)
        for flag in MANAGEMENT_FLAGS:
            exists = db.session.scalar(
                select(Override.id).where(Override.flag == flag, Override.user_id == user.id)
            )
            if exists is None:
                set_override(
                    flag,
                    actor=admin,
                    reason="Demo: managers approve formal notices from the pilot's start.",
                    enabled=True,
                    user=user,
                )
    pilot = find_user(PILOT_COLLECTOR)
    if pilot is not None:
        record_module_pass(pilot, LETTERS_MODULE, actor=admin)


def _assign_portfolios() -> None:
    """Give each team's unassigned customers to that team's first collector."""
    collectors = db.session.scalars(
        select(User).where(User.role == Role.COLLECTOR).order_by(User.id)
    )
    first_by_team: dict[int, int] = {}
    for collector in collectors:
        first_by_team.setdefault(collector.team_id, collector.id)
    for team_id, collector_id in first_by_team.items():
        db.session.execute(
            update(Customer)
            .where(Customer.team_id == team_id, Customer.collector_id.is_(None))
            .values(collector_id=collector_id)
        )
    _give_imported_disputes_an_owner()
    db.session.commit()


def _give_imported_disputes_an_owner() -> None:
    """Make each customer's collector the owner of its open disputes that have none.

    The import opens the disputes flagged in the old system before the demo has
    collectors, so they start without an owner.
    """
    from app.collection.models import Dispute, DisputeStatus

    collector_of = (
        select(Customer.collector_id)
        .where(Customer.id == Dispute.customer_id)
        .scalar_subquery()
    )
    db.session.execute(
        update(Dispute)
        .where(Dispute.owner_id.is_(None), Dispute.status == DisputeStatus.OPEN)
        .values(owner_id=collector_of)
    )
