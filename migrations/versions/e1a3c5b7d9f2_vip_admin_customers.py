"""A VIP admin of several customers: the `vip_admin_customers` link

One person (one login) may administer several customers, of one reseller or of different
resellers. Each VIP admin's one customer (`users.customer_id`) becomes its first row in
`vip_admin_customers`, and the column goes. Going down keeps each VIP admin's first
customer (the others are lost: the old schema has room for one).

Revision ID: e1a3c5b7d9f2
Revises: ad46b91eecc8
Create Date: 2026-12-05 11:45:00
"""

import sqlalchemy as sa
from alembic import op

import vip.models.types

revision = "e1a3c5b7d9f2"
down_revision = "ad46b91eecc8"
branch_labels = None
depends_on = None


def _keep_email_index(change) -> None:
    """SQLite's batch mode rebuilds the table from what it can reflect, and it cannot
    reflect the expression index that keeps emails unique whatever their case: dropped
    before, made again after."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_users_email_lower", table_name="users")
    change()
    if sqlite:
        op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def upgrade():
    op.create_table(
        "vip_admin_customers",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("added_at", vip.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_vip_admin_customers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_vip_admin_customers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "customer_id", name=op.f("pk_vip_admin_customers")),
    )
    with op.batch_alter_table("vip_admin_customers") as batch:
        batch.create_index(
            batch.f("ix_vip_admin_customers_customer_id"), ["customer_id"], unique=False
        )
    op.execute(
        "INSERT INTO vip_admin_customers (user_id, customer_id, added_at) "
        "SELECT id, customer_id, created_at FROM users "
        "WHERE role = 'vip_admin' AND customer_id IS NOT NULL"
    )

    def drop_column():
        with op.batch_alter_table("users") as batch:
            batch.drop_index("ix_users_customer_id")
            batch.drop_constraint("fk_users_customer_id_customers", type_="foreignkey")
            batch.drop_column("customer_id")

    _keep_email_index(drop_column)


def downgrade():
    def add_column():
        with op.batch_alter_table("users") as batch:
            batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                "fk_users_customer_id_customers", "customers", ["customer_id"], ["id"]
            )
            batch.create_index("ix_users_customer_id", ["customer_id"], unique=False)

    _keep_email_index(add_column)
    op.execute(
        "UPDATE users SET customer_id = (SELECT min(link.customer_id) "
        "FROM vip_admin_customers AS link WHERE link.user_id = users.id) "
        "WHERE role = 'vip_admin'"
    )
    with op.batch_alter_table("vip_admin_customers") as batch:
        batch.drop_index(batch.f("ix_vip_admin_customers_customer_id"))
    op.drop_table("vip_admin_customers")
