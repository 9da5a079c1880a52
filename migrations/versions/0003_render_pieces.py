"""Chunked renders: a render_pieces table, the piece plan on the job, piece counts on the asset.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_pieces",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("frame_start", sa.Integer(), nullable=False),
        sa.Column("frame_end", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("output_key", sa.String(length=500), nullable=True),
        sa.Column("frames_done", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["render_jobs.id"],
                                name=op.f("fk_render_pieces_job_id_render_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "index", name=op.f("pk_render_pieces")),
    )
    with op.batch_alter_table("render_pieces") as batch:
        batch.create_index(batch.f("ix_render_pieces_state"), ["state"], unique=False)
    with op.batch_alter_table("render_jobs") as batch:
        batch.add_column(sa.Column("chunk_frames", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("frame_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("pieces_total", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pieces_done", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("pieces_done")
        batch.drop_column("pieces_total")
    with op.batch_alter_table("render_jobs") as batch:
        batch.drop_column("frame_count")
        batch.drop_column("chunk_frames")
    with op.batch_alter_table("render_pieces") as batch:
        batch.drop_index(batch.f("ix_render_pieces_state"))
    op.drop_table("render_pieces")
