"""Add migration run details and reconciliation

Revision ID: 0004_migration
Revises: 0003_rollout
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_migration"
down_revision = "0003_rollout"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
