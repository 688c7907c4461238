"""Add collection work columns

Revision ID: 0005_collection
Revises: 0004_migration
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0005_collection"
down_revision = "0004_migration"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
