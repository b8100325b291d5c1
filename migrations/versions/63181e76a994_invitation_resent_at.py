"""Customers: when the VIP invitation was last resent

One resend a minute per customer (S31): the column a resend claims with a conditional
UPDATE, so that of many resends at once exactly one goes through.

Revision ID: 63181e76a994
Revises: d7e9f1a3b5c4
Create Date: 2026-12-05 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "63181e76a994"
down_revision = "d7e9f1a3b5c4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("invitation_resent_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("invitation_resent_at")
