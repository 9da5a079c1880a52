"""The render cache: pieces kept after their join as their owner's entries.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_cache",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=500), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_render_cache_owner_id_users")),
        sa.PrimaryKeyConstraint("owner_id", "key", name=op.f("pk_render_cache")),
    )
    with op.batch_alter_table("render_cache") as batch:
        batch.create_index(batch.f("ix_render_cache_created_at"), ["created_at"])
        batch.create_index(batch.f("ix_render_cache_last_used_at"), ["last_used_at"])
    op.create_table(
        "render_cache_sources",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["owner_id", "key"], ["render_cache.owner_id", "render_cache.key"],
                                ondelete="CASCADE",
                                name=op.f("fk_render_cache_sources_owner_id_render_cache")),
        sa.PrimaryKeyConstraint("owner_id", "key", "sha256", name=op.f("pk_render_cache_sources")),
    )
    with op.batch_alter_table("render_cache_sources") as batch:
        batch.create_index("ix_render_cache_sources_owner_sha256", ["owner_id", "sha256"])
    with op.batch_alter_table("render_pieces") as batch:
        batch.add_column(sa.Column("cache_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reused", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("pieces_reused", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("pieces_reused")
    with op.batch_alter_table("render_pieces") as batch:
        batch.drop_column("reused")
        batch.drop_column("cache_key")
    op.drop_table("render_cache_sources")
    op.drop_table("render_cache")
