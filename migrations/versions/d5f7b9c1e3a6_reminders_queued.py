"""The reminders each customer has had for its current anniversary, kept by triggers (the
job's reminders due as index ranges)

Revision ID: d5f7b9c1e3a6
Revises: c4e6a8b0d2f4
Create Date: 2026-12-05 18:30:00
"""

import sqlalchemy as sa
from alembic import op

from vip.models import order_due_summary
from vip.models.customer_search import create_sqlite_triggers
from vip.models.reminder_summary import (
    REFRESH_ALL,
    REMINDER_BITS,
    UNREMINDED_COLUMNS,
    create_triggers,
    drop_triggers,
    not_reminded,
)

revision = "d5f7b9c1e3a6"
down_revision = "c4e6a8b0d2f4"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "customers",
        sa.Column("reminders_queued", sa.Integer(), server_default="0", nullable=False),
    )
    connection = op.get_bind()
    create_triggers(connection)
    connection.exec_driver_sql(REFRESH_ALL)
    for kind in REMINDER_BITS:
        op.create_index(
            f"ix_customers_unreminded_{kind}",
            "customers",
            list(UNREMINDED_COLUMNS),
            sqlite_where=sa.text(not_reminded(kind)),
            postgresql_where=sa.text(not_reminded(kind)),
        )
    # The planner weighs the new index by its statistics (SQLite has none until then).
    op.execute("ANALYZE customers")


def downgrade():
    for kind in REMINDER_BITS:
        op.drop_index(f"ix_customers_unreminded_{kind}", table_name="customers")
    connection = op.get_bind()
    drop_triggers(connection)
    # SQLite checks every trigger naming customers while it rebuilds the table.
    order_due_summary.drop_triggers(connection)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("reminders_queued")
    if connection.dialect.name == "sqlite":  # the rebuilt table lost the search's triggers
        create_sqlite_triggers(connection)
    order_due_summary.create_triggers(connection)
