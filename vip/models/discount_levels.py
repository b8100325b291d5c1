"""Discount levels and the three-year commitment that holds one: the
thresholds, and the commitment's row with its cheap derived dates. The rules that change
them live in vip/services/discount_levels.py and vip/services/commitments.py."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.customers import Customer
from vip.models.enums import enum_column
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow

#: (level, the qualifying licenses from which it applies), the highest first.
LEVEL_THRESHOLDS = ((4, 100), (3, 50), (2, 10), (1, 1))
#: A commitment needs this level, and a minimum of at least this many licenses.
COMMITMENT_MIN_LEVEL = 2
COMMITMENT_MIN_QUANTITY = 10
COMMITMENT_TERMS = 3  # it ends on the third anniversary after its start
AT_RISK_DAYS = 60  # "at risk" from this many days before an anniversary


def level_for(licenses: int) -> int:
    """R14: Level 1 for 1-9 qualifying licenses (and none), 2 for 10-49, 3 for 50-99, 4
    for 100 or more."""
    for level, threshold in LEVEL_THRESHOLDS:
        if licenses >= threshold:
            return level
    return 1


def threshold_of(level: int) -> int:
    """The qualifying licenses from which `level` applies."""
    return dict(LEVEL_THRESHOLDS)[level]


def next_level(level: int) -> int | None:
    return level + 1 if level < LEVEL_THRESHOLDS[0][0] else None


class CommitmentState(StrEnum):
    REQUESTED = "requested"  # recorded by the reseller, the vendor has not answered
    COMMITTED = "committed"  # accepted by the vendor: it holds the level
    DECLINED = "declined"  # refused by the vendor
    NONCOMPLIANT = "noncompliant"  # a renewal within it fell below the minimum
    EXPIRED = "expired"  # its third anniversary has come


#: States after which the customer may request a new commitment.
CLOSED_STATES = (CommitmentState.DECLINED, CommitmentState.EXPIRED)


class ThreeYearCommitment(db.Model):
    """A customer's 3YC: one row per request; the customer's current one is its newest."""

    __tablename__ = "three_year_commitments"
    __table_args__ = (
        Index("ix_3yc_customer_id", "customer_id", "id"),
        # The job's expiry: commitments ending by a date.
        Index("ix_3yc_state_end", "state", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    state: Mapped[CommitmentState] = mapped_column(enum_column(CommitmentState))
    minimum_quantity: Mapped[int]
    requested_on: Mapped[date]
    decided_on: Mapped[date | None]
    starts_on: Mapped[date | None]
    # The third anniversary after the start: the commitment ends (expires) that day.
    ends_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def committed_level(self) -> int:
        """The level the committed quantity reaches: while committed, the floor."""
        return level_for(self.minimum_quantity)

    @property
    def holds_level(self) -> bool:
        return self.state == CommitmentState.COMMITTED

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    def covers(self, anniversary: date | None) -> bool:
        """Whether the renewal of `anniversary` falls within the commitment: the
        anniversaries after its start and before its end."""
        return (
            anniversary is not None
            and self.starts_on is not None
            and self.ends_on is not None
            and self.starts_on < anniversary < self.ends_on
        )
