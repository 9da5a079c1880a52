"""render_jobs.queued_at: when the job last became claimable, the start of its queue timeout.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("render_jobs") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE render_jobs SET queued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("render_jobs") as batch:
        batch.drop_column("queued_at")
