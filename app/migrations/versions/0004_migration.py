"""Add migration run details, rejections, undo records and cutovers

Revision ID: 0004_migration
Revises: 0003_rollout
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_migration"
down_revision = "0003_rollout"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("file_path", sa.String(length=1000), nullable=True)
        )
        batch_op.add_column(sa.Column("wave", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reconciliation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rolled_back_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("rolled_back_by", sa.String(length=254), nullable=True)
        )

    op.create_table(
        "import_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_import_rejections_run_id_import_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejections")),
    )
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_rejections_run_id"), ["run_id"], unique=False
        )

    op.create_table(
        "import_run_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_import_run_changes_run_id_import_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run_changes")),
    )
    with op.batch_alter_table("import_run_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_run_changes_run_id"), ["run_id"], unique=False
        )
        batch_op.create_index(
            "ix_import_run_changes_row", ["table_name", "row_id"], unique=False
        )

    op.create_table(
        "legacy_cutovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cut_over_at", sa.DateTime(), nullable=False),
        sa.Column("user_label", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_legacy_cutovers_run_id_import_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_cutovers")),
        sa.UniqueConstraint("source", name=op.f("uq_legacy_cutovers_source")),
    )


def downgrade():
    op.drop_table("legacy_cutovers")
    with op.batch_alter_table("import_run_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_import_run_changes_row")
        batch_op.drop_index(batch_op.f("ix_import_run_changes_run_id"))
    op.drop_table("import_run_changes")
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_rejections_run_id"))
    op.drop_table("import_rejections")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_column("rolled_back_by")
        batch_op.drop_column("rolled_back_at")
        batch_op.drop_column("reconciliation")
        batch_op.drop_column("settings")
        batch_op.drop_column("wave")
        batch_op.drop_column("file_path")
