"""Checks that need the whole file or the database, run after a reader's row checks.

A reader validates each row on its own. The checks here look across rows (a
customer's credits against its debts) or at Cadence's data (whether a customer
already exists), and turn the items that fail into rejections.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal

from migration.messages import reject
from migration.parsing import format_amount
from migration.records import LegacyItem, Rejection


def reject_excess_credits(
    items: list[LegacyItem], *, field: str, decimal: str = ","
) -> tuple[list[LegacyItem], list[Rejection]]:
    """Reject the open credits of each customer whose open credits exceed its debits.

    ``field`` names the column shown in the rejections, and ``decimal`` the decimal
    mark of the amounts quoted in them.
    """
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        if item.settled_date is None:
            totals = credits if item.is_credit else debits
            totals[item.customer_legacy_id] += item.amount

    over = {customer for customer in credits if credits[customer] > debits[customer]}
    kept: list[LegacyItem] = []
    rejections: list[Rejection] = []
    for item in items:
        customer = item.customer_legacy_id
        if customer in over and item.is_credit and item.settled_date is None:
            rejections.append(
                reject(
                    item.line,
                    field,
                    format_amount(item.amount, decimal),
                    "credit_exceeds_debt",
                    customer=customer,
                    credits=format_amount(credits[customer], decimal),
                    debits=format_amount(debits[customer], decimal),
                ).of_document(customer, item.document)
            )
        else:
            kept.append(item)
    return kept, rejections


def reject_unknown_customers(
    items: list[LegacyItem], known: Collection[str], *, field: str
) -> tuple[list[LegacyItem], list[Rejection]]:
    """Reject the items whose customer legacy id is not in ``known``.

    ``field`` names the customer column shown in the rejections. A row that gave
    two items (an invoice and its paid part) gives one rejection.
    """
    kept: list[LegacyItem] = []
    rejections: dict[int, Rejection] = {}
    for item in items:
        customer = item.customer_legacy_id
        if customer in known:
            kept.append(item)
        elif item.line not in rejections:
            rejections[item.line] = reject(
                item.line, field, customer, "customer_unknown", customer=customer
            ).of_document(customer, item.document)
    return kept, list(rejections.values())
