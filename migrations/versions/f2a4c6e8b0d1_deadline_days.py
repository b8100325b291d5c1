"""The calendar feed's deadlines per reseller and day in the pipeline's summary: pending
authorizations by order-due date, placed orders with a return window by order date, and
running three-year commitments by end date (kinds `order_due`, `placed`, `3yc_ends`)

Revision ID: f2a4c6e8b0d1
Revises: d5f7b9c1e3a6
Create Date: 2026-12-05 23:00:00

No schema change: the rows of the new kinds, filled from the authorizations, orders and
commitments. The SQL is that of vip/services/pipeline_summary.py's `entry_queries` for
those kinds at this revision, written out so that this migration keeps doing what it did
when the module changes.
"""

from alembic import op

revision = "f2a4c6e8b0d1"
down_revision = "d5f7b9c1e3a6"
branch_labels = None
depends_on = None

KINDS = ("order_due", "placed", "3yc_ends")
BACKFILL = (
    """INSERT INTO pipeline_entries (customer_id, reseller_id, kind, day, licenses)
SELECT p.customer_id, c.reseller_id, 'order_due', p.order_due_on, COUNT(*)
FROM purchase_authorizations p JOIN customers c ON c.id = p.customer_id
WHERE p.status = 'pending' AND p.order_due_on IS NOT NULL
GROUP BY p.customer_id, c.reseller_id, p.order_due_on""",
    """INSERT INTO pipeline_entries (customer_id, reseller_id, kind, day, licenses)
SELECT o.customer_id, c.reseller_id, 'placed', o.order_date, COUNT(*)
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.status = 'placed' AND o.order_type != 'imported' AND o.order_date IS NOT NULL
GROUP BY o.customer_id, c.reseller_id, o.order_date""",
    """INSERT INTO pipeline_entries (customer_id, reseller_id, kind, day, licenses)
SELECT t.customer_id, c.reseller_id, '3yc_ends', t.ends_on, COUNT(*)
FROM three_year_commitments t JOIN customers c ON c.id = t.customer_id
WHERE t.state IN ('committed', 'noncompliant') AND t.ends_on IS NOT NULL
GROUP BY t.customer_id, c.reseller_id, t.ends_on""",
    """INSERT INTO pipeline_days (reseller_id, kind, day, customers, licenses)
SELECT reseller_id, kind, day, COUNT(*), SUM(licenses)
FROM pipeline_entries WHERE kind IN ('order_due', 'placed', '3yc_ends')
GROUP BY reseller_id, kind, day""",
)


def upgrade():
    for statement in BACKFILL:
        op.execute(statement)


def downgrade():
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    op.execute(f"DELETE FROM pipeline_days WHERE kind IN ({kinds})")
    op.execute(f"DELETE FROM pipeline_entries WHERE kind IN ({kinds})")
