"""The renewal pipeline: for the current month and the next 11, how many customers (and
how many of their licenses) have an anniversary in that month, by where each renewal
stands today. The chart reads the summary kept per reseller and day
(vip/services/pipeline_summary.py): one query over at most two years of days, whatever the
number of customers. `computed_pipeline` adds the same up from the customers and their
orders; the tests hold the two equal after every kind of change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import and_, func, or_, select

from vip.extensions import db
from vip.models import Customer, Order, OrderLine, OrderType, PipelineDay
from vip.models.pipeline import OPEN, RENEWED
from vip.services.licenses import in_current_term, returned_licenses
from vip.services.renewals import RenewalDates, RenewalStage
from vip.services.terms import add_months

MONTHS = 12  # the current month and the next 11


class PipelineStatus(StrEnum):
    RENEWED = "renewed"  # a renewal was recorded for the anniversary of that month
    OVERDUE = "overdue"  # AD <= today, not renewed: in grace, or access removed
    WINDOW_OPEN = "window_open"  # AD-30 <= today < AD
    UPCOMING = "upcoming"  # today < AD-30


#: Bottom to top in a stacked bar, and left to right in the legend and the table.
STATUS_ORDER = (
    PipelineStatus.RENEWED,
    PipelineStatus.OVERDUE,
    PipelineStatus.WINDOW_OPEN,
    PipelineStatus.UPCOMING,
)


@dataclass(frozen=True)
class Tally:
    customers: int = 0
    licenses: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.customers + other.customers, self.licenses + other.licenses)


@dataclass(frozen=True)
class PipelineMonth:
    month: date  # its first day
    by_status: dict[PipelineStatus, Tally] = field(default_factory=dict)

    def tally(self, status: PipelineStatus) -> Tally:
        return self.by_status.get(status, Tally())

    @property
    def total(self) -> Tally:
        return sum((self.tally(status) for status in STATUS_ORDER), Tally())


@dataclass(frozen=True)
class Pipeline:
    today: date
    months: list[PipelineMonth]

    @property
    def total(self) -> Tally:
        return sum((month.total for month in self.months), Tally())

    def status_total(self, status: PipelineStatus) -> Tally:
        return sum((month.tally(status) for month in self.months), Tally())

    def largest(self, measure: str) -> int:
        """The highest bar of a measure ("customers" or "licenses")."""
        return max((getattr(month.total, measure) for month in self.months), default=0)


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def pipeline_status(dates: RenewalDates) -> PipelineStatus:
    """Where a not yet renewed anniversary stands: the renewal stages, folded."""
    stage = dates.stage
    if stage in (RenewalStage.IN_GRACE, RenewalStage.OVERDUE):
        return PipelineStatus.OVERDUE
    if stage == RenewalStage.WINDOW_OPEN:
        return PipelineStatus.WINDOW_OPEN
    return PipelineStatus.UPCOMING  # in the overview's first 60 days, or not listed yet


def _tallies(rows) -> list[tuple[date, Tally]]:
    return [
        (day, Tally(int(customers or 0), int(bought or 0) - int(back or 0)))
        for day, customers, bought, back in rows
    ]


def _open_anniversaries(reseller_id: int, first: date, end: date) -> list[tuple[date, Tally]]:
    """Per anniversary date in [first, end): the customers whose current anniversary it is
    and their current-term licenses, net of returns."""
    return _tallies(
        db.session.execute(
            select(
                Customer.anniversary_date,
                func.count(Customer.id.distinct()),
                func.sum(OrderLine.quantity),
                returned_licenses(),
            )
            .select_from(Customer)
            .outerjoin(Order, in_current_term(Customer.id, Customer.anniversary_date))
            .outerjoin(OrderLine, OrderLine.order_id == Order.id)
            .where(
                Customer.reseller_id == reseller_id,
                Customer.anniversary_date >= first,
                Customer.anniversary_date < end,
            )
            .group_by(Customer.anniversary_date)
        )
    )


def _renewed_terms(reseller_id: int, first: date, end: date) -> list[tuple[date, Tally]]:
    """Per new anniversary date in [first, end): the customers whose renewal moved their
    anniversary there (record_renewal writes the new anniversary as the renewal order's
    `term_ends_on`; the term it starts is the renewed anniversary), and the licenses of
    that new term, net of returns."""
    renewed = (
        select(Order.customer_id, Order.term_ends_on)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            Customer.reseller_id == reseller_id,
            Order.order_type == OrderType.RENEWAL,
            Order.term_ends_on >= first,
            Order.term_ends_on < end,
        )
        .distinct()
        .subquery()
    )
    return _tallies(
        db.session.execute(
            select(
                renewed.c.term_ends_on,
                func.count(renewed.c.customer_id.distinct()),
                func.sum(OrderLine.quantity),
                returned_licenses(),
            )
            .select_from(renewed)
            .outerjoin(Order, in_current_term(renewed.c.customer_id, renewed.c.term_ends_on))
            .outerjoin(OrderLine, OrderLine.order_id == Order.id)
            .group_by(renewed.c.term_ends_on)
        )
    )


def _pipeline(
    today: date, current: list[tuple[date, Tally]], renewed: list[tuple[date, Tally]]
) -> Pipeline:
    """The 12 months from `today`'s: `current` anniversaries in their month by status,
    `renewed` ones (the new anniversary, 12 months after the renewed one) as renewed in the
    month of the anniversary they renewed."""
    start = first_of_month(today)
    months = [add_months(start, offset) for offset in range(MONTHS)]
    grouped: dict[date, dict[PipelineStatus, Tally]] = {month: {} for month in months}

    def count(month: date, status: PipelineStatus, tally: Tally) -> None:
        bucket = grouped[month]
        bucket[status] = bucket.get(status, Tally()) + tally

    for anniversary, tally in current:
        count(
            first_of_month(anniversary),
            pipeline_status(RenewalDates(anniversary, today)),
            tally,
        )
    for new_anniversary, tally in renewed:
        # The renewed anniversary is 12 months earlier, in the same calendar month.
        count(first_of_month(add_months(new_anniversary, -12)), PipelineStatus.RENEWED, tally)
    return Pipeline(today, [PipelineMonth(month, grouped[month]) for month in months])


def renewal_pipeline(*, reseller_id: int, today: date) -> Pipeline:
    """12 months from the current one; per month and status, customers and licenses whose
    anniversary falls in it. A renewed anniversary counts as `renewed` in its own month;
    the anniversary the renewal moved it to (12 months on) lies beyond the range. Read
    from the summary: one query over at most 2 x 12 months of days."""
    start = first_of_month(today)
    end = add_months(start, MONTHS)
    rows = db.session.execute(
        select(PipelineDay.kind, PipelineDay.day, PipelineDay.customers, PipelineDay.licenses)
        .where(
            PipelineDay.reseller_id == reseller_id,
            or_(
                and_(PipelineDay.kind == OPEN, PipelineDay.day >= start, PipelineDay.day < end),
                and_(
                    PipelineDay.kind == RENEWED,
                    PipelineDay.day >= add_months(start, 12),
                    PipelineDay.day < add_months(end, 12),
                ),
            ),
        )
        .order_by(PipelineDay.kind, PipelineDay.day)
    )
    by_kind: dict[str, list[tuple[date, Tally]]] = {OPEN: [], RENEWED: []}
    for kind, day, customers, licenses in rows:
        by_kind[kind].append((day, Tally(customers, licenses)))
    return _pipeline(today, by_kind[OPEN], by_kind[RENEWED])


def computed_pipeline(*, reseller_id: int, today: date) -> Pipeline:
    """The same pipeline added up from the customers and their orders (two aggregate
    queries that read every customer with an anniversary in the range): the reference
    the summary is held to (tests/services/test_pipeline_summary.py)."""
    start = first_of_month(today)
    end = add_months(start, MONTHS)
    return _pipeline(
        today,
        _open_anniversaries(reseller_id, start, end),
        _renewed_terms(reseller_id, add_months(start, 12), add_months(end, 12)),
    )
