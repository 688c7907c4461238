"""The collector's worklist."""

from flask import Blueprint, render_template
from flask_login import current_user

from app.auth.permissions import ledger_access_required
from app.collection.worklist import AGE_WEIGHT_DAYS, build_worklist
from app.ledger.ageing import BUCKET_LABELS, BUCKETS
from app.rollout.flags import feature_required
from app.timeutil import business_today

bp = Blueprint("collection", __name__)


@bp.route("/worklist")
@ledger_access_required
@feature_required("worklist")
def worklist():
    """List customers with overdue invoices, highest priority first."""
    today = business_today()
    rows = build_worklist(current_user, today)
    return render_template(
        "collection/worklist.html",
        rows=rows,
        buckets=BUCKETS,
        labels=BUCKET_LABELS,
        age_weight_days=AGE_WEIGHT_DAYS,
        today=today,
    )
