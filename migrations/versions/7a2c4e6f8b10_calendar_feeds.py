"""Calendar feeds: a reseller user's private ICS link, stored as the hash of its token

Revision ID: 7a2c4e6f8b10
Revises: 5e8f0a1b2c3d
Create Date: 2026-11-29 18:00:00
"""

import sqlalchemy as sa
from alembic import op

import vip.models.types

revision = "7a2c4e6f8b10"
down_revision = "5e8f0a1b2c3d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", vip.models.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", vip.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_fetched_at", vip.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feeds_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_calendar_feeds_active_user",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index("uq_calendar_feeds_active_user")
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_user_id"))
    op.drop_table("calendar_feeds")
