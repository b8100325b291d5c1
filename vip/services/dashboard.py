"""Översikt, the team's daily dashboard: what needs doing today and in the coming days.

Each section is one capped count and one short page of rows with their customer loaded in
the same statement: two SQL statements a section, whatever the data size. The dates are
the rules of the services they belong to (the order-due date an authorization carries,
the return window of vip.services.orders, the renewal dates of vip.services.renewals);
this module only places today's windows on them, as date ranges on indexed columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.orm import contains_eager

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    Order,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    User,
)
from vip.services.access import can, require, visible_customers
from vip.services.change_count import reseller_stamp
from vip.services.commitments import at_risk_clause
from vip.services.listing import capped_count
from vip.services.orders import ordered_on_for_window_closing, return_window_closes_on
from vip.services.renewals import STAGE_RANGES, RenewalDates, RenewalStage

ROWS = 5  # rows shown per section; "show all" leads to the full list
#: A section counts up to this and says "99+" beyond: a badge on a card, not a report, and
#: counting a backlog of a thousand overdue rows on every refresh costs more than it tells.
COUNT_CAP = 99
DUE_SOON_DAYS = 3  # authorizations due from today to today + 3
RETURN_CLOSING_DAYS = 3  # return windows closing from today to today + 3
LOOKAHEAD_DAYS = 7  # renewal windows opening and anniversaries: today to today + 6


class SectionKey(StrEnum):
    ORDER_DUE = "order_due"
    ORDER_OVERDUE = "order_overdue"
    RETURN_CLOSING = "return_closing"
    WINDOW_OPENING = "window_opening"
    ANNIVERSARY = "anniversary"
    IN_GRACE = "in_grace"
    COMMITMENT_AT_RISK = "commitment_at_risk"
    FAILED_MAIL = "failed_mail"


@dataclass(frozen=True)
class Section:
    key: SectionKey
    count: int  # exact up to `cap`; cap + 1 means "more than cap"
    rows: list
    cap: int = COUNT_CAP

    @property
    def has_more(self) -> bool:
        return self.count > len(self.rows)


@dataclass(frozen=True)
class AuthorizationRow:
    """A pending authorization: `days` left to its order-due date, or days overdue."""

    authorization: PurchaseAuthorization
    days: int

    @property
    def customer(self) -> Customer:
        return self.authorization.customer


@dataclass(frozen=True)
class OrderRow:
    order: Order
    closes_on: date
    days_left: int

    @property
    def customer(self) -> Customer:
        return self.order.customer


@dataclass(frozen=True)
class CustomerRow:
    customer: Customer
    dates: RenewalDates


# -- The windows ---------------------------------------------------------------------------


def _anniversaries_when(moment: Callable[[RenewalDates], date], first: date, last: date):
    """The anniversary dates for which a RenewalDates date (`moment`, a fixed number of days
    from the anniversary) falls from `first` to `last`: the rule's own offset, inverted."""
    offset = moment(RenewalDates(first, first)) - first
    return first - offset, last - offset


def _order_due_soon(today: date) -> ColumnElement[bool]:
    return and_(
        PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        PurchaseAuthorization.order_due_on.between(today, today + timedelta(days=DUE_SOON_DAYS)),
    )


def _order_overdue(today: date) -> ColumnElement[bool]:
    """Försenad authorizations."""
    return PurchaseAuthorization.is_overdue(today)


def _return_closing(today: date) -> ColumnElement[bool]:
    """Placed (not fully returned) orders whose return window is open and closes within
    RETURN_CLOSING_DAYS (the last day included)."""
    last = today + timedelta(days=RETURN_CLOSING_DAYS)
    return and_(
        Order.status == OrderStatus.PLACED,
        Order.order_type != OrderType.IMPORTED,  # no return window
        Order.order_date.between(
            ordered_on_for_window_closing(today), ordered_on_for_window_closing(last)
        ),
    )


def _window_opening(today: date) -> ColumnElement[bool]:
    first, last = _anniversaries_when(
        lambda dates: dates.window_opens_on, today, today + timedelta(days=LOOKAHEAD_DAYS - 1)
    )
    return Customer.anniversary_date.between(first, last)


def _anniversary(today: date) -> ColumnElement[bool]:
    return Customer.anniversary_date.between(today, today + timedelta(days=LOOKAHEAD_DAYS - 1))


def _in_grace(today: date) -> ColumnElement[bool]:
    """The anniversary passed without a renewal, access not yet removed (the renewals
    overview's "in grace" stage), and the customer not inactive."""
    low, high = STAGE_RANGES[RenewalStage.IN_GRACE]
    return and_(
        Customer.anniversary_date.between(
            today + timedelta(days=low), today + timedelta(days=high)
        ),
        Customer.status != CustomerStatus.INACTIVE,
    )


def _failed_mail(_today: date) -> ColumnElement[bool]:
    return Notification.status == NotificationStatus.FAILED


#: section -> (the rows' entity, its condition on `today`); customers need no join.
CONDITIONS: dict[SectionKey, tuple[type, Callable[[date], ColumnElement[bool]]]] = {
    SectionKey.ORDER_DUE: (PurchaseAuthorization, _order_due_soon),
    SectionKey.ORDER_OVERDUE: (PurchaseAuthorization, _order_overdue),
    SectionKey.RETURN_CLOSING: (Order, _return_closing),
    SectionKey.WINDOW_OPENING: (Customer, _window_opening),
    SectionKey.ANNIVERSARY: (Customer, _anniversary),
    SectionKey.IN_GRACE: (Customer, _in_grace),
    SectionKey.COMMITMENT_AT_RISK: (Customer, at_risk_clause),
    SectionKey.FAILED_MAIL: (Notification, _failed_mail),
}

#: The customers list can be narrowed to these sections (their "show all" links); customers
#: in grace are the renewals overview's stage, and failed mail the Outbox's filter.
CUSTOMER_FILTERS = (
    SectionKey.ORDER_DUE,
    SectionKey.ORDER_OVERDUE,
    SectionKey.RETURN_CLOSING,
    SectionKey.WINDOW_OPENING,
    SectionKey.ANNIVERSARY,
)

#: Each the order of an index the condition ranges over (the date, then the row id), so
#: the first rows are read without sorting all of a busy day's rows.
ORDERINGS = {
    SectionKey.ORDER_DUE: (PurchaseAuthorization.order_due_on, PurchaseAuthorization.id),
    SectionKey.ORDER_OVERDUE: (PurchaseAuthorization.order_due_on, PurchaseAuthorization.id),
    SectionKey.RETURN_CLOSING: (Order.order_date, Order.id),
    SectionKey.WINDOW_OPENING: (Customer.anniversary_date, Customer.company_name, Customer.id),
    SectionKey.ANNIVERSARY: (Customer.anniversary_date, Customer.company_name, Customer.id),
    SectionKey.IN_GRACE: (Customer.anniversary_date, Customer.company_name, Customer.id),
    SectionKey.COMMITMENT_AT_RISK: (
        Customer.anniversary_date,
        Customer.company_name,
        Customer.id,
    ),
    SectionKey.FAILED_MAIL: (Notification.created_at.desc(), Notification.id.desc()),
}

PERMISSIONS = {key: "customers.view" for key in SectionKey} | {
    SectionKey.FAILED_MAIL: "outbox.view"
}


def customer_condition(key: str, today: date) -> ColumnElement[bool] | None:
    """The customers of a section (for the customers list), or None for an unknown key."""
    if key not in CUSTOMER_FILTERS:
        return None
    entity, condition = CONDITIONS[SectionKey(key)]
    if entity is Customer:
        return condition(today)
    return exists().where(entity.customer_id == Customer.id, condition(today))


# -- Reading the sections ------------------------------------------------------------------


def sections_for(user: User) -> list[SectionKey]:
    """The sections this user sees, in the page's order (failed mail only for those who may
    open the Outbox)."""
    return [key for key in SectionKey if can(user, PERMISSIONS[key])]


def _query(user: User, key: SectionKey, today: date) -> Select:
    entity, condition = CONDITIONS[key]
    scope = visible_customers(user).whereclause
    if entity is Customer:
        return select(Customer).where(scope, condition(today))
    return select(entity).join(entity.customer).where(scope, condition(today))


def _row(key: SectionKey, item, today: date):
    if key == SectionKey.ORDER_DUE:
        return AuthorizationRow(item, (item.order_due_on - today).days)
    if key == SectionKey.ORDER_OVERDUE:
        return AuthorizationRow(item, (today - item.order_due_on).days)
    if key == SectionKey.RETURN_CLOSING:
        closes_on = return_window_closes_on(item)
        return OrderRow(item, closes_on, (closes_on - today).days)
    if key == SectionKey.FAILED_MAIL:
        return item
    return CustomerRow(item, RenewalDates(item.anniversary_date, today))


def section(*, user: User, key: str, today: date, limit: int = ROWS) -> Section:
    """One section: its capped count and its first `limit` rows, in two statements."""
    key = SectionKey(key)
    require(user, PERMISSIONS[key])
    entity, _condition = CONDITIONS[key]
    query = _query(user, key, today)
    count = capped_count(query, id_column=entity.id, cap=COUNT_CAP)
    if entity is not Customer:
        query = query.options(contains_eager(entity.customer))
    items = db.session.scalars(query.order_by(*ORDERINGS[key]).limit(limit)).all()
    return Section(key, count, [_row(key, item, today) for item in items], COUNT_CAP)


def section_versions(*, user: User, today: date, keys: list[str] | None = None) -> dict:
    """Section key -> what it shows depends on: the reseller's change counter (moved on by
    every transaction that changes its customers, authorizations, orders or mail), the
    day, the user and what the user may see. One small read for all; equal versions,
    equal sections (the refreshes answer 204 then, vip/web/home.py)."""
    chosen = sections_for(user) if keys is None else [SectionKey(key) for key in keys]
    for key in chosen:
        require(user, PERMISSIONS[key])
    stamp = (*reseller_stamp(reseller_id=user.reseller_id, today=today), user.id, user.role.value)
    return {key.value: (key.value, *stamp) for key in chosen}


def dashboard(*, user: User, today: date, limit: int = ROWS) -> list[Section]:
    """Every section the user sees."""
    return [section(user=user, key=key, today=today, limit=limit) for key in sections_for(user)]
