"""`cadence demo setup` gives every role a working demo, and can run twice."""

from sqlalchemy import func, select

from app.auth.models import User
from app.collection.models import Dispute
from app.extensions import db
from app.ledger.models import Customer
from app.rollout.models import Override, TrainingModulePass
from tests.conftest import REPO


def test_demo_setup_twice(app, runner):
    app.config["FEATURE_FLAGS_PATH"] = str(REPO / "feature_flags.yaml")

    first = runner.invoke(args=["demo", "setup"])
    second = runner.invoke(args=["demo", "setup"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 9
    overrides = db.session.execute(
        select(User.email, Override.flag, Override.enabled)
        .join(User, User.id == Override.user_id)
        .order_by(User.email, Override.flag)
    ).all()
    assert overrides == [
        ("admin@cadence.test", "dunning", True),
        ("admin@cadence.test", "letters", True),
        ("manager@cadence.test", "dunning", True),
        ("manager@cadence.test", "letters", True),
    ]
    passes = db.session.execute(
        select(User.email, TrainingModulePass.module_id).join(
            User, User.id == TrainingModulePass.user_id
        )
    ).all()
    assert passes == [("collector-406@cadence.test", "letters-basics")]


def test_demo_disputes_owned_by_collectors(app, runner):
    app.config["FEATURE_FLAGS_PATH"] = str(REPO / "feature_flags.yaml")

    result = runner.invoke(args=["demo", "setup"])

    assert result.exit_code == 0, result.output
    owners = db.session.execute(
        select(Dispute.owner_id == Customer.collector_id, func.count())
        .join(Customer, Customer.id == Dispute.customer_id)
        .group_by(Dispute.owner_id == Customer.collector_id)
    ).all()
    # The 27 invoices flagged as disputed in the sample, each owned by the
    # customer's collector.
    assert owners == [(True, 27)]
