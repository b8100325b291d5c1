"""Indexes for distributor scale (README, "Performance"); vendor order numbers unique

Revision ID: 5e8f0a1b2c3d
Revises: 3c1d2e7a9b40
Create Date: 2026-11-29 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5e8f0a1b2c3d"
down_revision = "3c1d2e7a9b40"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_key", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_customers_reseller_anniversary", ["reseller_id", "anniversary_date"], unique=False
        )
        batch_op.create_index("ix_customers_reseller_vip_id", ["reseller_id", "vip_id"], unique=False)
        batch_op.create_index(
            "ix_customers_reseller_status_name",
            ["reseller_id", "status", "company_name"],
            unique=False,
        )
    # The search key: company name, VIP ID and admin email case-folded (as the app writes it).
    connection = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer),
        sa.column("company_name", sa.String),
        sa.column("vip_id", sa.String),
        sa.column("admin_email", sa.String),
        sa.column("search_key", sa.String),
    )
    rows = connection.execute(
        sa.select(customers.c.id, customers.c.company_name, customers.c.vip_id, customers.c.admin_email)
    ).all()
    for start in range(0, len(rows), 5000):
        connection.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key")),
            [
                {"row_id": row.id, "key": " ".join(p for p in row[1:] if p).casefold()}
                for row in rows[start : start + 5000]
            ],
        )
    op.create_index(
        "uq_orders_vendor_number_upper",
        "orders",
        [sa.text("upper(vendor_order_number)")],
        unique=True,
    )
    with op.batch_alter_table("purchase_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pa_customer_status_due", ["customer_id", "status", "order_due_on"], unique=False
        )


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_reseller_status_name")
        batch_op.drop_index("ix_customers_reseller_vip_id")
        batch_op.drop_index("ix_customers_reseller_anniversary")
        batch_op.drop_column("search_key")
    op.drop_index("uq_orders_vendor_number_upper", table_name="orders")
    with op.batch_alter_table("purchase_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_pa_customer_status_due")
