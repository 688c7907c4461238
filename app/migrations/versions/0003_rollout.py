"""Add rollout overrides, audit and exposure tables

Revision ID: 0003_rollout
Revises: 0002_collection
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_rollout"
down_revision = "0002_collection"
branch_labels = None
depends_on = None


def upgrade():
    state = op.create_table(
        "rollout_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_digest", sa.String(length=64), nullable=True),
        sa.Column("plan_source", sa.Text(), nullable=True),
        sa.Column("plan_json", sa.JSON(), nullable=True),
        sa.Column("plan_saved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_state")),
    )
    # The row that workers poll; services bump its version on every change.
    op.bulk_insert(state, [{"id": 1, "version": 0}])

    op.create_table(
        "rollout_kill_switches",
        sa.Column("flag", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_rollout_kill_switches_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("flag", name=op.f("pk_rollout_kill_switches")),
    )

    op.create_table(
        "rollout_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (team_id IS NULL)",
            name=op.f("ck_rollout_overrides_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_rollout_overrides_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_rollout_overrides_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rollout_overrides_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_overrides")),
        sa.UniqueConstraint(
            "flag", "team_id", name=op.f("uq_rollout_overrides_flag_team_id")
        ),
        sa.UniqueConstraint(
            "flag", "user_id", name=op.f("uq_rollout_overrides_flag_user_id")
        ),
    )
    with op.batch_alter_table("rollout_overrides") as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_overrides_flag"), ["flag"])

    op.create_table(
        "rollout_exposures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=100), nullable=False),
        sa.Column("first_exposed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rollout_exposures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_exposures")),
        sa.UniqueConstraint(
            "user_id", "flag", name=op.f("uq_rollout_exposures_user_id_flag")
        ),
    )
    with op.batch_alter_table("rollout_exposures") as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_exposures_flag"), ["flag"])

    op.create_table(
        "training_module_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.String(length=100), nullable=False),
        sa.Column("passed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_training_module_passes_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_module_passes")),
        sa.UniqueConstraint(
            "user_id",
            "module_id",
            name=op.f("uq_training_module_passes_user_id_module_id"),
        ),
    )
    with op.batch_alter_table("training_module_passes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_module_passes_user_id"), ["user_id"]
        )


def downgrade():
    with op.batch_alter_table("training_module_passes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_module_passes_user_id"))
    op.drop_table("training_module_passes")
    with op.batch_alter_table("rollout_exposures") as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_exposures_flag"))
    op.drop_table("rollout_exposures")
    with op.batch_alter_table("rollout_overrides") as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_overrides_flag"))
    op.drop_table("rollout_overrides")
    op.drop_table("rollout_kill_switches")
    op.drop_table("rollout_state")
