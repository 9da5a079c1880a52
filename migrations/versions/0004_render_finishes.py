"""Render finishes (the ledger metrics count, the webhooks' outbox), first claims, webhook secrets.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_finishes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("edit_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("queued_seconds", sa.Float(), nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("output_seconds", sa.Float(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("webhook_state", sa.String(length=20), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_try_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_render_finishes")),
        sa.UniqueConstraint("job_id", name=op.f("uq_render_finishes_job_id")),
    )
    with op.batch_alter_table("render_finishes") as batch:
        batch.create_index(batch.f("ix_render_finishes_owner_id"), ["owner_id"])
        batch.create_index(batch.f("ix_render_finishes_asset_id"), ["asset_id"])
        batch.create_index(batch.f("ix_render_finishes_webhook_state"), ["webhook_state"])
    with op.batch_alter_table("render_jobs") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("webhook_secret")
    with op.batch_alter_table("render_jobs") as batch:
        batch.drop_column("started_at")
    op.drop_table("render_finishes")
