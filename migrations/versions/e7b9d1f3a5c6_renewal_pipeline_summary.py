"""The renewal pipeline's summary: what each customer adds (pipeline_entries) and the sums
per reseller, kind and day (pipeline_days), filled from the customers and their orders

Revision ID: e7b9d1f3a5c6
Revises: 63181e76a994
Create Date: 2026-12-05 12:40:00

The backfill is the SQL of vip/services/pipeline_summary.py's `entry_queries` at this
revision, written out so that this migration keeps doing what it did when the module
changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "e7b9d1f3a5c6"
down_revision = "63181e76a994"
branch_labels = None
depends_on = None

LICENSES = (
    "COALESCE(SUM(l.quantity), 0) - COALESCE(SUM(CASE WHEN l.status = 'returned'"
    " THEN l.quantity ELSE l.returned_quantity END), 0)"
)
BACKFILL = (
    f"""INSERT INTO pipeline_entries (customer_id, reseller_id, kind, day, licenses)
SELECT c.id, c.reseller_id, 'open', c.anniversary_date, {LICENSES}
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id AND o.term_ends_on = c.anniversary_date
LEFT JOIN order_lines l ON l.order_id = o.id
WHERE c.anniversary_date IS NOT NULL
GROUP BY c.id, c.reseller_id, c.anniversary_date""",
    f"""INSERT INTO pipeline_entries (customer_id, reseller_id, kind, day, licenses)
SELECT r.customer_id, r.reseller_id, 'renewed', r.term_ends_on, {LICENSES}
FROM (SELECT DISTINCT o.customer_id, c.reseller_id, o.term_ends_on
      FROM orders o JOIN customers c ON c.id = o.customer_id
      WHERE o.order_type = 'renewal') r
LEFT JOIN orders o ON o.customer_id = r.customer_id AND o.term_ends_on = r.term_ends_on
LEFT JOIN order_lines l ON l.order_id = o.id
GROUP BY r.customer_id, r.reseller_id, r.term_ends_on""",
    """INSERT INTO pipeline_days (reseller_id, kind, day, customers, licenses)
SELECT reseller_id, kind, day, COUNT(*), SUM(licenses)
FROM pipeline_entries GROUP BY reseller_id, kind, day""",
)


def upgrade():
    op.create_table(
        "pipeline_entries",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("licenses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "kind", "day"),
    )
    op.create_table(
        "pipeline_days",
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("licenses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["reseller_id"], ["resellers.id"]),
        sa.PrimaryKeyConstraint("reseller_id", "kind", "day"),
    )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade():
    op.drop_table("pipeline_days")
    op.drop_table("pipeline_entries")
