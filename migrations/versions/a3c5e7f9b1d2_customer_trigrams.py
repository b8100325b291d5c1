"""Each customer's trigrams in name order (customer_trigrams, kept by triggers on customers),
for the customers search for a common word; the positions a trigram can start at
(trigram_positions)

Revision ID: a3c5e7f9b1d2
Revises: f2a4c6e8b0d1
Create Date: 2026-12-06 00:00:00
"""

import sqlalchemy as sa
from alembic import op

from vip.models.customer_trigrams import POSITIONS, create_triggers, drop_triggers, fill

revision = "a3c5e7f9b1d2"
down_revision = "f2a4c6e8b0d1"
branch_labels = None
depends_on = None


def upgrade():
    positions = op.create_table(
        "trigram_positions",
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("n"),
    )
    op.bulk_insert(positions, POSITIONS)
    op.create_table(
        "customer_trigrams",
        sa.Column("reseller_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trigram", sa.String(length=3), nullable=False),
        sa.Column("company_name", sa.String(length=80), nullable=False),
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("reseller_id", "trigram", "company_name", "customer_id"),
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    fill(connection)
    create_triggers(connection)


def downgrade():
    drop_triggers(op.get_bind())
    op.drop_table("customer_trigrams")
    op.drop_table("trigram_positions")
