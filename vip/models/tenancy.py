from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Index, String, false, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.enums import enum_column
from vip.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    RESELLER_ADMIN = "reseller_admin"
    RESELLER_SALES = "reseller_sales"
    VIP_ADMIN = "vip_admin"


class Reseller(db.Model):
    __tablename__ = "resellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Stockholm")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: Every user of the reseller must sign in with a second factor (S40).
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Counts the transactions that changed the reseller's customers, authorizations or
    #: orders (vip/services/change_count.py): the version behind the calendar feed's ETag.
    change_count: Mapped[int] = mapped_column(default=0, server_default="0")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    # A reseller user's reseller; a VIP admin has none: it belongs to no reseller's team and
    # reaches its customers only through `vip_admin_customers`.
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), index=True)
    language: Mapped[str] = mapped_column(String(2), default="sv")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The second factor (S40-S42): the TOTP secret (base32) once enrolment is confirmed,
    # and the last time step a code was accepted for, so that no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    two_factor_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reseller: Mapped[Reseller | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        # The session version travels with the id: bumping it ends every session (S5).
        return f"{self.id}:{self.session_version}"

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_reseller_user(self) -> bool:
        return self.role in (Role.RESELLER_ADMIN, Role.RESELLER_SALES)

    @property
    def tenant_reseller_id(self) -> int | None:
        """The reseller whose data this user works in; None for a VIP admin, who may
        administer customers of several resellers (its events belong to a customer)."""
        return self.reseller_id


class VipAdminCustomer(db.Model):
    """One customer a VIP admin administers. One person (one login) may administer
    several customers, of one reseller or of different resellers, as in the vendor's
    own Admin Console; this link never makes them a member of any reseller's team."""

    __tablename__ = "vip_admin_customers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def administered_customer_ids(user_id):
    """The ids of the customers a VIP admin administers, as a subquery."""
    return select(VipAdminCustomer.customer_id).where(VipAdminCustomer.user_id == user_id)


# Emails are unique whatever their case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class RecoveryCode(db.Model):
    """One of a user's ten single-use recovery codes for the second factor; only its
    SHA-256 is stored (S41)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
