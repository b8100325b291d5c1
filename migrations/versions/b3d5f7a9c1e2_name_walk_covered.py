"""A search for a common word walks the name index alone (ix_customers_reseller_name + id,
search key)

Revision ID: b3d5f7a9c1e2
Revises: a2c4e6f8b0d1
Create Date: 2026-12-05 17:40:00
"""

from alembic import op

revision = "b3d5f7a9c1e2"
down_revision = "a2c4e6f8b0d1"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_customers_reseller_name", table_name="customers")
    op.create_index(
        "ix_customers_reseller_name",
        "customers",
        ["reseller_id", "company_name", "id", "search_key"],
    )
    # The planner weighs the new index by its statistics (SQLite has none until then).
    op.execute("ANALYZE customers")


def downgrade():
    op.drop_index("ix_customers_reseller_name", table_name="customers")
    op.create_index("ix_customers_reseller_name", "customers", ["reseller_id", "company_name"])
