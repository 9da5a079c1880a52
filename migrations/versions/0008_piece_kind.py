"""Chunked renders: a piece is video frames or the render's whole sound.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("render_pieces") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), nullable=False,
                                   server_default="video"))


def downgrade() -> None:
    with op.batch_alter_table("render_pieces") as batch:
        batch.drop_column("kind")
