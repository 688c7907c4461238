"""Add covering indexes for the worklist's ranking of overdue customers

Revision ID: 0009_page_indexes
Revises: 0008_payment_submissions
"""

from alembic import op

revision = "0009_page_indexes"
down_revision = "0008_payment_submissions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_invoices_open_overdue",
        "invoices",
        ["status", "customer_id", "due_date", "open_amount"],
    )
    op.create_index(
        "ix_dunning_actions_customer_latest",
        "dunning_actions",
        ["customer_id", "status", "run_date", "id", "level_id"],
    )


def downgrade():
    op.drop_index("ix_dunning_actions_customer_latest", table_name="dunning_actions")
    op.drop_index("ix_invoices_open_overdue", table_name="invoices")
