"""A reseller user's private calendar feed (ICS): the link, and the deadlines it carries.

The link holds a random token (`secrets.token_urlsafe(32)`, 256 bits) shown once, when
the link is created; only its SHA-256 is stored, so a database dump opens no calendar.
Creating a link revokes the user's previous one; a revoked link, a deactivated user or a
user who no longer has a reseller role answers "not found".

The feed lists the deadlines of the user's reseller from 30 days ago to 400 days ahead,
each an all-day event:
- a pending purchase authorization's order-due date;
- a placed order's last day to request a return (`orders.return_window_closes_after`);
- a customer's renewal window opening, anniversary date and access removal
  (`renewals.RenewalDates`), for the current anniversary, which is by definition not renewed
  yet: a renewal moves the anniversary, and the events of the new cycle get new UIDs;
- the end of a running three-year commitment, its third anniversary.

A day with more than DAY_EVENT_THRESHOLD deadlines of one kind carries them as one event
instead ("Anniversary date: 1,104 customers"), with their exact number: a calendar app
shows a day of a thousand events as a useless wall, and the document then stays about the
same size whatever the size of the portfolio (README, "Calendar link"). The API's
`GET /deadlines` lists every deadline one by one (`deadlines_between`).

UIDs name the object and, for the anniversary events, the cycle (the anniversary date),
so they are the same on every fetch and do not move when anything else changes. DTSTAMP
is the creation time of the row an event comes from (the authorization, the order, the
customer): RFC 5545 lets it be the time the information was last revised in the store when
the calendar has no METHOD, and a stamp taken from the clock would change every event on
every fetch, which makes subscribed clients rewrite the whole calendar each hour.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import contains_eager

from vip.extensions import db
from vip.links import external_url
from vip.models import (
    CalendarFeed,
    Customer,
    Order,
    PipelineDay,
    PurchaseAuthorization,
    Reseller,
    ThreeYearCommitment,
    User,
)
from vip.models.pipeline import COMMITMENT_ENDS, OPEN, ORDER_DUE, PLACED
from vip.services import audit
from vip.services.access import RESELLER_ROLES, require
from vip.services.bearer_secrets import digest_of
from vip.services.deadlines import GRACE_DAYS, RENEWAL_WINDOW_DAYS
from vip.services.errors import DomainError
from vip.services.orders import RETURN_WINDOW_DAYS, return_window_closes_after
from vip.services.pipeline_summary import DEADLINE_ROWS
from vip.services.renewals import RenewalDates

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 128  # longer "tokens" are not looked up at all
LOOKBACK_DAYS = 30
LOOKAHEAD_DAYS = 400
#: More deadlines of one kind on one day than this and the feed carries them as one event.
DAY_EVENT_THRESHOLD = 10
#: last_fetched_at is written at most this often per link.
FETCH_RECORD_INTERVAL = timedelta(minutes=1)
UID_DOMAIN = "vip-reseller-console"

NO_ACTIVE_LINK = _l("There is no calendar link to revoke.")


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
    feed = CalendarFeed(user_id=user.id, token_hash=digest_of(token), created_at=now)
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
            CalendarFeed.token_hash == digest_of(token),
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


# -- The deadlines -----------------------------------------------------------------------------


class DeadlineKind(StrEnum):
    """The deadlines a feed carries; the web layer words each (vip/web/calendar_document)."""

    ORDER_DUE = "order_due"
    RETURN_WINDOW_CLOSES = "return_window_closes"
    RENEWAL_WINDOW_OPENS = "renewal_window_opens"
    ANNIVERSARY = "anniversary"
    ACCESS_REMOVAL = "access_removal"
    COMMITMENT_ENDS = "commitment_ends"  # a three-year commitment's third anniversary


@dataclass(frozen=True)
class Deadline:
    """One deadline of the reseller's calendar, as data: what falls due on `day`, for whom,
    about what (`reference`: the authorization or order number; `related`: the order date
    or the anniversary), with a UID stable across fetches and the stamp of its row."""

    kind: DeadlineKind
    day: date
    uid: str
    customer_id: int
    company_name: str
    vip_id: str
    stamp: datetime
    reference: str | None = None
    related: date | None = None


@dataclass(frozen=True)
class DeadlineDay:
    """More than DAY_EVENT_THRESHOLD deadlines of one kind on one day, as one event of the
    feed: how many (exact), stamped with the newest of their rows."""

    kind: DeadlineKind
    day: date
    count: int
    uid: str
    stamp: datetime
    anniversary: date | None = None  # the anniversary date they share (its three kinds)


def _uid(name: str) -> str:
    return f"{name}@{UID_DOMAIN}"


#: The customer's columns a deadline shows: rows, not entities (a large reseller's feed
#: reads a few hundred thousand).
CUSTOMER_COLUMNS = (
    Customer.id.label("customer_id"),
    Customer.company_name,
    Customer.vip_id,
)


def _deadline(kind: DeadlineKind, row, *, day: date, uid: str, **about) -> Deadline:
    """A deadline of the customer in `row` (read with CUSTOMER_COLUMNS), stamped with the
    row's `created_at`; `about` gives its reference and related date."""
    return Deadline(
        kind=kind,
        day=day,
        uid=_uid(uid),
        customer_id=row.customer_id,
        company_name=row.company_name,
        vip_id=row.vip_id,
        stamp=row.created_at,
        **about,
    )


def _rows(kind: str, reseller_id: int, first: date, last: date, keys: list[date] | None):
    """The reseller's rows that are deadlines of a kind of the summary (DEADLINE_ROWS),
    counted on a day from `first` to `last` (and one of `keys`, unless None); columns
    are chosen by the caller."""
    model, day, condition = DEADLINE_ROWS[kind]
    query = (
        select(model.id)
        .join(Customer, Customer.id == model.customer_id)
        .where(Customer.reseller_id == reseller_id, condition, day.between(first, last))
    )
    return query if keys is None else query.where(day.in_(keys))


def _order_due(
    reseller_id: int, today: date, first: date, last: date, keys: list[date] | None = None
) -> list[Deadline]:
    rows = db.session.execute(
        _rows(ORDER_DUE, reseller_id, first, last, keys).with_only_columns(
            PurchaseAuthorization.id,
            PurchaseAuthorization.order_due_on,
            PurchaseAuthorization.created_at,
            PurchaseAuthorization.number,
            *CUSTOMER_COLUMNS,
        )
    ).all()
    return [
        _deadline(
            DeadlineKind.ORDER_DUE,
            pa,
            day=pa.order_due_on,
            uid=f"pa-{pa.id}-order-due",
            reference=pa.number,
        )
        for pa in rows
    ]


def _return_windows(
    reseller_id: int, today: date, first: date, last: date, keys: list[date] | None = None
) -> list[Deadline]:
    # The range on order_date only narrows the rows read (a window of at most
    # RETURN_WINDOW_DAYS); each closing date is the orders service's.
    ordered_from = first - timedelta(days=RETURN_WINDOW_DAYS)
    rows = db.session.execute(
        _rows(PLACED, reseller_id, ordered_from, last, keys).with_only_columns(
            Order.id,
            Order.order_date,
            Order.created_at,
            Order.vendor_order_number,
            *CUSTOMER_COLUMNS,
        )
    ).all()
    return [
        _deadline(
            DeadlineKind.RETURN_WINDOW_CLOSES,
            order,
            day=return_window_closes_after(order.order_date),
            uid=f"order-{order.id}-return-window-closes",
            reference=order.vendor_order_number,
            related=order.order_date,
        )
        for order in rows
        if first <= return_window_closes_after(order.order_date) <= last
    ]


def _anniversary_days(anniversary: date, today: date) -> tuple:
    """(kind, day, UID name) of each deadline of one anniversary (the renewals service's
    dates)."""
    dates = RenewalDates(anniversary, today)
    return (
        (DeadlineKind.RENEWAL_WINDOW_OPENS, dates.window_opens_on, "renewal-window-opens"),
        (DeadlineKind.ANNIVERSARY, dates.anniversary, "anniversary"),
        (DeadlineKind.ACCESS_REMOVAL, dates.access_removed_on, "access-removal"),
    )


def _anniversaries_around(first: date, last: date) -> tuple[date, date]:
    """The anniversaries whose window opening (AD-30) or access removal (AD+30) can fall
    from `first` to `last`."""
    return first - timedelta(days=GRACE_DAYS), last + timedelta(days=RENEWAL_WINDOW_DAYS)


def _anniversaries(
    reseller_id: int, today: date, first: date, last: date, keys: list[date] | None = None
) -> list[Deadline]:
    query = select(*CUSTOMER_COLUMNS, Customer.anniversary_date, Customer.created_at).where(
        Customer.reseller_id == reseller_id,
        Customer.anniversary_date.between(*_anniversaries_around(first, last)),
    )
    if keys is not None:
        query = query.where(Customer.anniversary_date.in_(keys))
    found = []
    for customer in db.session.execute(query):
        cycle = customer.anniversary_date.isoformat()
        for kind, day, name in _anniversary_days(customer.anniversary_date, today):
            if first <= day <= last:
                found.append(
                    _deadline(
                        kind,
                        customer,
                        day=day,
                        uid=f"customer-{customer.customer_id}-{name}-{cycle}",
                        related=customer.anniversary_date,
                    )
                )
    return found


def _commitment_ends(
    reseller_id: int, today: date, first: date, last: date, keys: list[date] | None = None
) -> list[Deadline]:
    """A running three-year commitment's end, its third anniversary."""
    rows = db.session.execute(
        _rows(COMMITMENT_ENDS, reseller_id, first, last, keys).with_only_columns(
            ThreeYearCommitment.id,
            ThreeYearCommitment.ends_on,
            ThreeYearCommitment.starts_on,
            ThreeYearCommitment.created_at,
            ThreeYearCommitment.minimum_quantity,
            *CUSTOMER_COLUMNS,
        )
    ).all()
    return [
        _deadline(
            DeadlineKind.COMMITMENT_ENDS,
            commitment,
            day=commitment.ends_on,
            uid=f"commitment-{commitment.id}-ends",
            reference=str(commitment.minimum_quantity),
            related=commitment.starts_on,
        )
        for commitment in rows
    ]


def feed_version(*, feed: CalendarFeed, today: date) -> tuple:
    """Everything the feed's content depends on, read from the rows `feed_for_token`
    loaded: the link, the reseller's change counter (moved on by every transaction that
    changes its customers, authorizations or orders), the day (the range moves), the
    user's language, the reseller's name. Equal versions, equal feeds."""
    user = feed.user
    reseller = user.reseller
    return (
        feed.id,
        reseller.change_count,
        today.isoformat(),
        user.language,
        reseller.name,
        LOOKBACK_DAYS,
        LOOKAHEAD_DAYS,
        DAY_EVENT_THRESHOLD,
    )


#: Per kind of the summary (vip/models/pipeline.py): the deadlines (kind, day) of the
#: rows counted on a day, and the reader of those rows.
SOURCES = {
    ORDER_DUE: (lambda on, _today: ((DeadlineKind.ORDER_DUE, on),), _order_due),
    PLACED: (
        lambda on, _today: ((DeadlineKind.RETURN_WINDOW_CLOSES, return_window_closes_after(on)),),
        _return_windows,
    ),
    OPEN: (
        lambda on, today: [(kind, day) for kind, day, _name in _anniversary_days(on, today)],
        _anniversaries,
    ),
    COMMITMENT_ENDS: (lambda on, _today: ((DeadlineKind.COMMITMENT_ENDS, on),), _commitment_ends),
}


def feed_deadlines(*, reseller_id: int, today: date) -> list[Deadline | DeadlineDay]:
    """The reseller's deadlines from LOOKBACK_DAYS ago to LOOKAHEAD_DAYS ahead, ordered by
    day and UID, a day's deadlines of one kind as one DeadlineDay when there are more than
    DAY_EVENT_THRESHOLD of them: five queries and at most DAY_EVENT_THRESHOLD deadlines
    read per day and kind, whatever the size of the portfolio.

    How many deadlines fall on each day is read from the summary kept with every change
    (vip/services/pipeline_summary.py: the anniversaries' customers, and the pending
    authorizations, placed orders and running commitments per day); then only the rows of
    the days of few are read. A day event is stamped with the reseller's creation: a
    count has no one row it was last revised in, and the stamp must not move between
    fetches."""
    first = today - timedelta(days=LOOKBACK_DAYS)
    last = today + timedelta(days=LOOKAHEAD_DAYS)
    around = {
        ORDER_DUE: (first, last),
        PLACED: (first - timedelta(days=RETURN_WINDOW_DAYS), last),
        OPEN: _anniversaries_around(first, last),
        COMMITMENT_ENDS: (first, last),
    }
    created = select(Reseller.created_at).where(Reseller.id == reseller_id).scalar_subquery()
    counted = db.session.execute(
        select(
            PipelineDay.kind,
            PipelineDay.day,
            case((PipelineDay.kind == OPEN, PipelineDay.customers), else_=PipelineDay.licenses),
            created,
        ).where(
            PipelineDay.reseller_id == reseller_id,
            or_(
                *(
                    and_(PipelineDay.kind == kind, PipelineDay.day.between(start, end))
                    for kind, (start, end) in around.items()
                )
            ),
        )
    ).all()
    found: list[Deadline | DeadlineDay] = []
    for kind, (deadlines_of, read) in SOURCES.items():
        days = [(day, count, stamp) for of, day, count, stamp in counted if of == kind]
        few = [day for day, count, _stamp in days if count <= DAY_EVENT_THRESHOLD]
        found.extend(read(reseller_id, today, first, last, keys=few))  # none: no rows
        for on, count, stamp in days:
            if count <= DAY_EVENT_THRESHOLD:
                continue
            for deadline_kind, day in deadlines_of(on, today):
                if first <= day <= last:
                    found.append(
                        DeadlineDay(
                            kind=deadline_kind,
                            day=day,
                            count=count,
                            uid=_uid(f"reseller-{reseller_id}-{deadline_kind.value}-{day:%Y%m%d}"),
                            stamp=stamp,
                            anniversary=on if kind == OPEN else None,
                        )
                    )
    return sorted(found, key=lambda deadline: (deadline.day, deadline.uid))


def every_deadline(reseller_id: int, today: date, first: date, last: date) -> list[Deadline]:
    """Every deadline of the reseller from `first` to `last`, one by one, ordered by day and
    UID: four queries."""
    deadlines = [
        *_order_due(reseller_id, today, first, last),
        *_return_windows(reseller_id, today, first, last),
        *_anniversaries(reseller_id, today, first, last),
        *_commitment_ends(reseller_id, today, first, last),
    ]
    return sorted(deadlines, key=lambda deadline: (deadline.day, deadline.uid))


#: The longest range one request for deadlines may span.
MAX_RANGE_DAYS = LOOKBACK_DAYS + LOOKAHEAD_DAYS


def deadlines_between(*, user: User, first: date, last: date, today: date) -> list[Deadline]:
    """The feed's deadlines of the user's reseller from `first` to `last` (the API's
    `GET /deadlines`), at most MAX_RANGE_DAYS apart."""
    require(user, "customers.view")
    if last < first:
        raise DomainError(_l("The end of the range is before its start."), field="to")
    if (last - first).days > MAX_RANGE_DAYS:
        raise DomainError(
            _l("Ask for at most %(count)d days at a time.", count=MAX_RANGE_DAYS), field="to"
        )
    return every_deadline(user.reseller_id, today, first, last)
