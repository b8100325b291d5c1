"""Notifications: a cancelled reminder's reason; mail to a reseller's own user

Why a queued reminder was cancelled instead of sent (R10), and no customer for a mail to a
reseller's own user (the set-password link of a new account).

Revision ID: b4e6a8c0d2f1
Revises: 8b3d5f7a9c21
Create Date: 2026-12-05 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b4e6a8c0d2f1"
down_revision = "8b3d5f7a9c21"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(length=30), nullable=True))
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
    # Reminders a renewal cancelled before the reason had a column of its own.
    op.execute(
        "UPDATE notifications SET cancel_reason = 'renewed', last_error = NULL "
        "WHERE status = 'cancelled' AND last_error = 'renewed'"
    )


def downgrade():
    op.execute("DELETE FROM notifications WHERE customer_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("cancel_reason")
