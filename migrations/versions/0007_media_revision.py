"""Assets and video files carry a revision, raised by every update: status events' ids.
Video files are found by owner and content hash.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


TABLES = ("assets", "video_files")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_video_files_owner_sha256", "video_files", ["owner_id", "sha256"])


def downgrade() -> None:
    op.drop_index("ix_video_files_owner_sha256", table_name="video_files")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
