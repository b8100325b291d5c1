"""Each customer's earliest pending order-due date, kept by triggers (the job's Försenad
and its way back as index ranges)

Revision ID: c4e6a8b0d2f4
Revises: b3d5f7a9c1e2
Create Date: 2026-12-05 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from vip.models.customer_search import create_sqlite_triggers
from vip.models.order_due_summary import REFRESH_ALL, create_triggers, drop_triggers

revision = "c4e6a8b0d2f4"
down_revision = "b3d5f7a9c1e2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("customers", sa.Column("earliest_order_due_on", sa.Date(), nullable=True))
    connection = op.get_bind()
    create_triggers(connection)
    connection.exec_driver_sql(REFRESH_ALL)
    op.create_index(
        "ix_customers_reseller_status_order_due",
        "customers",
        ["reseller_id", "status", "earliest_order_due_on"],
    )
    # The planner weighs the new index by its statistics (SQLite has none until then).
    op.execute("ANALYZE customers")


def downgrade():
    op.drop_index("ix_customers_reseller_status_order_due", table_name="customers")
    connection = op.get_bind()
    drop_triggers(connection)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("earliest_order_due_on")
    if connection.dialect.name == "sqlite":  # the rebuilt table lost the search's triggers
        create_sqlite_triggers(connection)
