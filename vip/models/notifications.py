from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.customers import Customer
from vip.models.enums import enum_column
from vip.models.types import UTCDateTime, utcnow


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Notification(db.Model):
    """The outbox: a mail is committed here before anything tries to send it."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "cycle_key"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        # The Outbox page, newest first: all of it, or one status (the dashboard's failed
        # mail, the Outbox's filter).
        Index("ix_notifications_created", "created_at", "id"),
        Index("ix_notifications_status_created", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None for a mail to a reseller's own user (the set-password link of a new account).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    cycle_key: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="sv")
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(enum_column(NotificationStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Why a queued mail was cancelled instead of sent: a reminder's is a code of
    #: `vip.services.deadlines.CANCEL_REASONS`, an invitation's (S30) one of
    #: `vip.models.customers.INVITATION_*`.
    cancel_reason: Mapped[str | None] = mapped_column(String(30))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer | None] = relationship()
