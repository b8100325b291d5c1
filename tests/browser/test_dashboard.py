"""Översikt (the dashboard) in a real browser, in Swedish: the landing page after sign-in
with its seven sections, Registrera order opened from the due section (the orders
blueprint's own dialog), recorded with the keyboard, and the section's count dropping
without a page reload (a marker on `window` survives); Esc closes the dialog and focus
returns; sections refresh every 60 s only while the tab is visible, and at once when it
shows again (the clock is Playwright's); an unchanged section's refresh answers 204 and
the section stays as it was."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.browser.test_orders_and_returns import db_work
from tests.browser.test_purchase_authorizations import screenshot
from tests.conftest import TODAY
from tests.services.test_dashboard import with_anniversary
from tests.web.test_dashboard_http import KEYS, fill

pytestmark = pytest.mark.browser


def count(page, key: str):
    return page.locator(f"#section-{key} .dashboard-count")


def mark_window(page) -> None:
    """A marker that only a page reload would remove."""
    page.evaluate("window.dashboardMarker = 'still here'")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.dashboardMarker") == "still here"


def test_dashboard_record_order_without_a_reload(page, live_server, tenants, app):
    errors = collect_errors(page)
    # htmx reports an out-of-band swap with no target (the Plans tab's rows) on the console
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    board = fill(app, tenants.a, "Alfa")
    fill(app, tenants.b, "Bravo")
    sign_in(page, live_server, tenants.a.admin.email)

    # The landing page is Översikt, its first nav item the current page.
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".main-nav a").first).to_have_attribute("aria-current", "page")
    expect(page.locator("section.dashboard-section")).to_have_count(len(KEYS))
    for key, name in board.names.items():
        expect(count(page, key)).to_have_text("1")
        expect(page.locator(f"#section-{key}")).to_contain_text(name)
    expect(page.locator("main")).not_to_contain_text("Bravo")
    screenshot(page, "dashboard-sv.png")
    mark_window(page)

    # Registrera order, from the due section: the dialog opens on the vendor order number.
    opener = page.locator(f"#record-order-{board.pa_id}")
    expect(opener).to_have_text("Registrera order")
    opener.click()
    dialog = page.locator("dialog#order-dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Registrera order")
    expect(page.locator("#vendor_order_number")).to_be_focused()
    # Esc closes it and focus returns to the button that opened it.
    page.keyboard.press("Escape")
    expect(page.locator("dialog#order-dialog")).to_have_count(0)
    expect(opener).to_be_focused()

    # Again, by keyboard alone: Enter opens, type the number, Enter records.
    page.keyboard.press("Enter")
    expect(page.locator("dialog#order-dialog[open]")).to_be_visible()
    expect(page.locator("#vendor_order_number")).to_be_focused()
    page.keyboard.type("DASHB00001")
    expect(page.locator("#duration_months")).to_have_value("12")
    page.keyboard.press("Enter")

    expect(page.locator("dialog#order-dialog")).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text("DASHB00001")
    expect(count(page, "order_due")).to_have_text("0")
    expect(page.locator("#section-order_due .empty")).to_be_visible()
    expect(page.locator(f"#record-order-{board.pa_id}")).to_have_count(0)
    # The other sections refreshed too, unchanged; focus lands on the section's heading.
    expect(count(page, "order_overdue")).to_have_text("1")
    expect(page.locator("#section-order_due-title")).to_be_focused()
    assert_not_reloaded(page)
    screenshot(page, "dashboard-after-order-sv.png")
    assert errors == []


def test_dashboard_refreshes_while_visible_and_when_shown_again(page, live_server, tenants, app):
    errors = collect_errors(page)
    fill(app, tenants.a, "Alfa")
    page.clock.install()
    sign_in(page, live_server, tenants.a.admin.email)
    expect(count(page, "anniversary")).to_have_text("1")
    mark_window(page)

    # Nothing changed: a minute later the refresh answers 204 and the section stays.
    with page.expect_response(lambda r: "/dashboard/sections/anniversary" in r.url) as seen:
        page.clock.run_for(61_000)
    assert seen.value.status == 204
    page.wait_for_timeout(300)  # real time, for htmx to handle the answer
    expect(count(page, "anniversary")).to_have_text("1")
    expect(page.locator("section.dashboard-section")).to_have_count(len(KEYS))

    # Another anniversary arrives; a minute later the visible tab shows it.
    db_work(app, lambda: with_anniversary(tenants.a, "Alfa Ny AB", TODAY + timedelta(days=4)))
    page.clock.run_for(61_000)
    expect(count(page, "anniversary")).to_have_text("2")
    expect(page.locator("#section-anniversary")).to_contain_text("Alfa Ny AB")

    # Hidden: a minute passes without a refresh.
    page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    db_work(app, lambda: with_anniversary(tenants.a, "Alfa Dold AB", TODAY + timedelta(days=5)))
    page.clock.run_for(125_000)
    page.wait_for_timeout(300)  # real time, for a request that must not come
    expect(count(page, "anniversary")).to_have_text("2")

    # Shown again: every section refreshes at once.
    page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    expect(count(page, "anniversary")).to_have_text("3")
    expect(page.locator("#section-anniversary")).to_contain_text("Alfa Dold AB")
    assert_not_reloaded(page)
    assert errors == []


@pytest.fixture
def locale():
    return "en-GB"


def test_dashboard_in_english_for_sales(page, live_server, tenants, app):
    board = fill(app, tenants.a, "Alfa")
    sign_in(page, live_server, tenants.a.sales.email)  # prefers English
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("section.dashboard-section")).to_have_count(len(KEYS) - 1)
    expect(page.locator("#section-failed_mail")).to_have_count(0)
    expect(page.locator("#section-order_due h2")).to_contain_text(
        "Purchase authorizations due within 3 days"
    )
    expect(page.locator(f"#record-order-{board.pa_id}")).to_have_accessible_name(
        re.compile(rf"^Record order for {board.pa_number}")
    )
    # A section's "show all" opens the filtered customers list.
    page.locator("#section-order_overdue .show-all a").click()
    expect(page).to_have_url(re.compile(r"/customers\?attention=order_overdue$"))
    expect(page.locator("#customer-results tbody tr")).to_have_count(1)
    expect(page.locator("#customer-results")).to_contain_text("Alfa Sen AB")
    screenshot(page, "dashboard-filtered-customers-en.png")
