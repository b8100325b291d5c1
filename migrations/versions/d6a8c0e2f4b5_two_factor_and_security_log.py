"""Two-factor sign-in (TOTP secret, last step, recovery codes, the reseller's requirement)
and the security log's index

Revision ID: d6a8c0e2f4b5
Revises: c5f7b9d1e3a2
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import vip.models.types

revision = "d6a8c0e2f4b5"
down_revision = "c5f7b9d1e3a2"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch rebuild): SQLite adds nullable columns, and a NOT NULL one
    # with a constant default, in place, and users' expression index stays as it is.
    op.add_column(
        "resellers",
        sa.Column("require_two_factor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("users", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "users",
        sa.Column("two_factor_enabled_at", vip.models.types.UTCDateTime(), nullable=True),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", vip.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"], unique=False)
    op.create_index("ix_audit_reseller_at", "audit_events", ["reseller_id", "at"], unique=False)


def downgrade():
    op.drop_index("ix_audit_reseller_at", table_name="audit_events")
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("resellers") as batch:
        batch.drop_column("require_two_factor")
    # SQLite (3.35+) drops a plain column in place; users' expression index is untouched.
    op.drop_column("users", "two_factor_enabled_at")
    op.drop_column("users", "totp_last_step")
    op.drop_column("users", "totp_secret")
