"""Translatable labels of the codes stored for activities, promises, disputes and
payments."""

from flask_babel import lazy_gettext as _l

from app.collection.models import (
    ActivityKind,
    ActivityOutcome,
    DisputeReason,
    DisputeStatus,
    DunningActionStatus,
    DunningChannel,
    PromiseStatus,
)
from app.ledger.models import PaymentKind

ACTIVITY_KIND_LABELS = {
    ActivityKind.CALL: _l("Call"),
    # "Email" alone is already the login form's label for an email address.
    ActivityKind.EMAIL: _l("Email message"),
    ActivityKind.LETTER: _l("Letter"),
    ActivityKind.NOTE: _l("Note"),
    ActivityKind.PROMISE: _l("Promise to pay"),
    ActivityKind.DISPUTE: _l("Dispute"),
    ActivityKind.PAYMENT: _l("Payment"),
}

OUTCOME_LABELS = {
    ActivityOutcome.REACHED: _l("Reached the customer"),
    ActivityOutcome.NO_ANSWER: _l("No answer"),
    ActivityOutcome.LEFT_MESSAGE: _l("Left a message"),
    ActivityOutcome.CALLBACK_REQUESTED: _l("Callback requested"),
    ActivityOutcome.WRONG_CONTACT: _l("Wrong contact details"),
    ActivityOutcome.SENT: _l("Sent"),
}

PROMISE_STATUS_LABELS = {
    PromiseStatus.PENDING: _l("Pending"),
    PromiseStatus.KEPT: _l("Kept"),
    PromiseStatus.BROKEN: _l("Broken"),
    PromiseStatus.CANCELLED: _l("Cancelled"),
}

DISPUTE_REASON_LABELS = {
    DisputeReason.PRICING: _l("Pricing"),
    DisputeReason.QUANTITY: _l("Quantity"),
    DisputeReason.QUALITY: _l("Quality"),
    DisputeReason.NOT_RECEIVED: _l("Goods or service not received"),
    DisputeReason.DUPLICATE: _l("Duplicate invoice"),
    DisputeReason.OTHER: _l("Other"),
    DisputeReason.LEGACY_IMPORT: _l("Flagged as disputed in the old system"),
}

DISPUTE_STATUS_LABELS = {
    DisputeStatus.OPEN: _l("Open"),
    DisputeStatus.RESOLVED: _l("Resolved"),
}

PAYMENT_KIND_LABELS = {
    PaymentKind.PAYMENT: _l("Payment"),
    PaymentKind.CREDIT_NOTE: _l("Credit note"),
    PaymentKind.OPENING: _l("Opening balance"),
}

DUNNING_CHANNEL_LABELS = {
    DunningChannel.EMAIL: _l("Email message"),
    DunningChannel.LETTER: _l("Letter"),
    DunningChannel.CALL: _l("Call"),
    DunningChannel.FORMAL_NOTICE: _l("Formal notice"),
}

DUNNING_ACTION_STATUS_LABELS = {
    DunningActionStatus.PENDING_APPROVAL: _l("Awaiting approval"),
    DunningActionStatus.READY: _l("Ready"),
    DunningActionStatus.DONE: _l("Done"),
    DunningActionStatus.CANCELLED: _l("Cancelled"),
}
