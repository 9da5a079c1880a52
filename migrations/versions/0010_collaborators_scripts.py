"""Edits shared with collaborators; stored scripts of projects.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edit_collaborators",
        sa.Column("edit_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("added_by", sa.String(length=36), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["edit_id"], ["edits.id"], ondelete="CASCADE",
                                name=op.f("fk_edit_collaborators_edit_id_edits")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_edit_collaborators_user_id_users")),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_edit_collaborators_added_by_users")),
        sa.PrimaryKeyConstraint("edit_id", "user_id", name=op.f("pk_edit_collaborators")),
    )
    with op.batch_alter_table("edit_collaborators") as batch:
        batch.create_index(batch.f("ix_edit_collaborators_user_id"), ["user_id"])
        batch.create_index(batch.f("ix_edit_collaborators_added_at"), ["added_at"])
    op.create_table(
        "scripts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("manuscript", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_scripts_owner_id_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_scripts_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripts")),
    )
    with op.batch_alter_table("scripts") as batch:
        batch.create_index(batch.f("ix_scripts_owner_id"), ["owner_id"])
        batch.create_index(batch.f("ix_scripts_project_id"), ["project_id"])
        batch.create_index(batch.f("ix_scripts_created_at"), ["created_at"])


def downgrade() -> None:
    op.drop_table("scripts")
    op.drop_table("edit_collaborators")
