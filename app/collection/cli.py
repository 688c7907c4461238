"""``cadence dunning`` commands."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.collection.dunning import RunResult, run_dunning
from app.collection.dunning_policies import default_policy, ensure_default_policy
from app.collection.letter_template_store import seed_letter_templates
from app.collection.penalty import (
    MissingRateError,
    Penalty,
    RateTable,
    RateTableError,
    compute_penalty,
    load_legal_rate_table,
    load_rate_table,
)
from app.collection.rates import ecb_rates_path, legal_rates_path
from app.extensions import db
from app.timeutil import business_today

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

dunning = AppGroup(
    "dunning", help="Dunning tools: late-payment penalties and collection runs."
)


class IsoDate(click.ParamType):
    """Calendar date written as YYYY-MM-DD."""

    name = "date"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            if _ISO_DATE.fullmatch(value):
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        self.fail(f"{value!r} is not a valid date, expected YYYY-MM-DD.", param, ctx)


class DecimalNumber(click.ParamType):
    """Finite decimal number, at least ``minimum`` and above it if ``exclusive``."""

    name = "number"

    def __init__(self, minimum: Decimal, exclusive: bool) -> None:
        self.minimum = minimum
        self.exclusive = exclusive

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(value.strip())
        except (AttributeError, InvalidOperation):
            number = None
        if number is None or not number.is_finite():
            self.fail(f"{value!r} is not a number.", param, ctx)
        too_small = number <= self.minimum if self.exclusive else number < self.minimum
        if too_small:
            bound = "greater than" if self.exclusive else "at least"
            self.fail(f"{value!r} must be {bound} {self.minimum}.", param, ctx)
        return number


@dunning.command(
    "penalty",
    with_appcontext=False,
    short_help="Compute late-payment interest and indemnity for one invoice.",
)
@click.option(
    "--amount",
    required=True,
    type=DecimalNumber(Decimal(0), exclusive=True),
    help="Invoice amount in EUR, for example 1250.00.",
)
@click.option("--due", required=True, type=IsoDate(), help="Due date, YYYY-MM-DD.")
@click.option(
    "--paid", type=IsoDate(), help="Payment date, YYYY-MM-DD. Omit while unpaid."
)
@click.option(
    "--as-of",
    type=IsoDate(),
    help="Computation date, YYYY-MM-DD. Interest on an unpaid invoice runs to this "
    "day, and --paid may not be later. Defaults to the business date "
    "(CADENCE_BUSINESS_DATE, else today in Europe/Paris).",
)
@click.option(
    "--rate-table",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of ECB rates by semester. Defaults to CADENCE_ECB_RATES_FILE, "
    "else the packaged table.",
)
@click.option(
    "--legal-rate-table",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of legal interest rates by semester, used with --contract-rate. "
    "Defaults to CADENCE_LEGAL_RATES_FILE, else the packaged table.",
)
@click.option(
    "--contract-rate",
    type=DecimalNumber(Decimal(0), exclusive=False),
    help="Contract annual rate in percent, replacing the statutory rate, for "
    "example 12.5. It never goes below 3 times the legal interest rate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def penalty_command(
    amount: Decimal,
    due: dt.date,
    paid: dt.date | None,
    as_of: dt.date | None,
    rate_table: Path | None,
    legal_rate_table: Path | None,
    contract_rate: Decimal | None,
    as_json: bool,
) -> None:
    """Compute French late-payment interest and the 40 EUR recovery indemnity.

    Interest runs from the day after --due to --paid, or to --as-of while unpaid,
    at the ECB rate of each semester plus 10 points. --contract-rate replaces that
    rate, but never below 3 times the semester's legal interest rate.
    """
    as_of = as_of or business_today()
    if paid is not None and paid > as_of:
        raise click.BadParameter(
            f"{paid} is after the computation date {as_of}.", param_hint="'--paid'"
        )
    rates = _load_table(load_rate_table, rate_table, ecb_rates_path(), "'--rate-table'")
    legal_rates = None
    if contract_rate is not None:
        legal_rates = _load_table(
            load_legal_rate_table,
            legal_rate_table,
            legal_rates_path(),
            "'--legal-rate-table'",
        )
    try:
        penalty = compute_penalty(
            amount, due, paid, as_of, rates, contract_rate, legal_rates
        )
    except MissingRateError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(penalty_as_json(penalty), indent=2))
    else:
        click.echo(format_penalty(penalty))


def _load_table(
    loader: Callable[[Path | str], RateTable],
    path: Path | None,
    configured: str,
    option: str,
) -> RateTable:
    """Load the rate table given by ``option``, else the configured one.

    An invalid file given by ``option`` is a usage error (exit status 2), and an
    invalid configured or packaged file exits with status 1.
    """
    try:
        return loader(path or configured)
    except (OSError, RateTableError) as error:
        if path is None:
            raise click.ClickException(str(error)) from None
        raise click.BadParameter(str(error), param_hint=option) from None


def penalty_as_json(penalty: Penalty) -> dict[str, Any]:
    """Return the penalty with every amount and rate as a string."""
    return {
        "days_late": penalty.days_late,
        "interest": str(penalty.interest),
        "indemnity": str(penalty.indemnity),
        "total": str(penalty.total),
        "rate_basis": str(penalty.rate_basis),
        "segments": [
            {
                "start": segment.start.isoformat(),
                "end": segment.end.isoformat(),
                "days": segment.days,
                "rate": format_rate(segment.rate),
                "rate_basis": str(segment.basis),
                "interest": str(segment.rounded_interest),
            }
            for segment in penalty.segments
        ],
    }


def format_rate(rate: Decimal) -> str:
    """Format a percentage with at least two decimals, without rounding it."""
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        rate = rate.quantize(Decimal("0.01"))
    return str(rate)


def format_penalty(penalty: Penalty) -> str:
    """Render the penalty as a plain-text table."""
    lines = [
        f"Days late:  {penalty.days_late}",
        f"Rate basis: {penalty.rate_basis}",
    ]
    if penalty.segments:
        lines += [
            "",
            f"{'Period':<24} {'Days':>5} {'Rate %':>8} {'Interest':>10}  Rate basis",
        ]
        for segment in penalty.segments:
            period = f"{segment.start}..{segment.end}"
            lines.append(
                f"{period:<24} {segment.days:>5} {format_rate(segment.rate):>8} "
                f"{segment.rounded_interest:>10}  {segment.basis}"
            )
        lines.append("")
    lines += [
        f"{'Interest':<39} {penalty.interest:>10}",
        f"{'Indemnity':<39} {penalty.indemnity:>10}",
        f"{'Total':<39} {penalty.total:>10}",
    ]
    if sum(s.rounded_interest for s in penalty.segments) != penalty.interest:
        lines.append(
            "Period amounts are rounded for display. The interest is the exact sum, "
            "rounded once."
        )
    return "\n".join(lines)


@dunning.command("run", short_help="Create the dunning actions due on a date.")
@click.option(
    "--date",
    "on",
    type=IsoDate(),
    help="Business date of the run, YYYY-MM-DD: the business date (today in "
    "Europe/Paris unless CADENCE_BUSINESS_DATE sets it) or an earlier one. "
    "Defaults to the business date. A later date needs --dry-run.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show the actions the run would create; save nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run_command(on: dt.date | None, dry_run: bool, as_json: bool) -> None:
    """Create the dunning actions due on --date.

    Each invoice goes one level at a time: the lowest level above the last one it
    reached, once that level's days from the due date have passed and the gap
    since the previous level was carried out has elapsed. Disputed invoices and
    customers with a pending promise to pay are skipped. Formal notices wait for
    a manager's approval. Running twice on the same day creates nothing new.
    """
    today = business_today()
    on = on or today
    if on > today and not dry_run:
        raise click.BadParameter(
            f"{on} is after the business date {today}. A real run can only be for "
            f"{today} or an earlier date; add --dry-run to preview {on}.",
            param_hint="'--date'",
        )
    result = run_dunning(on, dry_run=dry_run, actor_label="cli")
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
        return
    click.echo(format_run(result))


def format_run(result: RunResult) -> str:
    """Render a dunning run result as plain text."""
    if result.is_future_preview:
        heading = (
            f"Dunning run for {result.on} (dry run, nothing saved): a preview of a "
            f"date after the business date {result.business_date}, as if nothing "
            "changed until then"
        )
    elif result.dry_run:
        heading = f"Dunning run for {result.on} (dry run, nothing saved)"
    else:
        heading = f"Dunning run for {result.on}"
    lines = [heading, f"Actions: {len(result.actions)}"]
    for action in result.actions:
        invoices = ", ".join(action.invoice_numbers)
        lines.append(
            f"  {action.customer_reference:<14} {action.level_name:<32} "
            f"{action.channel:<14} {action.status:<17} {action.amount:>10}  {invoices}"
        )
    lines += [
        "Skipped:",
        f"  disputed invoices:          {result.disputed_invoices}",
        f"  customers with a promise:   {result.promised_customers}",
        f"  actions below the minimum:  {result.below_minimum}",
        f"  customers without a policy: {result.customers_without_policy}",
    ]
    return "\n".join(lines)


@dunning.command(
    "seed", short_help="Create the default policy and load the letter templates."
)
def seed_command() -> None:
    """Create the French default dunning policy if there is no default policy, and
    copy the packaged letter templates that are not in the database yet."""
    had_default = default_policy() is not None
    policy = ensure_default_policy()
    db.session.commit()
    templates = seed_letter_templates()
    state = "already there" if had_default else "created"
    click.echo(f"Default dunning policy {policy.name!r}: {state}.")
    click.echo(f"Letter templates loaded: {len(templates)}.")
