"""Cost that follows what is live, not history: running totals of the finishes (filled from
the ledger here), and indexes for the reads that looked through the whole history.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_totals",
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("series", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.String(length=20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("outcome", "series", "bucket", name=op.f("pk_render_totals")),
    )
    # The farm page's recent failures; the pruning of old finishes; a user's newest projects.
    op.create_index("ix_render_jobs_state_updated_at", "render_jobs", ["state", "updated_at"])
    op.create_index("ix_render_finishes_finished_at", "render_finishes", ["finished_at"])
    op.create_index("ix_projects_owner_id_created_at", "projects", ["owner_id", "created_at"])
    from shared import totals  # the one definition of what the totals hold

    session = Session(bind=op.get_bind())
    totals.rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_projects_owner_id_created_at", "projects")
    op.drop_index("ix_render_finishes_finished_at", "render_finishes")
    op.drop_index("ix_render_jobs_state_updated_at", "render_jobs")
    op.drop_table("render_totals")
