"""The job's overdue authorizations read from the index alone (ix_pa_status_due + customer)

Revision ID: a2c4e6f8b0d1
Revises: f8c0e2a4b6d7
Create Date: 2026-12-05 17:50:00
"""

from alembic import op

revision = "a2c4e6f8b0d1"
down_revision = "f8c0e2a4b6d7"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_pa_status_due", table_name="purchase_authorizations")
    op.create_index(
        "ix_pa_status_due",
        "purchase_authorizations",
        ["status", "order_due_on", "id", "customer_id"],
    )
    # The planner weighs the new index by its statistics (SQLite has none until then).
    op.execute("ANALYZE purchase_authorizations")


def downgrade():
    op.drop_index("ix_pa_status_due", table_name="purchase_authorizations")
    op.create_index(
        "ix_pa_status_due", "purchase_authorizations", ["status", "order_due_on", "id"]
    )
