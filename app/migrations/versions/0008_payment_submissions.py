"""Record which form submission recorded a payment, and when cash was applied later

Revision ID: 0008_payment_submissions
Revises: 0007_auth
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_payment_submissions"
down_revision = "0007_auth"
branch_labels = None
depends_on = None


def upgrade():
    # The unique constraint accepts many NULLs on SQLite and PostgreSQL, so payments
    # loaded from legacy exports need no key.
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("submission_key", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("recorded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            "uq_payments_submission_key", ["submission_key"]
        )
        batch_op.create_foreign_key(
            "fk_payments_recorded_by_id_users", "users", ["recorded_by_id"], ["id"]
        )
    with op.batch_alter_table("allocations") as batch_op:
        batch_op.add_column(sa.Column("applied_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("applied_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_allocations_applied_by_id_users", "users", ["applied_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("allocations") as batch_op:
        batch_op.drop_constraint(
            "fk_allocations_applied_by_id_users", type_="foreignkey"
        )
        batch_op.drop_column("applied_by_id")
        batch_op.drop_column("applied_at")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_constraint("fk_payments_recorded_by_id_users", type_="foreignkey")
        batch_op.drop_constraint("uq_payments_submission_key", type_="unique")
        batch_op.drop_column("recorded_by_id")
        batch_op.drop_column("recorded_at")
        batch_op.drop_column("submission_key")
