"""The calendar link over HTTP: the account page that creates (the URL shown once) and
revokes it, with htmx and without; the public feed (text/calendar, kept only by the client
and revalidated every time, 404 for an unknown or revoked token, last fetch recorded at
most once a minute, also when SQLite has a writer in between); S11 (a VIP admin cannot
reach the page), S13 (CSRF, POST only) and the feed's constant number of SQL statements at
1 and 50 customers; its ETag, 304 while nothing in it changed and a new tag after every
kind of change that alters it."""

from __future__ import annotations

import html as htmllib
import re
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import event, func, select, update

from tests.conftest import HX, PASSWORD, TODAY, login
from tests.services.test_calendar_feed import add_customer
from tests.support import in_app
from vip import clock
from vip.extensions import db
from vip.generate import generate_portfolio
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    CalendarFeed,
    Customer,
    Order,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    User,
)
from vip.services import calendar_feed as calendar_feed_service
from vip.services.authorizations import cancel_purchase_authorization
from vip.services.bearer_secrets import digest_of

FEED_URL = re.compile(r'<input id="calendar-feed-url"[^>]*\bvalue="([^"]+)"')


def feed_url_in(page: str) -> str:
    match = FEED_URL.search(page)
    assert match, "no calendar link shown"
    return htmllib.unescape(match.group(1))


def path_of(url: str) -> str:
    assert url.startswith("http://localhost/calendar/") and url.endswith(".ics"), url
    return url.removeprefix("http://localhost")


def feeds(app) -> list[CalendarFeed]:
    with in_app(app):
        rows = db.session.scalars(select(CalendarFeed).order_by(CalendarFeed.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def create_link(client, *, htmx: bool = True) -> str:
    response = client.post("/account/calendar/link", headers=HX if htmx else {})
    assert response.status_code == 200
    return path_of(feed_url_in(response.get_data(as_text=True)))


# --- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_calendar_feed_page_for_reseller_users(client, tenants, login_as, role):
    login_as(getattr(tenants.a, role))
    response = client.get("/account/calendar")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="calendar-link"' in page
    assert 'action="/account/calendar/link"' in page
    assert "calendar-feed-url" not in page  # no link yet, nothing to show
    assert "calendar-link-revoke" not in page
    assert response.headers["Cache-Control"] == "no-store"


def test_calendar_feed_account_page_links_to_it(client, tenants, login_as):
    login_as(tenants.a.sales)
    assert 'href="/account/calendar"' in client.get("/account/password").get_data(as_text=True)


def test_calendar_feed_vip_admin_cannot_reach_the_page(app, client, tenants, login_as):
    login_as(tenants.a.vip_admin)
    assert 'href="/account/calendar"' not in client.get("/account/password").get_data(as_text=True)
    assert client.get("/account/calendar").status_code == 403
    assert client.post("/account/calendar/link").status_code == 403
    assert client.post("/account/calendar/revoke", headers=HX).status_code == 403
    assert feeds(app) == []
    with in_app(app):
        denials = db.session.scalars(
            select(AuditEvent.details["path"].as_string()).where(
                AuditEvent.action == "access.denied_role"
            )
        ).all()
    assert "/account/calendar" in denials


def test_calendar_feed_create_with_htmx_shows_the_url_once(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    response = client.post("/account/calendar/link", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="calendar-link"')
    assert "HX-Request" in response.headers["Vary"]
    url = feed_url_in(fragment)
    input_tag = re.search(r'<input id="calendar-feed-url"[^>]*>', fragment).group(0)
    assert "readonly" in input_tag and "autofocus" in input_tag
    assert 'data-copy-target="calendar-feed-url"' in fragment
    assert 'id="flash" hx-swap-oob="innerHTML"' in fragment
    assert 'id="calendar-link-revoke"' in fragment and "hx-confirm=" in fragment
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    (feed,) = feeds(app)
    assert feed.token_hash == digest_of(token)

    # Shown once: the page afterwards has the dates, never the link.
    page = client.get("/account/calendar").get_data(as_text=True)
    assert token not in page and "calendar-feed-url" not in page
    assert 'id="calendar-link-created"' in page and 'id="calendar-link-revoke"' in page
    assert client.get(path_of(url)).status_code == 200


def test_calendar_feed_create_without_javascript_renders_the_page(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    response = client.post("/account/calendar/link")
    assert response.status_code == 200  # the answer itself: the token is in no cookie
    page = response.get_data(as_text=True)
    assert "<html" in page
    url = feed_url_in(page)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert 'class="flash flash-success"' in page
    assert token not in response.headers.get("Set-Cookie", "")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get(path_of(url)).status_code == 200


def test_calendar_feed_second_link_revokes_the_first(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    first = create_link(client)
    second = create_link(client)
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert [feed.revoked_at is None for feed in feeds(app)] == [False, True]


def test_calendar_feed_revoke_with_htmx_then_404(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    path = create_link(client)
    assert client.get(path).status_code == 200
    response = client.post("/account/calendar/revoke", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'id="calendar-link"' in fragment
    assert "calendar-link-revoke" not in fragment
    assert 'class="flash flash-success"' in fragment
    gone = client.get(path)
    assert gone.status_code == 404
    body = gone.get_data(as_text=True)
    assert "BEGIN:VCALENDAR" not in body and tenants.a.customer.company_name not in body
    assert not gone.headers["Content-Type"].startswith("text/calendar")
    # Revoking again: said so, nothing changes.
    again = client.post("/account/calendar/revoke", headers=HX)
    assert 'class="flash flash-error"' in again.get_data(as_text=True)
    assert len(feeds(app)) == 1


def test_calendar_feed_revoke_without_javascript_redirects(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    path = create_link(client, htmx=False)
    response = client.post("/account/calendar/revoke")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/calendar"
    page = client.get("/account/calendar").get_data(as_text=True)
    assert 'class="flash flash-success"' in page
    assert client.get(path).status_code == 404


def test_calendar_feed_actions_are_post_only(client, tenants, login_as):
    login_as(tenants.a.sales)
    assert client.get("/account/calendar/link").status_code == 405
    assert client.get("/account/calendar/revoke").status_code == 405


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_s13_calendar_feed_actions_need_the_csrf_token(app, client, tenants):
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": tenants.a.sales.email, "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 303
    assert client.post("/account/calendar/link").status_code == 400
    assert client.post("/account/calendar/link", data={"csrf_token": "forged"}).status_code == 400
    htmx = client.post("/account/calendar/link", headers=HX)
    assert htmx.status_code == 400 and htmx.headers["HX-Refresh"] == "true"
    assert feeds(app) == []

    token = _csrf_token(client.get("/account/calendar").get_data(as_text=True))
    created = client.post("/account/calendar/link", headers={**HX, "X-CSRFToken": token})
    assert created.status_code == 200
    path = path_of(feed_url_in(created.get_data(as_text=True)))
    assert client.post("/account/calendar/revoke").status_code == 400
    assert client.get(path).status_code == 200  # not revoked
    revoked = client.post("/account/calendar/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get(path).status_code == 404


# --- the feed ------------------------------------------------------------------------------


def test_calendar_feed_serves_text_calendar_without_a_session(app, tenants, login_as):
    client = login_as(tenants.a.sales)
    path = create_link(client)
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    # The client keeps it, revalidates it every time (If-None-Match), no shared cache keeps it.
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in response.headers  # no session made for a calendar app
    calendar = Calendar.from_ical(response.get_data())
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    assert f"pa-{tenants.a.authorization.id}-order-due@vip-reseller-console" in uids
    assert f"pa-{tenants.b.authorization.id}-order-due@vip-reseller-console" not in uids
    text = response.get_data(as_text=True)
    assert tenants.b.customer.company_name not in text and tenants.b.customer.vip_id not in text
    summaries = {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}
    # The sales user reads English (conftest); the link's owner decides, not the browser.
    assert f"Order due: {tenants.a.authorization.number} · a Kund AB" in summaries
    assert str(calendar["X-WR-CALNAME"]).endswith("Reseller A AB")
    # The token gives the feed and nothing else.
    assert anonymous.get("/customers").status_code == 302
    assert anonymous.get("/account/calendar").status_code == 302


def test_calendar_feed_same_document_on_every_fetch(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    path = create_link(client)
    first = client.get(path).get_data()
    second = client.get(path).get_data()
    assert first == second


@pytest.mark.parametrize(
    "path",
    ["/calendar/unknown.ics", "/calendar/" + "x" * 500 + ".ics", "/calendar/.ics"],
)
def test_calendar_feed_unknown_token_is_not_found(client, tenants, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)


def test_calendar_feed_deactivated_owner_gives_404(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    path = create_link(client)
    with in_app(app):
        db.session.execute(update(User).where(User.id == tenants.a.sales.id).values(active=False))
        db.session.commit()
    assert app.test_client().get(path).status_code == 404


def test_calendar_feed_records_the_last_fetch_at_most_once_a_minute(
    app, client, tenants, login_as, monkeypatch
):
    from datetime import UTC, datetime

    from vip import clock

    login_as(tenants.a.sales)
    path = create_link(client)
    assert feeds(app)[0].last_fetched_at is None
    page = client.get("/account/calendar").get_data(as_text=True)
    assert re.search(r'id="calendar-link-fetched">\s*Not yet\s*<', page)
    moments = iter(datetime(2026, 11, 29, 10, 0, second, tzinfo=UTC) for second in (0, 30, 59))
    monkeypatch.setattr(clock, "now", lambda: next(moments))
    for _ in range(2):
        assert client.get(path).status_code == 200
    assert feeds(app)[0].last_fetched_at == datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
    later = iter([datetime(2026, 11, 29, 10, 1, 5, tzinfo=UTC)])
    monkeypatch.setattr(clock, "now", lambda: next(later))
    assert client.get(path).status_code == 200
    assert feeds(app)[0].last_fetched_at == datetime(2026, 11, 29, 10, 1, 5, tzinfo=UTC)
    monkeypatch.undo()
    page = client.get("/account/calendar").get_data(as_text=True)
    fetched = re.search(r'id="calendar-link-fetched">([^<]+)<', page).group(1)
    assert "11:01" in fetched  # 10:01 UTC, shown in Stockholm time


def test_calendar_feed_fetch_is_written_after_another_writer_committed(
    app, client, tenants, login_as, monkeypatch
):
    """A GET reads in a deferred transaction on SQLite; a write in that same transaction
    after another connection committed fails at once (a stale snapshot) instead of
    waiting. Another writer commits between the feed's reads and its write, and holds the
    write lock for a moment: the feed is served and the fetch recorded all the same."""
    login_as(tenants.a.sales)
    path = create_link(client)
    with app.app_context():
        url = db.engine.url
    read = calendar_feed_service.feed_deadlines

    def read_then_someone_writes(**kwargs):
        deadlines = read(**kwargs)
        if url.get_backend_name() == "sqlite":
            other = sqlite3.connect(
                url.database, isolation_level=None, timeout=10, check_same_thread=False
            )
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE customers SET company_name = company_name || ' 2'")
            other.execute("COMMIT")
            other.execute("BEGIN IMMEDIATE")  # and keeps the lock for a moment
            threading.Timer(0.3, lambda: (other.execute("COMMIT"), other.close())).start()
        else:
            with db.engine.begin() as connection:
                connection.execute(
                    update(Customer).values(company_name=Customer.company_name + " 2")
                )
        return deadlines

    monkeypatch.setattr(calendar_feed_service, "feed_deadlines", read_then_someone_writes)
    started = time.monotonic()
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "BEGIN:VCALENDAR" in response.get_data(as_text=True)
    assert feeds(app)[0].last_fetched_at is not None
    assert time.monotonic() - started < 8


# --- SQL statements per fetch (README, Performance) ----------------------------------------

RESELLER = "Query Count AB"
ADMIN = "admin@querycountab.example"  # made by the generator for RESELLER
GENERATOR_PASSWORD = "bench-password-2026-lång"
SEEDS = {1: 1080, 50: 1019}
#: The token's feed, user and reseller (one join), the deadlines per day (the summary), the
#: authorizations, orders and customers of the days of few and the commitments ending on
#: them, and the last-fetch update. SQLite also sends its two BEGINs.
PINNED = {"sqlite": 9, "postgresql": 7}


@pytest.fixture(params=[1, 50], ids=["1-customer", "50-customers"])
def generated(request, app):
    size = request.param
    with in_app(app):
        generate_portfolio(customers=size, today=TODAY, seed=SEEDS[size], reseller_name=RESELLER)
        reseller_id = db.session.scalar(select(User.reseller_id).where(User.email == ADMIN))
        customers = db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.reseller_id == reseller_id)
        )
        # An order placed three days ago, so that every kind of event is in the feed.
        first = db.session.scalar(
            select(Customer).where(Customer.reseller_id == reseller_id).order_by(Customer.id)
        )
        db.session.add(
            Order(
                customer_id=first.id,
                vendor_order_number="CALFEED001",
                order_type=OrderType.ADD_ON,
                order_date=TODAY - timedelta(days=3),
                duration_months=12,
                term_ends_on=first.anniversary_date or TODAY + timedelta(days=362),
                status=OrderStatus.PLACED,
            )
        )
        db.session.commit()
    assert customers == size
    return size


def test_perf_calendar_feed_query_count_is_constant(app, client, generated, monkeypatch):
    assert login(client, ADMIN, GENERATOR_PASSWORD).status_code == 303
    path = create_link(client)
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    calendar_app = app.test_client()  # no session cookie, as a calendar app fetches
    warm = calendar_app.get(path)
    assert warm.status_code == 200
    # Two minutes on, so the measured fetch writes its last-fetch time too.
    from vip import clock

    later = clock.now() + timedelta(minutes=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = calendar_app.get(path)
        body = response.get_data()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    events = Calendar.from_ical(body).walk("VEVENT")
    kinds = {str(e["UID"]).split("-", 1)[0] for e in events}
    # Events of every kind at both sizes, and more of them at 50 customers (some days
    # of many as one event of the reseller's).
    assert kinds >= {"pa", "order", "customer"}, kinds
    assert len(events) >= (3 if generated == 1 else 30)
    assert len(statements) == PINNED[dialect], "\n".join(
        " ".join(statement.split())[:160] for statement in statements
    )
    assert feeds(app)[0].last_fetched_at == later


# --- conditional fetches: ETag and 304 -------------------------------------------------------


def test_calendar_feed_answers_304_while_nothing_in_it_changed(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    path = create_link(client)
    anonymous = app.test_client()
    first = anonymous.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag

    again = anonymous.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    # Another reseller's change, a sign-in and a fetch leave the feed and its tag alone.
    with in_app(app):
        other = db.session.get(Customer, tenants.b.customer.id)
        other.company_name = "Renamed Elsewhere AB"
        db.session.commit()
    login_as(tenants.a.sales)
    assert anonymous.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert anonymous.get(path).headers["ETag"] == etag
    # A tag of another version, or none, gets the document.
    stale = anonymous.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.get_data() == first.get_data()


@pytest.mark.parametrize("change", ["rename", "order-due", "cancel", "language", "next-day"])
def test_calendar_feed_tag_changes_with_what_the_feed_shows(
    app, client, tenants, login_as, monkeypatch, change
):
    """Each change that alters the document changes the tag, and a fetch with the old tag
    gets the new document."""
    login_as(tenants.a.admin)
    path = create_link(client)
    anonymous = app.test_client()
    first = anonymous.get(path)
    with in_app(app):
        if change == "rename":
            db.session.get(Customer, tenants.a.customer.id).company_name = "Nytt Namn AB"
        elif change == "order-due":
            pa = db.session.get(PurchaseAuthorization, tenants.a.authorization.id)
            pa.order_due_on = pa.order_due_on + timedelta(days=3)
        elif change == "cancel":
            cancel_purchase_authorization(
                user=db.session.get(User, tenants.a.admin.id),
                pa_id=tenants.a.authorization.id,
                today=TODAY,
                now=clock.now(),
            )
            assert (
                db.session.get(PurchaseAuthorization, tenants.a.authorization.id).status
                == AuthorizationStatus.CANCELLED
            )
        elif change == "language":
            admin = db.session.get(User, tenants.a.admin.id)
            admin.language = "sv" if admin.language == "en" else "en"
        db.session.commit()
    if change == "next-day":
        monkeypatch.setattr(clock, "today_in", lambda _zone: TODAY + timedelta(days=1))
    second = anonymous.get(path, headers={"If-None-Match": first.headers["ETag"]})

    assert second.status_code == 200
    assert second.headers["ETag"] != first.headers["ETag"]
    if change != "next-day":  # the range moved by a day; this tenant's events did not
        assert second.get_data() != first.get_data()


# --- a day of many -----------------------------------------------------------------------------


def test_a_day_of_many_links_to_the_customers_list_of_that_anniversary(
    app, client, tenants, login_as
):
    """The feed's one event for the 11 customers of one anniversary links to the customers
    list of that date: exactly those customers of the reseller, the filter said and kept
    by a search; a value that is no date is no filter."""
    anniversary = TODAY + timedelta(days=50)
    with in_app(app):
        names = [
            add_customer(tenants.a, f"Samma dag {n} AB", anniversary).company_name
            for n in range(11)
        ]
        others = [
            add_customer(tenants.b, "Annan reseller AB", anniversary).company_name,
            add_customer(tenants.a, "Dagen efter AB", anniversary + timedelta(days=1)).company_name,
        ]
    login_as(tenants.a.admin)
    path = create_link(client)
    events = Calendar.from_ical(app.test_client().get(path).get_data()).walk("VEVENT")
    uid = f"reseller-{tenants.a.reseller.id}-anniversary-{anniversary:%Y%m%d}@vip-reseller-console"
    (event,) = [event for event in events if str(event["UID"]) == uid]
    url = str(event["URL"]).removeprefix("http://localhost")
    assert url == f"/customers?anniversary={anniversary.isoformat()}"

    page = client.get(url).get_data(as_text=True)
    results = re.search(r'<div id="customer-results".*', page, re.S).group(0)
    assert all(name in results for name in names)
    assert not [name for name in [*others, tenants.a.customer.company_name] if name in results]
    assert 'id="anniversary-filter"' in page
    assert f'<input type="hidden" name="anniversary" value="{anniversary.isoformat()}">' in page
    fragment = client.get(f"{url}&q=samma+dag+1", headers=HX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="customer-results"')
    assert "Samma dag 1 AB" in fragment and "Samma dag 10 AB" in fragment
    assert "Samma dag 2 AB" not in fragment
    assert f"anniversary={anniversary.isoformat()}" in fragment  # sort and page links keep it

    unfiltered = client.get("/customers?anniversary=not-a-date").get_data(as_text=True)
    assert 'id="anniversary-filter"' not in unfiltered
    assert "Dagen efter AB" in unfiltered
