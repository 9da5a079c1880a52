"""Frames a piece copied from its sources instead of encoding them, and their sum per render.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("render_pieces") as batch:
        batch.add_column(sa.Column("copied", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("pieces_copied", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("pieces_copied")
    with op.batch_alter_table("render_pieces") as batch:
        batch.drop_column("copied")
