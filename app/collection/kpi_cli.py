"""``cadence kpi``: the AR KPIs of all customers, a team or a collector, on a date."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.auth.models import Team, User
from app.collection.cli import IsoDate
from app.collection.dashboard import KpiScope, kpis_for
from app.collection.kpi import KPI_DEFINITIONS, NOT_AVAILABLE
from app.extensions import db
from app.timeutil import business_today

# Units printed after each figure in the text output.
TEXT_UNITS = {
    "total_ar": "EUR",
    "current_ar": "EUR",
    "sales_90": "EUR",
    "dso": "days",
    "best_possible_dso": "days",
    "add": "days",
    "countback_dso": "days",
    "cei": "%",
    "promise_kept_rate": "%",
}


@click.command("kpi")
@click.option(
    "--as-of",
    type=IsoDate(),
    help="Date the KPIs are computed at the end of, YYYY-MM-DD. Defaults to the "
    "business date.",
)
@click.option("--team", "team_code", help="Team code, for example country-391.")
@click.option(
    "--collector",
    "collector_email",
    help="Email of a collector. Only the customers assigned to them count.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the KPIs as JSON.")
@with_appcontext
def kpi_command(
    as_of: dt.date | None,
    team_code: str | None,
    collector_email: str | None,
    as_json: bool,
) -> None:
    """Print total and current AR, sales, DSO figures, CEI and promise-kept rate.

    Amounts come from the invoices and their allocations as recorded, so a past
    --as-of gives the figures as they stood on that date. --team and --collector
    together keep the customers that match both.
    """
    as_of = as_of or business_today()
    scope = KpiScope(
        team_id=_team_id(team_code) if team_code else None,
        collector_id=_collector_id(collector_email) if collector_email else None,
    )
    result = kpis_for(scope, as_of)

    if as_json:
        click.echo(json.dumps(result.as_json_dict(), indent=2))
        return
    click.echo(f"KPIs at the end of {as_of.isoformat()}")
    for name, value in result.as_display_dict().items():
        if name == "as_of":
            continue
        unit = "" if value == NOT_AVAILABLE else TEXT_UNITS[name]
        click.echo(f"  {name:<18} {value:>14} {unit}".rstrip())
    click.echo("")
    click.echo("Definitions:")
    for name, definition in KPI_DEFINITIONS.items():
        click.echo(f"  {name}: {definition}")


def _team_id(code: str) -> int:
    team_id = db.session.scalar(select(Team.id).where(Team.code == code))
    if team_id is None:
        known = ", ".join(db.session.scalars(select(Team.code).order_by(Team.code)))
        raise click.BadParameter(
            f"team {code!r} not found. Known teams: {known or 'none'}.",
            param_hint="'--team'",
        )
    return team_id


def _collector_id(email: str) -> int:
    user_id = db.session.scalar(
        select(User.id).where(func.lower(User.email) == email.strip().lower())
    )
    if user_id is None:
        raise click.BadParameter(
            f"no user with email {email!r} found.", param_hint="'--collector'"
        )
    return user_id
