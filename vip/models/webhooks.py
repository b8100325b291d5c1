"""Webhooks: a reseller's endpoints, the events its changes record (an outbox, written in
the same transaction as the change), one delivery per event and endpoint, and the log of
each attempt to deliver it (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.customers import Customer
from vip.models.enums import enum_column
from vip.models.tenancy import Reseller, User
from vip.models.types import UTCDateTime, utcnow


class WebhookEndpoint(db.Model):
    """A URL a partner admin registered, with the event types it receives. The secret
    signs every delivery (Standard Webhooks, `whsec_...`); it is shown once."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(120), default="")
    #: The event types it receives, as a list of their codes (vip.services.events.EVENT_TYPES).
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Deleted endpoints stay for their delivery log; they receive nothing more.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reseller: Mapped[Reseller] = relationship()
    created_by: Mapped[User | None] = relationship()


class WebhookEvent(db.Model):
    """One change, as the JSON body every endpoint subscribed to its type receives. The
    body is frozen when the change is made: a retry or a redelivery sends the same bytes
    with the same `event_id` (the `webhook-id` header)."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    #: Set for an event that must be recorded once whoever notices it first (an
    #: authorization becoming overdue); unique.
    once_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer | None] = relationship()


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; a redelivery queues it again
    CANCELLED = "cancelled"  # its endpoint was deleted


class WebhookDelivery(db.Model):
    """An event on its way to one endpoint. Deliveries of the same customer to the same
    endpoint go out in `id` order: a pending one holds back the later ones."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at", "id"),
        # The customer's earlier pending delivery to the same endpoint (ordering).
        Index("ix_webhook_deliveries_queue", "endpoint_id", "customer_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus))
    #: Attempts since it was (re)queued; each one is in `webhook_attempts` too.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()
    log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.id.desc()"
    )


class WebhookAttempt(db.Model):
    """One try to deliver: when, the HTTP status code (None when no answer came), the
    error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(default=0)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="log")
