"""The plan's frames per piece: the column says piece, as the code does (was chunk_frames).

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("render_jobs") as batch:
        batch.alter_column("chunk_frames", new_column_name="piece_frames")


def downgrade() -> None:
    with op.batch_alter_table("render_jobs") as batch:
        batch.alter_column("piece_frames", new_column_name="chunk_frames")
