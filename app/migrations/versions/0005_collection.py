"""Index promises by invoice, and by status and promised date

Revision ID: 0005_collection
Revises: 0004_migration
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0005_collection"
down_revision = "0004_migration"
branch_labels = None
depends_on = None


def upgrade():
    # Finding the promises that cover an invoice, and the pending promises that are
    # due, would otherwise scan the whole table.
    with op.batch_alter_table("promise_invoices") as batch_op:
        batch_op.create_index("ix_promise_invoices_invoice_id", ["invoice_id"])
    with op.batch_alter_table("promises") as batch_op:
        batch_op.create_index(
            "ix_promises_status_promised_date", ["status", "promised_date"]
        )


def downgrade():
    with op.batch_alter_table("promises") as batch_op:
        batch_op.drop_index("ix_promises_status_promised_date")
    with op.batch_alter_table("promise_invoices") as batch_op:
        batch_op.drop_index("ix_promise_invoices_invoice_id")
