"""A reseller user's private calendar feed (ICS): the link, and the deadlines it carries.

The link holds a random token (`secrets.token_urlsafe(32)`, 256 bits) shown once, when
the link is created; only its SHA-256 is stored, so a database dump opens no calendar.
Creating a link revokes the user's previous one; a revoked link, a deactivated user or a
user who no longer has a reseller role answers "not found".

The feed lists the deadlines of the user's reseller from 30 days ago to 400 days ahead,
each an all-day event:
- a pending purchase authorization's order-due date (R3, R4);
- a placed order's last day to request a return (R7, `orders.return_window_closes_on`);
- a customer's renewal window opening, anniversary date and access removal (R8-R11,
  `renewals.dates_for`), for the current anniversary, which is by definition not renewed
  yet: a renewal moves the anniversary, and the events of the new cycle get new UIDs.

UIDs name the object and, for the anniversary events, the cycle (the anniversary date),
so they are the same on every fetch and do not move when anything else changes. DTSTAMP
is the creation time of the row an event comes from (the authorization, the order, the
customer): RFC 5545 lets it be the time the information was last revised in the store when
the calendar has no METHOD, and a stamp taken from the clock would change every event on
every fetch, which makes subscribed clients rewrite the whole calendar each hour.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from icalendar import Calendar, Event, vDuration
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import contains_eager

from vip.extensions import db
from vip.links import external_url
from vip.models import (
    AuthorizationStatus,
    CalendarFeed,
    Customer,
    Order,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    Reseller,
    User,
)
from vip.services import audit
from vip.services.access import RESELLER_ROLES, require
from vip.services.deadlines import GRACE_DAYS, RENEWAL_WINDOW_DAYS
from vip.services.errors import DomainError
from vip.services.orders import RETURN_WINDOW_DAYS, return_window_closes_on
from vip.services.renewals import dates_for

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 128  # longer "tokens" are not looked up at all
LOOKBACK_DAYS = 30
LOOKAHEAD_DAYS = 400
#: last_fetched_at is written at most this often per link.
FETCH_RECORD_INTERVAL = timedelta(minutes=1)
REFRESH_INTERVAL = timedelta(hours=1)
UID_DOMAIN = "vip-reseller-console"
PRODID = "-//VIP Reseller Console//Calendar feed//EN"

NO_ACTIVE_LINK = _l("There is no calendar link to revoke.")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feed_url(token: str) -> str:
    """The link as given to a calendar app: absolute, on VIP_BASE_URL."""
    return external_url("calendar_feed.feed", token=token)


# -- The link ------------------------------------------------------------------------------


def _active_feeds(user: User):
    return select(CalendarFeed).where(
        CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
    )


def active_feed(*, user: User) -> CalendarFeed | None:
    require(user, "calendar.subscribe")
    return db.session.scalar(_active_feeds(user))


def _lock_user(user_id: int) -> None:
    """Serializes link changes of one user: a PostgreSQL row lock (SQLite's write
    transactions begin IMMEDIATE, so they are serial already). The partial unique index
    on active links holds whatever happens."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def _revoke_active(user: User, now: datetime, reason: str) -> list[int]:
    feeds = db.session.scalars(_active_feeds(user)).all()
    for feed in feeds:
        feed.revoked_at = now
        audit.record(
            actor=user,
            action="calendar_feed.revoked",
            object_type="calendar_feed",
            object_id=feed.id,
            details={"reason": reason},
        )
    db.session.flush()
    return [feed.id for feed in feeds]


def create_feed(*, user: User, now: datetime) -> str:
    """Makes a new link (revoking the previous one) and returns its token: the only time
    the token exists outside the caller's hands."""
    require(user, "calendar.subscribe")
    _lock_user(user.id)
    replaced = _revoke_active(user, now, "replaced")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = CalendarFeed(user_id=user.id, token_hash=hash_token(token), created_at=now)
    db.session.add(feed)
    db.session.flush()
    audit.record(
        actor=user,
        action="calendar_feed.created",
        object_type="calendar_feed",
        object_id=feed.id,
        details={"replaced": replaced},
    )
    db.session.commit()
    return token


def revoke_feed(*, user: User, now: datetime) -> None:
    """Revokes the user's link; its URL answers 404 from now on."""
    require(user, "calendar.subscribe")
    _lock_user(user.id)
    if not _revoke_active(user, now, "revoked"):
        db.session.rollback()
        raise DomainError(NO_ACTIVE_LINK)
    db.session.commit()


def feed_for_token(token: str) -> CalendarFeed | None:
    """The active link of an active reseller user, with the user and the reseller, or None."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return db.session.scalar(
        select(CalendarFeed)
        .join(CalendarFeed.user)
        .join(Reseller, Reseller.id == User.reseller_id)
        .where(
            CalendarFeed.token_hash == hash_token(token),
            CalendarFeed.revoked_at.is_(None),
            User.active.is_(True),
            User.role.in_(RESELLER_ROLES),
        )
        .options(contains_eager(CalendarFeed.user).contains_eager(User.reseller))
    )


def record_fetch(*, feed_id: int, now: datetime) -> bool:
    """Notes that a calendar app fetched the link, at most once per FETCH_RECORD_INTERVAL.

    Called at the end of a GET: the request's reading transaction is ended first, so the
    write runs in a transaction of its own that begins with it (on SQLite it then waits
    for the write lock under busy_timeout instead of failing on a stale read snapshot).
    A write that fails anyway is logged and skipped: the feed is served regardless."""
    db.session.rollback()
    try:
        changed = db.session.execute(
            update(CalendarFeed)
            .where(
                CalendarFeed.id == feed_id,
                CalendarFeed.revoked_at.is_(None),
                or_(
                    CalendarFeed.last_fetched_at.is_(None),
                    CalendarFeed.last_fetched_at <= now - FETCH_RECORD_INTERVAL,
                ),
            )
            .values(last_fetched_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        log.warning("could not record the fetch of calendar feed %s", feed_id, exc_info=True)
        return False
    return changed == 1


# -- The events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date
    summary: str
    description: str
    url: str
    stamp: datetime
    customer_id: int


def _uid(name: str) -> str:
    return f"{name}@{UID_DOMAIN}"


def _customer_url(customer_id: int, tab: str) -> str:
    return external_url("customers.tab", customer_id=customer_id, tab=tab)


def _event(
    *, uid: str, day: date, summary: str, text: str, customer: Customer, tab: str, stamp
) -> CalendarEvent:
    url = _customer_url(customer.id, tab)
    description = "\n".join(
        [
            text,
            "",
            _("Customer: %(company)s", company=customer.company_name),
            _("VIP ID: %(vip_id)s", vip_id=customer.vip_id),
            _("Customer details: %(url)s", url=url),
        ]
    )
    return CalendarEvent(
        uid=_uid(uid),
        day=day,
        summary=summary,
        description=description,
        url=url,
        stamp=stamp,
        customer_id=customer.id,
    )


def _authorization_events(reseller_id: int, first: date, last: date) -> list[CalendarEvent]:
    rows = db.session.execute(
        select(PurchaseAuthorization, Customer)
        .join(Customer, Customer.id == PurchaseAuthorization.customer_id)
        .where(
            Customer.reseller_id == reseller_id,
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
            PurchaseAuthorization.order_due_on.between(first, last),
        )
    ).all()
    return [
        _event(
            uid=f"pa-{pa.id}-order-due",
            day=pa.order_due_on,
            summary=_(
                "Order due: %(number)s · %(company)s",
                number=pa.number,
                company=customer.company_name,
            ),
            text=_(
                "Purchase authorization %(number)s must be ordered by this day; from the next "
                "day the customer is Delayed.",
                number=pa.number,
            ),
            customer=customer,
            tab="plans",
            stamp=pa.created_at,
        )
        for pa, customer in rows
    ]


def _order_events(reseller_id: int, first: date, last: date) -> list[CalendarEvent]:
    # The range on order_date only narrows the rows read (a window of at most
    # RETURN_WINDOW_DAYS); each closing date is the orders service's.
    rows = db.session.execute(
        select(Order, Customer)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            Customer.reseller_id == reseller_id,
            Order.status == OrderStatus.PLACED,
            Order.order_type != OrderType.IMPORTED,  # no return window
            Order.order_date.between(first - timedelta(days=RETURN_WINDOW_DAYS), last),
        )
    ).all()
    events = []
    for order, customer in rows:
        closes_on = return_window_closes_on(order)
        if not first <= closes_on <= last:
            continue
        events.append(
            _event(
                uid=f"order-{order.id}-return-window-closes",
                day=closes_on,
                summary=_(
                    "Return window closes: order %(number)s · %(company)s",
                    number=order.vendor_order_number,
                    company=customer.company_name,
                ),
                text=_(
                    "Last day to request a return authorization for order %(number)s "
                    "(ordered %(date)s).",
                    number=order.vendor_order_number,
                    date=format_date(order.order_date, "long"),
                ),
                customer=customer,
                tab="orders",
                stamp=order.created_at,
            )
        )
    return events


def _anniversary_events(
    reseller_id: int, today: date, first: date, last: date
) -> list[CalendarEvent]:
    # Anniversaries whose window opening (AD-30) or access removal (AD+30) can fall in the
    # range; each date is the renewals service's, filtered to the range below.
    customers = db.session.scalars(
        select(Customer).where(
            Customer.reseller_id == reseller_id,
            Customer.anniversary_date.between(
                first - timedelta(days=GRACE_DAYS), last + timedelta(days=RENEWAL_WINDOW_DAYS)
            ),
        )
    ).all()
    events = []
    for customer in customers:
        dates = dates_for(customer, today)
        cycle = dates.anniversary.isoformat()
        anniversary = format_date(dates.anniversary, "long")
        candidates = [
            _event(
                uid=f"customer-{customer.id}-renewal-window-opens-{cycle}",
                day=dates.window_opens_on,
                summary=_("Renewal window opens: %(company)s", company=customer.company_name),
                text=_(
                    "The renewal of the anniversary date %(date)s can be recorded from today.",
                    date=anniversary,
                ),
                customer=customer,
                tab="renewals",
                stamp=customer.created_at,
            ),
            _event(
                uid=f"customer-{customer.id}-anniversary-{cycle}",
                day=dates.anniversary,
                summary=_("Anniversary date: %(company)s", company=customer.company_name),
                text=_(
                    "The licenses run to the day before. Without a renewal the customer is in "
                    "its grace period from today."
                ),
                customer=customer,
                tab="renewals",
                stamp=customer.created_at,
            ),
            _event(
                uid=f"customer-{customer.id}-access-removal-{cycle}",
                day=dates.access_removed_on,
                summary=_(
                    "Access removed unless renewed: %(company)s", company=customer.company_name
                ),
                text=_(
                    "Without a recorded renewal of the anniversary date %(date)s, the "
                    "customer's access is removed today.",
                    date=anniversary,
                ),
                customer=customer,
                tab="renewals",
                stamp=customer.created_at,
            ),
        ]
        events.extend(event for event in candidates if first <= event.day <= last)
    return events


def calendar_events(*, reseller_id: int, today: date, language: str) -> list[CalendarEvent]:
    """The reseller's deadlines from LOOKBACK_DAYS ago to LOOKAHEAD_DAYS ahead, in
    `language`, ordered by day and UID: three queries, whatever the number of rows."""
    first = today - timedelta(days=LOOKBACK_DAYS)
    last = today + timedelta(days=LOOKAHEAD_DAYS)
    with force_locale(language):
        events = [
            *_authorization_events(reseller_id, first, last),
            *_order_events(reseller_id, first, last),
            *_anniversary_events(reseller_id, today, first, last),
        ]
    return sorted(events, key=lambda event: (event.day, event.uid))


def calendar_name(*, reseller_name: str, language: str) -> str:
    with force_locale(language):
        return _("VIP deadlines · %(reseller)s", reseller=reseller_name)


def render_ics(*, name: str, events: list[CalendarEvent]) -> bytes:
    """The iCalendar document (RFC 5545) of the events: all-day events, DTEND the next day."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", item.stamp)
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("url", item.url)
        event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        calendar.add_component(event)
    return calendar.to_ical()
