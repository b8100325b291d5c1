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


def _rebuilding_users(change) -> None:
    """SQLite's batch mode rebuilds `users` (a copy, DROP TABLE users, a rename; with
    foreign keys off, migrations/env.py), and cannot reflect the expression index that
    keeps emails unique whatever their case: dropped before, made again after."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_users_email_lower", table_name="users")
    change()
    if sqlite:
        op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def upgrade():
    bind = op.get_bind()
    # Read before the users table is rebuilt (SQLite), which drops the column.
    pairs = [
        {"user_id": user_id, "customer_id": customer_id, "added_at": created_at}
        for user_id, customer_id, created_at in bind.execute(
            sa.text(
                "SELECT id, customer_id, created_at FROM users "
                "WHERE role = 'vip_admin' AND customer_id IS NOT NULL ORDER BY id"
            )
        )
    ]

    def drop_column():
        with op.batch_alter_table("users") as batch:
            batch.drop_index("ix_users_customer_id")
            batch.drop_constraint("fk_users_customer_id_customers", type_="foreignkey")
            batch.drop_column("customer_id")

    _rebuilding_users(drop_column)
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
    if pairs:
        bind.execute(
            sa.text(
                "INSERT INTO vip_admin_customers (user_id, customer_id, added_at) "
                "VALUES (:user_id, :customer_id, :added_at)"
            ),
            pairs,
        )


def downgrade():
    bind = op.get_bind()
    # Each VIP admin's first customer, read before the users table is rebuilt (SQLite).
    first = [
        {"user_id": user_id, "customer_id": customer_id}
        for user_id, customer_id in bind.execute(
            sa.text(
                "SELECT user_id, min(customer_id) FROM vip_admin_customers GROUP BY user_id"
            )
        )
    ]
    with op.batch_alter_table("vip_admin_customers") as batch:
        batch.drop_index(batch.f("ix_vip_admin_customers_customer_id"))
    op.drop_table("vip_admin_customers")

    def add_column():
        with op.batch_alter_table("users") as batch:
            batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                "fk_users_customer_id_customers", "customers", ["customer_id"], ["id"]
            )
            batch.create_index("ix_users_customer_id", ["customer_id"], unique=False)

    _rebuilding_users(add_column)
    if first:
        bind.execute(
            sa.text("UPDATE users SET customer_id = :customer_id WHERE id = :user_id"), first
        )
