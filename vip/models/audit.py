from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.customers import Customer
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One row per state change, login, failed login, lock-out and denial (S22)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_customer_at", "customer_id", "at"),
        # The security log: a reseller's events, newest first (S46).
        Index("ix_audit_reseller_at", "reseller_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(254))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
