"""Add users.session_version so that logging out ends the session everywhere

Revision ID: 0007_auth
Revises: 0006_dunning
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_auth"
down_revision = "0006_dunning"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_version")
