"""Discount levels and three-year commitments (R14-R16): consumable products, the
customer's level and look-back, and the commitments table

Revision ID: d7e9f1a3b5c4
Revises: 75f73fa03ad7
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import vip.models.types

revision = "d7e9f1a3b5c4"
down_revision = "75f73fa03ad7"
branch_labels = None
depends_on = None

STATES = ("requested", "committed", "declined", "noncompliant", "expired")


def upgrade():
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("consumable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("discount_level", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("lookback_anniversary", sa.Date(), nullable=True))
    op.create_table(
        "three_year_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *STATES,
                name="commitmentstate",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("minimum_quantity", sa.Integer(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", vip.models.types.UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_3yc_customer_id", "three_year_commitments", ["customer_id", "id"])
    op.create_index("ix_3yc_state_end", "three_year_commitments", ["state", "ends_on"])


def downgrade():
    op.drop_index("ix_3yc_state_end", table_name="three_year_commitments")
    op.drop_index("ix_3yc_customer_id", table_name="three_year_commitments")
    op.drop_table("three_year_commitments")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("lookback_anniversary")
        batch.drop_column("discount_level")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("consumable")
