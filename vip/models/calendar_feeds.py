from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow


class CalendarFeed(db.Model):
    """A reseller user's private calendar link (an ICS feed). Only the SHA-256 of its
    token is stored: the token itself is shown once, when the link is created."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        # At most one active link per user, whatever two requests do at the same moment.
        Index(
            "uq_calendar_feeds_active_user",
            "user_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
