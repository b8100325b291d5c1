"""The calendar feed service: the private link (only its hash stored, one active per user,
revoking, audit), and the events it carries (order-due dates, return windows closing, the
renewal window, anniversary and access removal of the current cycle) with their dates,
stable UIDs, texts in the owner's language and the reseller's data only. The feed is
parsed back with icalendar, as a calendar app reads it."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale
from icalendar import Calendar
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import TODAY, product_id
from tests.support import count, in_app, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    CalendarFeed,
    Customer,
    CustomerStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    Role,
    User,
    VipAdminCustomer,
)
from vip.services import calendar_feed, change_count
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.bearer_secrets import digest_of
from vip.services.customers import create_customer
from vip.services.errors import DomainError, PermissionDenied
from vip.services.renewals import record_renewal
from vip.services.terms import add_months
from vip.web import calendar_document

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
_numbers = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def add_customer(
    tenant, name: str, anniversary: date | None = None, *, ordered_on: date | None = None
) -> Customer:
    """A customer of `tenant`; with `anniversary`, a current term (a placed order of 5
    Photoshop licenses, by default a year before it, so that a renewal can be recorded)."""
    customer = create_customer(
        user=user(tenant.admin.id),
        today=TODAY,
        company_name=name,
        country="SE",
        market_segment="commercial",
        admin_name="Kund Admin",
        admin_email=f"it{next(_numbers)}@kund.example",
        admin_language="sv",
    )
    if anniversary is not None:
        add_order(
            customer,
            order_date=ordered_on or add_months(anniversary, -12),
            term_ends_on=anniversary,
        )
        customer.anniversary_date = anniversary
        customer.status = CustomerStatus.ACTIVE
    db.session.commit()
    return customer


def add_order(
    customer: Customer,
    *,
    order_date: date,
    term_ends_on: date | None = None,
    status: OrderStatus = OrderStatus.PLACED,
) -> Order:
    order = Order(
        customer_id=customer.id,
        vendor_order_number=f"VN{next(_numbers):08d}",
        order_type=OrderType.NEW,
        order_date=order_date,
        duration_months=12,
        term_ends_on=term_ends_on or add_months(order_date, 12),
        status=status,
    )
    db.session.add(order)
    db.session.add(
        OrderLine(
            order=order,
            product_id=product_id("Photoshop", "team", "commercial"),
            sku="SKU-PS",
            quantity=5,
            status=status,
        )
    )
    db.session.commit()
    return order


def add_authorization(tenant, customer_id: int, *, order_due_on: date | None = None, status=None):
    pa = create_purchase_authorization(
        user=user(tenant.sales.id),
        customer_id=customer_id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=product_id("Photoshop", "team", "commercial"), quantity=2)],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    values = {}
    if order_due_on is not None:
        values["order_due_on"] = order_due_on
    if status is not None:
        values["status"] = status
    if values:
        db.session.execute(
            update(PurchaseAuthorization).where(PurchaseAuthorization.id == pa.id).values(**values)
        )
        change_count.note_customers([customer_id])  # as every statement writer does
        db.session.commit()
    return db.session.get(PurchaseAuthorization, pa.id)


def feed_events(reseller_id: int, today: date, language: str):
    """The reseller's deadlines as the feed words them (service, then the web's wording)."""
    return calendar_document.calendar_events(
        calendar_feed.feed_deadlines(reseller_id=reseller_id, today=today), language=language
    )


def feed_of(tenant, *, language: str = "en", today: date = TODAY) -> Calendar:
    """The tenant's feed, rendered and parsed back as a calendar app reads it."""
    events = feed_events(tenant.reseller.id, today, language)
    name = calendar_document.calendar_name(reseller_name=tenant.reseller.name, language=language)
    return Calendar.from_ical(calendar_document.render_ics(name=name, events=events))


def events_by_uid(calendar: Calendar) -> dict[str, dict]:
    found = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        assert uid not in found, f"duplicate UID {uid}"
        found[uid] = {
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
            "description": str(event["DESCRIPTION"]),
            "url": str(event["URL"]),
            "stamp": event.decoded("DTSTAMP"),
            "ical": event.to_ical(),
        }
    return found


# --- the events ----------------------------------------------------------------------------


@pytest.fixture
def portfolio(app, tenants):
    """Tenant A's deadlines around TODAY (2026-11-29), each kind in and out of the window
    (30 days back to 400 days ahead)."""
    with in_app(app):
        a = tenants.a
        soon = add_customer(a, "Snart AB", anniversary=day(10))
        late = add_customer(a, "Sen AB", anniversary=day(420), ordered_on=day(-60))
        lapsed = add_customer(a, "Förfallen AB", anniversary=day(-45))
        ids = {
            "pa": a.authorization.id,  # pending, created TODAY: due in 14 days
            "pa_number": a.authorization.number,
            "old_pa": add_authorization(a, a.customer.id, order_due_on=day(-31)).id,
            "cancelled_pa": add_authorization(
                a, a.customer.id, status=AuthorizationStatus.CANCELLED
            ).id,
            "order": add_order(soon, order_date=day(-5)).id,
            "old_order": add_order(soon, order_date=day(-45)).id,
            "returned_order": add_order(soon, order_date=day(-2), status=OrderStatus.RETURNED).id,
            "soon": soon.id,
            "late": late.id,
            "lapsed": lapsed.id,
            "first_order_soon": db.session.scalar(
                select(Order.id).where(Order.customer_id == soon.id, Order.term_ends_on == day(10))
            ),
            "first_order_late": db.session.scalar(
                select(Order.id).where(Order.customer_id == late.id)
            ),
        }
        ids["order_number"] = db.session.get(Order, ids["order"]).vendor_order_number
        ids["soon_vip_id"] = soon.vip_id
        return ids


def test_calendar_feed_events_dates_uids_and_summaries(app, tenants, portfolio):
    ids = portfolio
    with in_app(app):
        calendar = feed_of(tenants.a)
        events = events_by_uid(calendar)

    def uid(name):
        return f"{name}@vip-reseller-console"

    expected = {
        uid(f"pa-{ids['pa']}-order-due"): (
            day(14),
            f"Order due: {ids['pa_number']} · a Kund AB",
        ),
        uid(f"order-{ids['order']}-return-window-closes"): (
            day(9),
            f"Return window closes: order {ids['order_number']} · Snart AB",
        ),
        uid(f"customer-{ids['soon']}-renewal-window-opens-{day(10)}"): (
            day(-20),
            "Renewal window opens: Snart AB",
        ),
        uid(f"customer-{ids['soon']}-anniversary-{day(10)}"): (
            day(10),
            "Anniversary date: Snart AB",
        ),
        uid(f"customer-{ids['soon']}-access-removal-{day(10)}"): (
            day(40),
            "Access removed unless renewed: Snart AB",
        ),
        uid(f"customer-{ids['late']}-renewal-window-opens-{day(420)}"): (
            day(390),
            "Renewal window opens: Sen AB",
        ),
        uid(f"customer-{ids['lapsed']}-access-removal-{day(-45)}"): (
            day(-15),
            "Access removed unless renewed: Förfallen AB",
        ),
    }
    # The first orders of the customers (a year before their anniversaries) and the old,
    # returned, cancelled and long-due rows are outside the feed.
    assert {u: (e["start"], e["summary"]) for u, e in events.items()} == expected
    for event in events.values():
        assert event["end"] == event["start"] + timedelta(days=1)  # all-day
        assert isinstance(event["start"], date) and not isinstance(event["start"], datetime)
    assert str(calendar["X-WR-CALNAME"]) == "VIP deadlines · Reseller A AB"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == calendar_document.PRODID
    assert calendar["REFRESH-INTERVAL"].to_ical() == b"PT1H"
    assert calendar["X-PUBLISHED-TTL"].to_ical() == b"PT1H"
    # Ordered by day, so the document itself is stable.
    starts = [event.decoded("DTSTART") for event in calendar.walk("VEVENT")]
    assert starts == sorted(starts)


def test_calendar_feed_descriptions_name_the_customer_vip_id_and_page(app, tenants, portfolio):
    ids = portfolio
    with in_app(app):
        events = events_by_uid(feed_of(tenants.a))
    anniversary = events[f"customer-{ids['soon']}-anniversary-{day(10)}@vip-reseller-console"]
    assert "Customer: Snart AB" in anniversary["description"]
    assert f"VIP ID: {ids['soon_vip_id']}" in anniversary["description"]
    page = f"http://localhost/customers/{ids['soon']}/renewals"
    assert page in anniversary["description"] and anniversary["url"] == page
    order = events[f"order-{ids['order']}-return-window-closes@vip-reseller-console"]
    assert f"http://localhost/customers/{ids['soon']}/orders" in order["description"]
    assert "November 24, 2026" in order["description"]  # ordered on day(-5)
    removal = events[f"customer-{ids['soon']}-access-removal-{day(10)}@vip-reseller-console"]
    assert "December 9, 2026" in removal["description"]  # the anniversary it belongs to
    pa = events[f"pa-{ids['pa']}-order-due@vip-reseller-console"]
    assert f"/customers/{tenants.a.customer.id}/plans" in pa["url"]
    assert f"VIP ID: {tenants.a.customer.vip_id}" in pa["description"]


def test_calendar_feed_dtstamp_is_the_rows_creation_time(app, tenants, portfolio):
    ids = portfolio
    with in_app(app):
        events = events_by_uid(feed_of(tenants.a))
        pa = db.session.get(PurchaseAuthorization, ids["pa"])
        order = db.session.get(Order, ids["order"])
        customer = db.session.get(Customer, ids["soon"])
    stamp = events[f"pa-{ids['pa']}-order-due@vip-reseller-console"]["stamp"]
    assert stamp == pa.created_at.replace(microsecond=0)
    stamp = events[f"order-{ids['order']}-return-window-closes@vip-reseller-console"]["stamp"]
    assert stamp == order.created_at.replace(microsecond=0)
    stamp = events[f"customer-{ids['soon']}-anniversary-{day(10)}@vip-reseller-console"]["stamp"]
    assert stamp == customer.created_at.replace(microsecond=0)


def test_calendar_feed_window_edges_30_days_back_400_ahead(app, tenants):
    with in_app(app):
        a = tenants.a
        edge = {
            "back_in": add_authorization(a, a.customer.id, order_due_on=day(-30)).id,
            "back_out": add_authorization(a, a.customer.id, order_due_on=day(-31)).id,
            "ahead_in": add_authorization(a, a.customer.id, order_due_on=day(400)).id,
            "ahead_out": add_authorization(a, a.customer.id, order_due_on=day(401)).id,
        }
        shown = set(events_by_uid(feed_of(a)))
    assert f"pa-{edge['back_in']}-order-due@vip-reseller-console" in shown
    assert f"pa-{edge['ahead_in']}-order-due@vip-reseller-console" in shown
    assert f"pa-{edge['back_out']}-order-due@vip-reseller-console" not in shown
    assert f"pa-{edge['ahead_out']}-order-due@vip-reseller-console" not in shown


def test_calendar_feed_uids_stable_across_fetches_and_unrelated_changes(app, tenants, portfolio):
    with in_app(app):
        first = calendar_document.render_ics(
            name="x",
            events=feed_events(tenants.a.reseller.id, TODAY, "en"),
        )
        second = calendar_document.render_ics(
            name="x",
            events=feed_events(tenants.a.reseller.id, TODAY, "en"),
        )
        assert first == second  # byte for byte: nothing churns between fetches
        before = events_by_uid(Calendar.from_ical(first))

        # Unrelated changes: a new customer with an earlier anniversary, a new authorization
        # and order of another customer, and the next day (the window moves on).
        newcomer = add_customer(tenants.a, "Nykomling AB", anniversary=day(3))
        add_authorization(tenants.a, newcomer.id)
        add_order(newcomer, order_date=day(-1))
        newcomer_id = newcomer.id
        after = events_by_uid(feed_of(tenants.a, today=day(1)))

    assert set(before) <= set(after)
    for uid, event in before.items():
        assert after[uid]["ical"] == event["ical"], uid  # the same event, unchanged
    new = set(after) - set(before)
    assert len(new) == 5  # anniversary, its removal and window, the PA, the order
    assert all(str(newcomer_id) in uid or "pa-" in uid or "order-" in uid for uid in new), new


def test_calendar_feed_renewal_gives_the_new_cycle_new_uids(app, tenants, portfolio):
    ids = portfolio
    old_cycle, new_cycle = day(10), add_months(day(10), 12)
    with in_app(app):
        before = events_by_uid(feed_of(tenants.a))
        order = record_renewal(
            user=user(tenants.a.sales.id),
            customer_id=ids["soon"],
            today=TODAY,
            vendor_order_number="RENEW0001",
            order_date=TODAY,
            quantities={product_id("Photoshop", "team", "commercial"): 5},
        )
        renewal_id = order.id
        after = events_by_uid(feed_of(tenants.a))

    prefix = f"customer-{ids['soon']}-"
    suffix = "@vip-reseller-console"
    assert f"{prefix}anniversary-{old_cycle}{suffix}" in before
    assert f"{prefix}anniversary-{old_cycle}{suffix}" not in after
    assert f"{prefix}access-removal-{old_cycle}{suffix}" not in after
    assert f"{prefix}renewal-window-opens-{old_cycle}{suffix}" not in after
    new = after[f"{prefix}anniversary-{new_cycle}{suffix}"]
    assert new["start"] == new_cycle
    assert after[f"{prefix}renewal-window-opens-{new_cycle}{suffix}"]["start"] == day(345)
    # The new cycle's access removal (day 405) is beyond the 400 days.
    assert f"{prefix}access-removal-{new_cycle}{suffix}" not in after
    # The renewal order's return window is a new event; the other customers' are untouched.
    assert after[f"order-{renewal_id}-return-window-closes{suffix}"]["start"] == day(14)
    untouched = {uid for uid in before if not uid.startswith(prefix)}
    assert untouched <= set(after)


def test_calendar_feed_shows_only_the_resellers_own_data(app, tenants, portfolio):
    with in_app(app):
        # Tenant B has deadlines of every kind too.
        b_customer = add_customer(tenants.b, "Annan Återförsäljares Kund AB", anniversary=day(20))
        b_order = add_order(b_customer, order_date=day(-3))
        b_order_id, b_order_number, b_vip_id = (
            b_order.id,
            b_order.vendor_order_number,
            b_customer.vip_id,
        )
        a_events = feed_events(tenants.a.reseller.id, TODAY, "en")
        b_events = feed_events(tenants.b.reseller.id, TODAY, "en")
        a_customers = set(
            db.session.scalars(
                select(Customer.id).where(Customer.reseller_id == tenants.a.reseller.id)
            )
        )
        b_customers = set(
            db.session.scalars(
                select(Customer.id).where(Customer.reseller_id == tenants.b.reseller.id)
            )
        )
        a_text = calendar_document.render_ics(name="a", events=a_events).decode()

    assert a_events and b_events
    assert {event.customer_id for event in a_events} <= a_customers
    assert {event.customer_id for event in b_events} <= b_customers
    assert {event.uid for event in a_events}.isdisjoint({event.uid for event in b_events})
    assert f"pa-{tenants.b.authorization.id}-order-due@vip-reseller-console" in {
        event.uid for event in b_events
    }
    assert f"order-{b_order_id}-" in "".join(event.uid for event in b_events)
    for secret in (
        tenants.b.customer.company_name,
        tenants.b.customer.vip_id,
        tenants.b.authorization.number,
        "Annan",
        b_vip_id,
        b_order_number,
    ):
        assert secret not in a_text


def test_calendar_feed_texts_in_swedish_with_the_glossary_terms(app, tenants, portfolio):
    """The Swedish feed (the owner's language) uses the seed's terms: Årsdag,
    Inköpsauktorisering, Försenad. Needs the catalog's Swedish entries of the feed."""
    ids = portfolio
    with in_app(app):
        calendar = feed_of(tenants.a, language="sv")
        events = events_by_uid(calendar)
    suffix = "@vip-reseller-console"
    assert str(calendar["X-WR-CALNAME"]) == "VIP-tidsfrister · Reseller A AB"
    anniversary = events[f"customer-{ids['soon']}-anniversary-{day(10)}{suffix}"]
    assert anniversary["summary"] == "Årsdag: Snart AB"
    assert "Kund: Snart AB" in anniversary["description"]
    pa = events[f"pa-{ids['pa']}-order-due{suffix}"]
    assert pa["summary"] == f"Sista orderdag: {ids['pa_number']} · a Kund AB"
    assert f"Inköpsauktorisering {ids['pa_number']}" in pa["description"]
    assert "Försenad" in pa["description"]
    removal = events[f"customer-{ids['soon']}-access-removal-{day(10)}{suffix}"]
    assert "9 december 2026" in removal["description"]  # Swedish dates
    # The same events as in English: the language changes no UID.
    with in_app(app):
        assert set(events_by_uid(feed_of(tenants.a, language="en"))) == set(events)


def test_calendar_feed_events_take_five_queries_whatever_the_rows(app, tenants):
    """The deadlines per day are read from the summary in one query, then the rows of the
    days of few, one query per source: five, however many rows and busy days."""
    from sqlalchemy import event as sa_event

    def statements():
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa_event.listen(db.engine, "before_cursor_execute", record)
        try:
            events = feed_events(tenants.a.reseller.id, TODAY, "en")
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
        return len(events), [s for s in seen if not s.startswith("BEGIN")]

    with in_app(app):
        small_events, small = statements()
        for number in range(12):  # spread over days: one event each
            customer = add_customer(tenants.a, f"Kund {number} AB", anniversary=day(5 + number))
            add_order(customer, order_date=day(-number))
        spread_events, spread = statements()
        for number in range(40):  # on one day: one event for all of them
            customer = add_customer(tenants.a, f"Dag {number} AB", anniversary=day(70))
            add_authorization(tenants.a, customer.id, order_due_on=day(9))
        busy_events, busy = statements()
    assert spread_events == small_events + 12 * 4  # 3 of the anniversary, 1 of the order
    # Three events of the 40 anniversaries, one of their 40 authorizations, one of the 40
    # orders placed a year before the anniversary (their return windows closed long ago).
    assert busy_events == spread_events + 3 + 1
    assert len(small) == len(spread) == len(busy) == 5, busy


def test_a_day_of_many_deadlines_of_one_kind_is_one_event_with_their_exact_number(app, tenants):
    limit = calendar_feed.DAY_EVENT_THRESHOLD
    with in_app(app):
        many = [
            add_customer(tenants.a, f"Många {n} AB", anniversary=day(50)) for n in range(limit + 1)
        ]
        few = [add_customer(tenants.a, f"Några {n} AB", anniversary=day(60)) for n in range(limit)]
        for customer in many:
            add_authorization(tenants.a, customer.id, order_due_on=day(12))
        events = events_by_uid(feed_of(tenants.a, language="sv"))
        english = events_by_uid(feed_of(tenants.a, language="en"))
        reseller_id = tenants.a.reseller.id
    summaries = [event["summary"] for event in events.values()]
    assert not [summary for summary in summaries if "Många" in summary]
    assert len([summary for summary in summaries if "Några" in summary]) == 3 * limit
    uid = f"reseller-{reseller_id}-{{}}-{{:%Y%m%d}}@vip-reseller-console"
    anniversary = events[uid.format("anniversary", day(50))]
    assert anniversary["summary"] == "Årsdag: 11 kunder"
    assert (anniversary["start"], anniversary["end"]) == (day(50), day(51))
    assert "11 tidsfrister av det här slaget infaller den här dagen" in anniversary["description"]
    # The three deadlines of one anniversary link to the customers of that anniversary date.
    listed = f"/customers?anniversary={day(50).isoformat()}"
    assert anniversary["url"].endswith(listed)
    assert f"Konsolen listar dem: {anniversary['url']}" in anniversary["description"]
    opens = events[uid.format("renewal_window_opens", day(20))]
    assert opens["summary"] == "Förlängningsperioden öppnar: 11 kunder"
    assert opens["url"] == anniversary["url"]
    assert events[uid.format("access_removal", day(80))]["url"] == anniversary["url"]
    # Authorizations due on one day: the dashboard section's list, as the day comes near.
    due = events[uid.format("order_due", day(12))]
    assert due["summary"] == "Sista orderdag: 11 inköpsauktoriseringar"
    assert due["url"].endswith("/customers?attention=order_due")
    assert "när dagen närmar sig" in due["description"]
    assert (
        english[uid.format("anniversary", day(50))]["summary"] == "Anniversary date: 11 customers"
    )
    assert set(english) == set(events)  # the same UIDs in every language
    assert few  # each of the ten on day 60 kept its own events (counted above)


# --- the link ------------------------------------------------------------------------------


def test_calendar_feed_token_is_stored_only_as_its_hash(app, tenants):
    with in_app(app):
        token = calendar_feed.create_feed(user=user(tenants.a.sales.id), now=NOW)
        assert len(token) >= 43  # 32 random bytes, URL-safe
        feed = db.session.scalar(select(CalendarFeed))
        assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
        row = db.session.execute(select(CalendarFeed.__table__)).one()._asdict()
        assert all(token not in str(value) for value in row.values()), row
        details = db.session.scalars(select(AuditEvent.details)).all()
        assert all(token not in str(value) for value in details)
        assert calendar_feed.feed_for_token(token).id == feed.id
        assert feed.created_at == NOW and feed.revoked_at is None and feed.last_fetched_at is None


def test_calendar_feed_tokens_differ_per_link(app, tenants):
    with in_app(app):
        tokens = {
            calendar_feed.create_feed(user=user(tenants.a.sales.id), now=NOW) for _ in range(3)
        }
    assert len(tokens) == 3


def test_calendar_feed_second_link_revokes_the_first_and_both_are_audited(app, tenants):
    with in_app(app):
        sales = user(tenants.a.sales.id)
        first = calendar_feed.create_feed(user=sales, now=NOW)
        second = calendar_feed.create_feed(user=sales, now=NOW + timedelta(minutes=5))
        assert calendar_feed.feed_for_token(first) is None
        active = calendar_feed.feed_for_token(second)
        assert active is not None and active.user_id == sales.id
        feeds = db.session.scalars(select(CalendarFeed).order_by(CalendarFeed.id)).all()
        assert [feed.revoked_at for feed in feeds] == [NOW + timedelta(minutes=5), None]
        assert calendar_feed.active_feed(user=sales).id == active.id
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("calendar_feed.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.object_id, e.details) for e in events] == [
        ("calendar_feed.created", str(feeds[0].id), {"replaced": []}),
        ("calendar_feed.revoked", str(feeds[0].id), {"reason": "replaced"}),
        ("calendar_feed.created", str(feeds[1].id), {"replaced": [feeds[0].id]}),
    ]
    assert all(e.actor_id == tenants.a.sales.id for e in events)
    assert all(e.reseller_id == tenants.a.reseller.id and e.customer_id is None for e in events)


def test_calendar_feed_revoke_ends_the_link_once(app, tenants):
    with in_app(app):
        admin = user(tenants.a.admin.id)
        token = calendar_feed.create_feed(user=admin, now=NOW)
        calendar_feed.revoke_feed(user=admin, now=NOW + timedelta(hours=1))
        assert calendar_feed.feed_for_token(token) is None
        assert calendar_feed.active_feed(user=admin) is None
        with pytest.raises(DomainError) as refused:
            calendar_feed.revoke_feed(user=admin, now=NOW + timedelta(hours=2))
        with force_locale("en"):
            assert "no calendar link" in str(refused.value)
        with force_locale("sv"):
            assert "ingen kalenderlänk" in str(refused.value)
        revoked = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "calendar_feed.revoked")
        ).all()
        assert [(e.actor_id, e.details) for e in revoked] == [
            (tenants.a.admin.id, {"reason": "revoked"})
        ]
        assert db.session.scalar(select(CalendarFeed.revoked_at)) == NOW + timedelta(hours=1)


def test_calendar_feed_unknown_inactive_or_non_reseller_gives_nothing(app, tenants):
    with in_app(app):
        sales = user(tenants.a.sales.id)
        token = calendar_feed.create_feed(user=sales, now=NOW)
        assert calendar_feed.feed_for_token(token) is not None
        assert calendar_feed.feed_for_token("") is None
        assert calendar_feed.feed_for_token(token[:-1]) is None
        assert calendar_feed.feed_for_token(token + "x") is None
        assert calendar_feed.feed_for_token("x" * 5000) is None
        assert calendar_feed.feed_for_token(digest_of(token)) is None

        db.session.execute(update(User).where(User.id == sales.id).values(active=False))
        db.session.commit()
        assert calendar_feed.feed_for_token(token) is None
        db.session.execute(
            update(User).where(User.id == sales.id).values(active=True, role=Role.VIP_ADMIN)
        )
        db.session.add(VipAdminCustomer(user_id=sales.id, customer_id=tenants.a.customer.id))
        db.session.commit()
        assert calendar_feed.feed_for_token(token) is None
        db.session.execute(update(User).where(User.id == sales.id).values(role=Role.RESELLER_SALES))
        db.session.commit()
        assert calendar_feed.feed_for_token(token) is not None


def test_calendar_feed_vip_admin_may_not_have_a_link(app, tenants):
    with in_app(app):
        vip_admin = user(tenants.a.vip_admin.id)
        with pytest.raises(PermissionDenied):
            calendar_feed.create_feed(user=vip_admin, now=NOW)
        with pytest.raises(PermissionDenied):
            calendar_feed.revoke_feed(user=vip_admin, now=NOW)
        with pytest.raises(PermissionDenied):
            calendar_feed.active_feed(user=vip_admin)
        assert count(CalendarFeed) == 0


def test_calendar_feed_one_active_link_per_user_in_the_schema(app, tenants):
    with in_app(app):
        db.session.add_all(
            [
                CalendarFeed(user_id=tenants.a.sales.id, token_hash="a" * 64),
                CalendarFeed(user_id=tenants.a.sales.id, token_hash="b" * 64),
            ]
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add_all(
            [
                CalendarFeed(user_id=tenants.a.sales.id, token_hash="a" * 64, revoked_at=NOW),
                CalendarFeed(user_id=tenants.a.sales.id, token_hash="b" * 64, revoked_at=NOW),
                CalendarFeed(user_id=tenants.a.sales.id, token_hash="c" * 64),
            ]
        )
        db.session.commit()
        assert count(CalendarFeed) == 3
        assert "uq_calendar_feeds_active_user" in {
            index["name"]
            for index in inspect(db.session.connection()).get_indexes("calendar_feeds")
        }


def test_calendar_feed_fetch_recorded_at_most_once_a_minute(app, tenants):
    with in_app(app):
        token = calendar_feed.create_feed(user=user(tenants.a.sales.id), now=NOW)
        feed_id = calendar_feed.feed_for_token(token).id
        assert calendar_feed.record_fetch(feed_id=feed_id, now=NOW) is True
        assert calendar_feed.record_fetch(feed_id=feed_id, now=NOW + timedelta(seconds=30)) is False
        assert db.session.get(CalendarFeed, feed_id).last_fetched_at == NOW
        later = NOW + timedelta(seconds=61)
        assert calendar_feed.record_fetch(feed_id=feed_id, now=later) is True
        db.session.expire_all()
        assert db.session.get(CalendarFeed, feed_id).last_fetched_at == later
