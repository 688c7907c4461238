"""Add rollout overrides, audit and exposure tables

Revision ID: 0003_rollout
Revises: 0002_collection
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_rollout"
down_revision = "0002_collection"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
