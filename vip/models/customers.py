from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.catalog import MarketSegment
from vip.models.enums import enum_column
from vip.models.tenancy import Reseller
from vip.models.types import UTCDateTime, utcnow


class CustomerStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DELAYED = "delayed"
    INACTIVE = "inactive"


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        # The list in name order; with the search key, a search for a common word walks
        # the index alone (vip.services.listing.search_walk_clause).
        Index("ix_customers_reseller_name", "reseller_id", "company_name", "id", "search_key"),
        Index("ix_customers_reseller_status", "reseller_id", "status"),
        Index("ix_customers_anniversary", "anniversary_date"),
        Index("ix_customers_reseller_anniversary", "reseller_id", "anniversary_date"),
        Index("ix_customers_reseller_vip_id", "reseller_id", "vip_id"),
        Index("ix_customers_reseller_status_name", "reseller_id", "status", "company_name"),
        # The job (and its preview): customers to become Försenad, or to come back.
        Index(
            "ix_customers_reseller_status_order_due",
            "reseller_id",
            "status",
            "earliest_order_due_on",
        ),
        # The job (and its preview): customers with access whose anniversary is in a range.
        Index(
            "ix_customers_reseller_status_anniversary",
            "reseller_id",
            "status",
            "anniversary_date",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    company_name: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(2))
    market_segment: Mapped[MarketSegment] = mapped_column(enum_column(MarketSegment))
    admin_name: Mapped[str] = mapped_column(String(120))
    admin_email: Mapped[str] = mapped_column(String(254), index=True)
    admin_language: Mapped[str] = mapped_column(String(2), default="sv")
    vip_id: Mapped[str] = mapped_column(String(10), unique=True)
    status: Mapped[CustomerStatus] = mapped_column(enum_column(CustomerStatus))
    # The status to return to when no overdue authorization remains.
    status_before_delay: Mapped[CustomerStatus | None] = mapped_column(
        enum_column(CustomerStatus, name="status_before_delay")
    )
    anniversary_date: Mapped[date | None]
    # The discount level the customer holds, and the anniversary whose look-back (31
    # days before it) has been applied.
    discount_level: Mapped[int] = mapped_column(default=1, server_default="1")
    lookback_anniversary: Mapped[date | None]
    # The earliest order-due date of its pending purchase authorizations, kept by the
    # database's triggers (vip/models/order_due_summary.py); read in SQL only.
    earliest_order_due_on: Mapped[date | None]
    # The reminders queued for its current anniversary, a bit per kind, kept by the
    # database's triggers and indexed per kind (vip/models/reminder_summary.py); read in
    # SQL only.
    reminders_queued: Mapped[int] = mapped_column(default=0, server_default="0")
    # Company name, VIP ID and admin email case-folded: what the list's search matches.
    search_key: Mapped[str] = mapped_column(String(400), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: When the VIP invitation was last resent: one resend a minute (S31).
    invitation_resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def status_needs_attention(self) -> bool:
        """Försenad or without access: the lists flag these next to the name."""
        return self.status in (CustomerStatus.DELAYED, CustomerStatus.INACTIVE)

    reseller: Mapped[Reseller] = relationship()
    invitations: Mapped[list[Invitation]] = relationship(
        back_populates="customer", order_by="Invitation.id.desc()"
    )


class Invitation(db.Model):
    """The single-use link that lets the VIP admin set a password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date]
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="invitations")

    def is_usable(self, today: date) -> bool:
        return self.accepted_at is None and self.revoked_at is None and today <= self.expires_on

    def mail_cancel_reason(self, today: date) -> str | None:
        """Why this invitation's mail must not be sent on `today` (S30), or None: its link
        would not work."""
        if self.accepted_at is not None:
            return INVITATION_ACCEPTED
        if self.revoked_at is not None:
            return INVITATION_SUPERSEDED
        if today > self.expires_on:
            return INVITATION_EXPIRED
        return None


#: Why a queued invitation mail is cancelled instead of sent (S30).
INVITATION_ACCEPTED = "invitation_accepted"
INVITATION_SUPERSEDED = "invitation_superseded"
INVITATION_EXPIRED = "invitation_expired"
#: Its outbox key: `invitation:<id>`.
INVITATION_MAIL_PREFIX = "invitation:"


def invitation_mail_key(invitation_id: int) -> str:
    return f"{INVITATION_MAIL_PREFIX}{invitation_id}"


def invitation_id_of_mail(cycle_key: str) -> int | None:
    """The invitation an invitation mail's outbox key names, or None."""
    number = cycle_key.removeprefix(INVITATION_MAIL_PREFIX)
    return int(number) if number != cycle_key and number.isascii() and number.isdigit() else None


def search_key(*parts: str | None) -> str:
    """What a search matches: the parts case-folded, so that Å, Ä, Ö (and ß) fold like
    PostgreSQL's lower() and a plain LIKE finds them on both databases."""
    return " ".join(part for part in parts if part).casefold()


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _refresh_search_key(_mapper, _connection, customer: Customer) -> None:
    customer.search_key = search_key(customer.company_name, customer.vip_id, customer.admin_email)
