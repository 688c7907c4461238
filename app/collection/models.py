"""Collection work: activities, promises to pay, disputes, dunning and letters."""

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.extensions import db
from app.ledger.models import Customer, Invoice, Money
from app.timeutil import utcnow


class ActivityKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    LETTER = "letter"
    NOTE = "note"
    PROMISE = "promise"
    DISPUTE = "dispute"
    PAYMENT = "payment"


class ActivityOutcome(StrEnum):
    """Result of a contact. An empty outcome means none was recorded."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    CALLBACK_REQUESTED = "callback_requested"
    WRONG_CONTACT = "wrong_contact"
    SENT = "sent"


class Activity(db.Model):
    """One contact with, or event on, a customer account, in the account's history."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(64), default="")

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


promise_invoices = db.Table(
    "promise_invoices",
    db.Column("promise_id", ForeignKey("promises.id"), primary_key=True),
    db.Column("invoice_id", ForeignKey("invoices.id"), primary_key=True),
    Index("ix_promise_invoices_invoice_id", "invoice_id"),
)


class Promise(db.Model):
    """A customer's promise to pay an amount by a date, for some invoices."""

    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_status_promised_date", "status", "promised_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    promised_date: Mapped[dt.date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), default=PromiseStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_on: Mapped[dt.date | None]
    note: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(secondary=promise_invoices)


class DisputeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class DisputeReason(StrEnum):
    PRICING = "pricing"
    QUANTITY = "quantity"
    QUALITY = "quality"
    NOT_RECEIVED = "not_received"
    DUPLICATE = "duplicate"
    OTHER = "other"
    # Opened by a legacy import for an invoice that the old system flagged as
    # disputed. Collectors cannot choose it.
    LEGACY_IMPORT = "legacy_import"


class Dispute(db.Model):
    """A disagreement about an invoice; it blocks dunning on it until resolved."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default=DisputeStatus.OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")

    invoice: Mapped[Invoice] = relationship()
    customer: Mapped[Customer] = relationship()
    owner: Mapped[User | None] = relationship()


class DunningChannel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    CALL = "call"
    FORMAL_NOTICE = "formal_notice"


class DunningPolicy(db.Model):
    __tablename__ = "dunning_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)

    levels: Mapped[list["DunningLevel"]] = relationship(
        back_populates="policy",
        order_by="DunningLevel.position",
        cascade="all, delete-orphan",
    )


class DunningLevel(db.Model):
    """One step of a policy, ``days_from_due`` after the due date (negative: before)."""

    __tablename__ = "dunning_levels"
    __table_args__ = (UniqueConstraint("policy_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("dunning_policies.id"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    days_from_due: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16))
    template_key: Mapped[str] = mapped_column(String(64))
    min_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))

    policy: Mapped[DunningPolicy] = relationship(back_populates="levels")


class DunningActionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    READY = "ready"
    DONE = "done"
    CANCELLED = "cancelled"


dunning_action_invoices = db.Table(
    "dunning_action_invoices",
    db.Column("action_id", ForeignKey("dunning_actions.id"), primary_key=True),
    db.Column("invoice_id", ForeignKey("invoices.id"), primary_key=True),
    Index("ix_dunning_action_invoices_invoice_id", "invoice_id"),
)


class DunningAction(db.Model):
    """A dunning run's decision for one customer at one level, and its progress."""

    __tablename__ = "dunning_actions"
    __table_args__ = (
        # Covers the worklist's search for each customer's latest done action.
        Index(
            "ix_dunning_actions_customer_latest",
            "customer_id",
            "status",
            "run_date",
            "id",
            "level_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("dunning_levels.id"), index=True)
    run_date: Mapped[dt.date] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]

    customer: Mapped[Customer] = relationship()
    level: Mapped[DunningLevel] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(secondary=dunning_action_invoices)


class LetterTemplate(db.Model):
    """An editable letter text (Jinja) per template key and language."""

    __tablename__ = "letter_templates"
    __table_args__ = (UniqueConstraint("key", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Letter(db.Model):
    """A letter as it was sent, kept verbatim."""

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_actions.id"))
    template_key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(200))
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # The one-time key of the letter form that wrote it; None for dunning actions.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    customer: Mapped[Customer] = relationship()
