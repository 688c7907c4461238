"""Customer and ageing pages."""

from flask import Blueprint, render_template, request
from flask_login import current_user

from app.auth.permissions import ledger_access_required
from app.collection.account import account_context
from app.collection.services import refresh_promises
from app.ledger.ageing import BUCKET_LABELS, BUCKETS
from app.ledger.money import ZERO
from app.ledger.services import (
    PAID_INVOICES_SHOWN,
    ageing_totals,
    customer_history,
    get_customer_for,
)
from app.timeutil import business_today

bp = Blueprint("ledger", __name__)


@bp.route("/customers/<int(max=2147483647):customer_id>")
@ledger_access_required
def customer(customer_id: int):
    """Show a customer's invoices, collection history and account actions."""
    record = get_customer_for(current_user, customer_id)
    today = business_today()
    refresh_promises(today, [record.id])
    show_all = request.args.get("paid") == "all"
    history = customer_history(
        record, today, paid_shown=None if show_all else PAID_INVOICES_SHOWN
    )
    return render_template(
        "ledger/customer.html",
        customer=record,
        history=history,
        today=today,
        **account_context(record, current_user, today),
    )


@bp.route("/ageing")
@ledger_access_required
def ageing():
    """Show open amounts by ageing bucket."""
    today = business_today()
    totals = ageing_totals(current_user, today)
    grand_count = sum(values["count"] for values in totals.values())
    grand_amount = sum((values["amount"] for values in totals.values()), ZERO)
    return render_template(
        "ledger/ageing.html",
        totals=totals,
        buckets=BUCKETS,
        labels=BUCKET_LABELS,
        grand_count=grand_count,
        grand_amount=grand_amount,
        today=today,
    )
