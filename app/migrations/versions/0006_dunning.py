"""Add dunning and letter columns

Revision ID: 0006_dunning
Revises: 0005_collection
"""

from alembic import op

revision = "0006_dunning"
down_revision = "0005_collection"
branch_labels = None
depends_on = None


def upgrade():
    # A dunning run looks up, for each open invoice, the levels that already
    # covered it; the primary key (action_id, invoice_id) cannot serve that.
    with op.batch_alter_table("dunning_action_invoices") as batch_op:
        batch_op.create_index(
            "ix_dunning_action_invoices_invoice_id", ["invoice_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("dunning_action_invoices") as batch_op:
        batch_op.drop_index("ix_dunning_action_invoices_invoice_id")
