"""One customer's dates on one time axis (the Timeline tab of Customer details): its
purchase authorizations and their order-due dates, its orders and their return
windows, and the dates of its anniversary. Two queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import select

from vip.extensions import db
from vip.models import AuthorizationStatus, Customer, Order, PurchaseAuthorization
from vip.services.orders import return_window_closes_on
from vip.services.renewals import dates_for
from vip.services.terms import add_months

HISTORY_MONTHS = 18  # the axis reaches back at most this far


class EventKind(StrEnum):
    AUTHORIZATION_CREATED = "authorization_created"
    ORDER_DUE = "order_due"  # of a pending authorization
    ORDER = "order"
    RETURN_WINDOW = "return_window"  # a range: order date .. the day the window closes
    RENEWAL_WINDOW = "renewal_window"  # a range: AD-30 .. AD-1
    ANNIVERSARY = "anniversary"
    GRACE = "grace"  # a range: AD .. AD+29
    ACCESS_REMOVAL = "access_removal"  # AD+30


class Lane(StrEnum):
    AUTHORIZATIONS = "authorizations"
    ORDERS = "orders"
    RENEWAL = "renewal"


LANES = {
    EventKind.AUTHORIZATION_CREATED: Lane.AUTHORIZATIONS,
    EventKind.ORDER_DUE: Lane.AUTHORIZATIONS,
    EventKind.ORDER: Lane.ORDERS,
    EventKind.RETURN_WINDOW: Lane.ORDERS,
    EventKind.RENEWAL_WINDOW: Lane.RENEWAL,
    EventKind.ANNIVERSARY: Lane.RENEWAL,
    EventKind.GRACE: Lane.RENEWAL,
    EventKind.ACCESS_REMOVAL: Lane.RENEWAL,
}
#: Same-day events in a sensible reading order.
KIND_ORDER = {kind: index for index, kind in enumerate(EventKind)}


@dataclass(frozen=True)
class TimelineEvent:
    kind: EventKind
    on: date
    until: date | None = None  # the last day of a range (inclusive)
    reference: str = ""  # the authorization's or the order's number
    status: str = ""  # the authorization's or the order's status, or the order's type
    overdue: bool = False  # a pending authorization past its order-due date (Försenad)

    @property
    def lane(self) -> Lane:
        return LANES[self.kind]

    @property
    def is_range(self) -> bool:
        return self.until is not None

    @property
    def last_day(self) -> date:
        return self.until or self.on


@dataclass(frozen=True)
class Timeline:
    today: date
    starts_on: date  # the axis: the first day of a month ...
    ends_on: date  # ... to the first day of a later month (exclusive)
    events: list[TimelineEvent]  # by date

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days


def _authorization_events(authorization: PurchaseAuthorization, today: date):
    yield TimelineEvent(
        EventKind.AUTHORIZATION_CREATED,
        authorization.created_on,
        reference=authorization.number,
        status=authorization.status.value,
    )
    if authorization.status == AuthorizationStatus.PENDING:
        yield TimelineEvent(
            EventKind.ORDER_DUE,
            authorization.order_due_on,
            reference=authorization.number,
            status=authorization.status.value,
            overdue=authorization.is_overdue(today),
        )


def _order_events(order: Order):
    yield TimelineEvent(
        EventKind.ORDER,
        order.order_date,
        reference=order.vendor_order_number,
        status=order.order_type.value,
    )
    if not order.has_return_window:
        return
    yield TimelineEvent(
        EventKind.RETURN_WINDOW,
        order.order_date,
        until=return_window_closes_on(order),
        reference=order.vendor_order_number,
        status=order.status.value,
    )


def _renewal_events(customer: Customer, today: date):
    dates = dates_for(customer, today)
    if dates is None:
        return
    yield TimelineEvent(
        EventKind.RENEWAL_WINDOW,
        dates.window_opens_on,
        until=dates.anniversary - timedelta(days=1),
    )
    yield TimelineEvent(EventKind.ANNIVERSARY, dates.anniversary)
    yield TimelineEvent(
        EventKind.GRACE, dates.anniversary, until=dates.access_removed_on - timedelta(days=1)
    )
    yield TimelineEvent(EventKind.ACCESS_REMOVAL, dates.access_removed_on)


def customer_timeline(*, customer: Customer, today: date) -> Timeline:
    """The customer's dates from its earliest one (at most 18 months back) to at least the
    day access would be removed, on whole months. `customer` comes from a tenant-scoped
    lookup (access.get_customer_for)."""
    earliest = add_months(today, -HISTORY_MONTHS).replace(day=1)
    authorizations = db.session.scalars(
        select(PurchaseAuthorization)
        .where(
            PurchaseAuthorization.customer_id == customer.id,
            PurchaseAuthorization.created_on >= earliest,
        )
        .order_by(PurchaseAuthorization.created_on, PurchaseAuthorization.id)
    )
    orders = db.session.scalars(
        select(Order)
        .where(
            Order.customer_id == customer.id,
            # a return window still on the axis counts, though its order is just before it
            Order.order_date >= earliest - timedelta(days=30),
        )
        .order_by(Order.order_date, Order.id)
    )
    events = [
        *(event for pa in authorizations for event in _authorization_events(pa, today)),
        *(event for order in orders for event in _order_events(order)),
        *_renewal_events(customer, today),
    ]
    events = [event for event in events if event.last_day >= earliest]
    events.sort(key=lambda event: (event.on, KIND_ORDER[event.kind], event.reference))
    first = min([today, *(event.on for event in events)])
    last = max([today, *(event.last_day for event in events)])
    starts_on = max(first, earliest).replace(day=1)
    ends_on = add_months(last.replace(day=1), 1)
    return Timeline(today, starts_on, ends_on, events)
