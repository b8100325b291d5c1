"""Orders know the term they belong to; order lines keep the SKU ordered (renewals, R9)

Revision ID: 3c1d2e7a9b40
Revises: 9747a388f5e3
Create Date: 2026-11-29 15:40:00

Existing orders all belong to their customer's current term (no renewal could be recorded
before this revision), so their term ends on the customer's anniversary date; existing lines
were ordered under their product's own SKU.
"""

import sqlalchemy as sa
from alembic import op

revision = "3c1d2e7a9b40"
down_revision = "9747a388f5e3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("term_ends_on", sa.Date(), nullable=True))
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sku", sa.String(length=40), nullable=True))

    op.execute(
        "UPDATE orders SET term_ends_on = (SELECT customers.anniversary_date FROM customers "
        "WHERE customers.id = orders.customer_id)"
    )
    op.execute(
        "UPDATE order_lines SET sku = (SELECT products.sku FROM products "
        "WHERE products.id = order_lines.product_id)"
    )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("term_ends_on", existing_type=sa.Date(), nullable=False)
        batch_op.create_index(
            "ix_orders_customer_term", ["customer_id", "term_ends_on"], unique=False
        )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.alter_column("sku", existing_type=sa.String(length=40), nullable=False)


def downgrade():
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("sku")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_customer_term")
        batch_op.drop_column("term_ends_on")
