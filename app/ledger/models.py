"""Customers, invoices, payments and the allocations that tie them together."""

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Team, User
from app.extensions import db
from app.timeutil import utcnow

Money = Numeric(14, 2)


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"


class LegacyTraced:
    """Columns that trace a migrated record to its row in the legacy export."""

    legacy_source: Mapped[str | None] = mapped_column(String(64))
    legacy_id: Mapped[str | None] = mapped_column(String(128))
    import_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id"), index=True
    )


class Customer(LegacyTraced, db.Model):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("legacy_source", "legacy_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)
    dunning_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("dunning_policies.id", use_alter=True)
    )
    # Annual percent agreed in the contract for late-payment interest; None means
    # the statutory rate.
    contract_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship()
    collector: Mapped[User | None] = relationship()
    invoices: Mapped[list["Invoice"]] = relationship(back_populates="customer")

    @property
    def reference(self) -> str:
        return self.legacy_id or str(self.id)


class Invoice(LegacyTraced, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("legacy_source", "legacy_id"),
        Index("ix_invoices_customer_status", "customer_id", "status"),
        Index("ix_invoices_status_due", "status", "due_date"),
        # Covers the worklist's sums of overdue open invoices by customer, so they
        # are read from the index without visiting the table.
        Index(
            "ix_invoices_open_overdue",
            "status",
            "customer_id",
            "due_date",
            "open_amount",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(64))
    issue_date: Mapped[dt.date]
    due_date: Mapped[dt.date]
    amount: Mapped[Decimal] = mapped_column(Money)
    open_amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[str] = mapped_column(String(12), default=InvoiceStatus.OPEN)
    disputed: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer] = relationship(back_populates="invoices")
    allocations: Mapped[list["Allocation"]] = relationship(back_populates="invoice")

    def days_past_due(self, on: dt.date) -> int:
        return (on - self.due_date).days


class PaymentKind(StrEnum):
    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"
    OPENING = "opening"


class Payment(LegacyTraced, db.Model):
    """Money received from, or credited to, a customer; allocated to invoices."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("legacy_source", "legacy_id"),
        UniqueConstraint("submission_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=PaymentKind.PAYMENT)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    received_on: Mapped[dt.date]
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    reference: Mapped[str] = mapped_column(String(128), default="")
    # One-time key of the form that recorded the payment. The unique constraint
    # makes a second submission of the same form fail, even from another process.
    # None when the writer passed no key, as legacy imports do.
    submission_key: Mapped[str | None] = mapped_column(String(64))
    # UTC time, without zone, at which a user recorded the payment. None for
    # payments loaded from a legacy export.
    recorded_at: Mapped[dt.datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    allocations: Mapped[list["Allocation"]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


class Allocation(db.Model):
    """The part of a payment applied to one invoice."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    # UTC time, without zone, at which a user applied unallocated cash of the
    # payment to the invoice. None when the allocation was made with the payment.
    applied_at: Mapped[dt.datetime | None]
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship(back_populates="allocations")
    applied_by: Mapped[User | None] = relationship()
