"""Add dunning and letter columns

Revision ID: 0006_dunning
Revises: 0005_collection
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006_dunning"
down_revision = "0005_collection"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
