"""The calendar link in a real browser: from the account page to Kalenderlänk, create the
link (an htmx swap, no page load), the URL shown once in a focused read-only field that the
keyboard can copy, fetched and parsed as a calendar app would, then revoked (after the
confirmation) so that the URL answers 404. Also the same flow without JavaScript."""

from __future__ import annotations

import re

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.browser.test_purchase_authorizations import screenshot

pytestmark = pytest.mark.browser

FEED_PATH = re.compile(r"/calendar/[A-Za-z0-9_-]{43}\.ics$")


def test_calendar_feed_create_copy_fetch_and_revoke(new_context, live_server, tenants):
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)

    # The account page links to the calendar page.
    page.goto(f"{live_server}/account/password")
    page.locator('a[href="/account/calendar"]').click()
    expect(page).to_have_url(f"{live_server}/account/calendar")
    page.wait_for_load_state()  # htmx, a deferred script, has processed the new page
    expect(page.locator("#calendar-feed-url")).to_have_count(0)
    page.evaluate("window.__marker = 1")

    # Create: swapped in place, the URL shown and focused, read-only.
    page.locator("#calendar-link-create").click()
    url_field = page.locator("#calendar-feed-url")
    expect(url_field).to_be_visible()
    expect(url_field).to_be_focused()
    expect(url_field).to_have_attribute("readonly", "")
    url = url_field.input_value()
    assert url.startswith(f"{live_server}/calendar/") and FEED_PATH.search(url), url
    assert page.evaluate("window.__marker") == 1, "creating the link reloaded the page"
    expect(page.locator("#flash .flash-success")).to_be_visible()
    expect(page.locator("#calendar-link-created")).not_to_be_empty()
    screenshot(page, "calendar-link-created.png")

    # The keyboard reaches the copy button next, and Enter copies the URL.
    page.keyboard.press("Tab")
    copy = page.locator('[data-copy-target="calendar-feed-url"]')
    expect(copy).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("navigator.clipboard.readText()") == url

    # A calendar app fetches the URL: no session needed.
    anonymous = new_context().request
    answer = anonymous.get(url)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(answer.body())
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    assert f"pa-{tenants.a.authorization.id}-order-due@vip-reseller-console" in uids
    assert f"pa-{tenants.b.authorization.id}-order-due@vip-reseller-console" not in uids
    assert page.request.get(url).status == 200  # the page's own request context too

    # The page, reloaded, no longer shows the URL; the last fetch is there.
    page.reload()
    expect(page.locator("#calendar-feed-url")).to_have_count(0)
    expect(page.locator("#calendar-link-fetched")).not_to_have_text(re.compile(r"^\s*$"))
    assert url not in page.content()

    # Revoke, after the confirmation: the URL then answers 404.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#calendar-link-revoke").click()
    expect(page.locator("#calendar-link-revoke")).to_have_count(0)
    expect(page.locator("#calendar-link-create")).to_be_focused()
    assert page.request.get(url).status == 404
    assert anonymous.get(url).status == 404
    assert errors == []


def test_calendar_feed_dismissed_confirmation_keeps_the_link(page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    page.goto(f"{live_server}/account/calendar")
    page.locator("#calendar-link-create").click()
    url = page.locator("#calendar-feed-url").input_value()

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#calendar-link-revoke").click()
    expect(page.locator("#calendar-link-revoke")).to_be_visible()
    assert page.request.get(url).status == 200
    assert errors == []


def test_calendar_feed_without_javascript(new_context, live_server, tenants):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, live_server, tenants.a.sales.email)
    page.goto(f"{live_server}/account/calendar")
    page.locator("#calendar-link-create").click()
    expect(page).to_have_url(f"{live_server}/account/calendar/link")
    url = page.locator("#calendar-feed-url").input_value()
    assert FEED_PATH.search(url), url
    assert page.request.get(url).status == 200

    page.locator("#calendar-link-revoke").click()
    expect(page).to_have_url(f"{live_server}/account/calendar")
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#calendar-link-revoke")).to_have_count(0)
    assert page.request.get(url).status == 404
