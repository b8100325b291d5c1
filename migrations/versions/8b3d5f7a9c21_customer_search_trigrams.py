"""A trigram index for the customers search (FTS5 on SQLite, pg_trgm GIN on PostgreSQL);
indexes for the dashboard, the Outbox and the job's date ranges

Revision ID: 8b3d5f7a9c21
Revises: 7a2c4e6f8b10
Create Date: 2026-11-29 19:20:00

The statements are the ones of vip/models/customer_search.py at this revision; they are
written out here so that this migration keeps doing what it did when the module changes.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "8b3d5f7a9c21"
down_revision = "7a2c4e6f8b10"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SQLITE = (
    "CREATE VIRTUAL TABLE customer_search USING fts5("
    "search_key, content='customers', content_rowid='id', tokenize='trigram')",
    """CREATE TRIGGER customer_search_ai AFTER INSERT ON customers BEGIN
  INSERT INTO customer_search(rowid, search_key) VALUES (new.id, new.search_key);
END""",
    """CREATE TRIGGER customer_search_ad AFTER DELETE ON customers BEGIN
  INSERT INTO customer_search(customer_search, rowid, search_key)
  VALUES ('delete', old.id, old.search_key);
END""",
    """CREATE TRIGGER customer_search_au AFTER UPDATE OF search_key ON customers
BEGIN
  INSERT INTO customer_search(customer_search, rowid, search_key)
  VALUES ('delete', old.id, old.search_key);
  INSERT INTO customer_search(rowid, search_key) VALUES (new.id, new.search_key);
END""",
    "INSERT INTO customer_search(customer_search) VALUES ('rebuild')",
    "ANALYZE",
)


def upgrade():
    # (date, id) order for the dashboard's first rows: PostgreSQL's index holds no id.
    op.drop_index("ix_pa_status_due", table_name="purchase_authorizations")
    op.create_index(
        "ix_pa_status_due",
        "purchase_authorizations",
        ["status", "order_due_on", "id"],
        unique=False,
    )
    op.create_index(
        "ix_orders_status_date", "orders", ["status", "order_date", "id"], unique=False
    )
    op.create_index(
        "ix_notifications_created", "notifications", ["created_at", "id"], unique=False
    )
    op.create_index(
        "ix_notifications_status_created",
        "notifications",
        ["status", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_customers_reseller_status_anniversary",
        "customers",
        ["reseller_id", "status", "anniversary_date"],
        unique=False,
    )
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        for statement in SQLITE:
            connection.exec_driver_sql(statement)
        return
    if connection.dialect.name != "postgresql":
        return
    schema = connection.scalar(
        sa.text(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
        )
    )
    if schema is None:
        savepoint = connection.begin_nested()
        try:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        except Exception as error:  # noqa: BLE001 - no privilege: the search scans instead
            savepoint.rollback()
            log.warning(
                "pg_trgm unavailable; the customers search runs without an index: %s", error
            )
            return
        savepoint.commit()
        schema = "public"
    schema = schema.replace('"', "")
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_customers_search_key_trgm"
        f' ON customers USING gin (search_key "{schema}".gin_trgm_ops)'
    )
    connection.exec_driver_sql("ANALYZE customers")


def downgrade():
    op.drop_index("ix_notifications_status_created", table_name="notifications")
    op.drop_index("ix_notifications_created", table_name="notifications")
    op.drop_index("ix_customers_reseller_status_anniversary", table_name="customers")
    op.drop_index("ix_orders_status_date", table_name="orders")
    op.drop_index("ix_pa_status_due", table_name="purchase_authorizations")
    op.create_index(
        "ix_pa_status_due", "purchase_authorizations", ["status", "order_due_on"], unique=False
    )
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS customer_search_{suffix}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS customer_search")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP INDEX IF EXISTS ix_customers_search_key_trgm")
