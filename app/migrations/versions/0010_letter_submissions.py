"""Record which form submission wrote a letter, so that a resent form writes none

Revision ID: 0010_letter_submissions
Revises: 0009_page_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_letter_submissions"
down_revision = "0009_page_indexes"
branch_labels = None
depends_on = None


def upgrade():
    # Letters written by dunning actions have no key; both databases accept many
    # NULLs under a unique constraint.
    with op.batch_alter_table("letters") as batch_op:
        batch_op.add_column(sa.Column("submission_key", sa.String(64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_letters_submission_key", ["submission_key"]
        )


def downgrade():
    with op.batch_alter_table("letters") as batch_op:
        batch_op.drop_constraint("uq_letters_submission_key", type_="unique")
        batch_op.drop_column("submission_key")
