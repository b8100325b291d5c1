"""Orders: the `imported` order type and its customer PO number

Revision ID: c5f7b9d1e3a2
Revises: b4e6a8c0d2f1
Create Date: 2026-12-05 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c5f7b9d1e3a2"
down_revision = "b4e6a8c0d2f1"
branch_labels = None
depends_on = None

OLD_TYPES = ("new", "add_on", "renewal")
NEW_TYPES = (*OLD_TYPES, "imported")


def _types(values) -> str:
    return "order_type IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def _keep_vendor_number_index(change) -> None:
    """SQLite's batch mode rebuilds the table from what it can reflect, and it cannot
    reflect the expression index that keeps vendor order numbers unique whatever their
    case: dropped before, made again after."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_orders_vendor_number_upper", table_name="orders")
    change()
    if sqlite:
        op.create_index(
            "uq_orders_vendor_number_upper",
            "orders",
            [sa.text("upper(vendor_order_number)")],
            unique=True,
        )


def upgrade():
    def change():
        with op.batch_alter_table("orders") as batch:
            batch.add_column(sa.Column("customer_po_number", sa.String(length=35), nullable=True))
            batch.drop_constraint("ordertype", type_="check")
            batch.create_check_constraint("ordertype", _types(NEW_TYPES))

    _keep_vendor_number_index(change)


def downgrade():
    op.execute(
        "DELETE FROM order_lines WHERE order_id IN "
        "(SELECT id FROM orders WHERE order_type = 'imported')"
    )
    op.execute("DELETE FROM orders WHERE order_type = 'imported'")

    def change():
        with op.batch_alter_table("orders") as batch:
            batch.drop_constraint("ordertype", type_="check")
            batch.create_check_constraint("ordertype", _types(OLD_TYPES))
            batch.drop_column("customer_po_number")

    _keep_vendor_number_index(change)
