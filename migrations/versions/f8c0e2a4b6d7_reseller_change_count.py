"""A change counter per reseller (the calendar feed's ETag)

Revision ID: f8c0e2a4b6d7
Revises: e7b9d1f3a5c6
Create Date: 2026-12-05 12:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f8c0e2a4b6d7"
down_revision = "e7b9d1f3a5c6"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN: SQLite adds a NOT NULL column with a constant default in place.
    op.add_column(
        "resellers",
        sa.Column("change_count", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade():
    with op.batch_alter_table("resellers") as batch:
        batch.drop_column("change_count")
