"""A probed video's keyframes (source times), where the piece plan cuts its long clips.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("video_files", "assets"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("keyframes", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("assets", "video_files"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("keyframes")
