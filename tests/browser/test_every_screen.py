"""Every page on every screen and for every user (README, "Every screen, every user").

One sweep per language over `PAGES`, the one list of the app's pages, with the demo's data
so that tables are full: at 390 px wide (a phone) and 640 px (a 1280 px laptop at 200 %
zoom) the page itself never scrolls sideways, and axe-core (vendored in
tests/browser/vendor/axe-core/) finds no serious or critical violation on the page and on
every dialog it opens. `test_every_page_is_in_the_sweep` makes a page added later join it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    ANONYMOUS,
    DIALOGS,
    PARTNER_ADMIN,
    PHONE,
    SIGN_INS,
    TWO_FACTOR,
    VIP_ADMIN,
    Sweep,
    horizontal_overflow,
    sweep_for,
)


@dataclass(frozen=True)
class Page:
    """A page of the app: its endpoint, its path (`str.format` with the demo's ids, see
    `demo_ids`) and who opens it: "anonymous", "partner admin" or "VIP admin"."""

    endpoint: str
    path: str
    who: str


#: Every page of the app, in the order the sweep opens them (one login per user).
PAGES = (
    Page("auth.login", "/login", ANONYMOUS),
    Page("invitations.accept", "/invitations/{invitation_token}", ANONYMOUS),
    Page("invitations.accept", "/invitations/not-a-valid-link", ANONYMOUS),
    Page("auth.set_password", "/account/set-password/{set_password_token}", ANONYMOUS),
    Page("home.index", "/", PARTNER_ADMIN),
    Page("customers.index", "/customers", PARTNER_ADMIN),
    Page("customers.new", "/customers/new", PARTNER_ADMIN),
    Page("customers.details", "/customers/{kund}", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/info", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{arkitekter}/info", PARTNER_ADMIN),  # a 3YC requested
    Page("customers.tab", "/customers/{bryggeri}/plans", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/orders", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{kund}/renewals", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{arkitekter}/renewals", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/timeline", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/history", PARTNER_ADMIN),
    Page("authorizations.new", "/customers/{bryggeri}/authorizations/new", PARTNER_ADMIN),
    Page("orders.record_order_form", "/authorizations/{pending_pa}/order/new", PARTNER_ADMIN),
    Page("orders.return_form", "/orders/{open_order}/return/new", PARTNER_ADMIN),
    Page("orders.return_for_authorization", "/authorizations/{ordered_pa}/return", PARTNER_ADMIN),
    Page("orders.returns_queue", "/returns", PARTNER_ADMIN),
    Page("renewals.index", "/renewals", PARTNER_ADMIN),
    Page("renewals.pipeline_chart", "/renewals/pipeline", PARTNER_ADMIN),
    Page("renewals.record_form", "/customers/{kund}/renewal/new", PARTNER_ADMIN),
    Page("commitments.new_request", "/customers/{bryggeri}/commitment/request", PARTNER_ADMIN),
    Page("commitments.answer", "/customers/{kund}/commitment/answer", PARTNER_ADMIN),
    Page("commitments.answer", "/customers/{arkitekter}/commitment/answer", PARTNER_ADMIN),
    Page("outbox.index", "/outbox", PARTNER_ADMIN),
    Page("outbox.preview", "/outbox/preview", PARTNER_ADMIN),
    Page("team.index", "/team", PARTNER_ADMIN),
    Page("settings.index", "/settings", PARTNER_ADMIN),
    Page("calendar_feed.index", "/account/calendar", PARTNER_ADMIN),
    Page("auth.change_password", "/account/password", PARTNER_ADMIN),
    Page("customer_import.index", "/customers/import", PARTNER_ADMIN),
    Page("security_log.index", "/security-log", PARTNER_ADMIN),
    Page("webhooks.index", "/settings/webhooks", PARTNER_ADMIN),
    Page("webhooks.edit", "/settings/webhooks/{webhook}", PARTNER_ADMIN),
    Page("webhooks.deliveries", "/settings/webhooks/{webhook}/deliveries", PARTNER_ADMIN),
    Page("auth.two_factor", "/account/two-factor", PARTNER_ADMIN),
    Page("api_keys.index", "/settings/api-keys", PARTNER_ADMIN),
    Page("api_reference.reference", "/api/v1/docs", PARTNER_ADMIN),
    Page("errors", "/customers/999999/info", PARTNER_ADMIN),
    Page("admin_console.home", "/console", VIP_ADMIN),
    Page("admin_console.choose", "/console/choose", VIP_ADMIN),
    Page("admin_console.index", "/console/{kund}", VIP_ADMIN),
    Page("auth.change_password", "/account/password", VIP_ADMIN),
    Page("auth.second_factor", "/login/code", TWO_FACTOR),
)

#: GET endpoints that are no page: files, feeds, health, and fragments only htmx asks for
#: (the pages holding them are in the sweep); `customer_import.progress` is opened by
#: the sweep after its upload (it needs the upload's token).
#: The API's routes answer JSON (its reference page is in `PAGES`).
API = "/api/v1/"
NOT_PAGES = {
    "static": "files",
    "home.health": "plain text for load balancers",
    "home.dashboard_section": "a section of the dashboard, refreshed by htmx",
    "renewals.export": "CSV",
    "calendar_feed.feed": "ICS",
    "customer_import.sample": "CSV",
    "customer_import.problems_csv": "CSV",
    "security_log.export": "CSV",
    "api_reference.openapi_document": "JSON",
    "customer_import.progress": "opened by the sweep after its upload",
}


def test_every_page_is_in_the_sweep(app):
    """A GET route added later must join `PAGES` (or say in `NOT_PAGES` why it is no page);
    a tab added to the customer page too."""
    swept = {page.endpoint for page in PAGES}
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if rule.rule.startswith(API) and rule.endpoint not in swept:
            continue  # JSON for other systems (docs/api.md)
        if rule.endpoint not in swept and rule.endpoint not in NOT_PAGES:
            missing.append(rule.endpoint)
        if rule.endpoint == "customers.tab":
            tabs = rule._converters["tab"].items
            swept_tabs = {p.path.rsplit("/", 1)[1] for p in PAGES if p.endpoint == rule.endpoint}
            missing += [f"customers.tab {tab}" for tab in sorted(tabs - swept_tabs)]
    assert missing == [], missing


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_page_fits_a_phone_and_passes_axe(demo_ids, live_server, new_context, language):
    sweep = sweep_for(new_context, language)
    signed_in = ANONYMOUS
    for page_spec in PAGES:
        if page_spec.who != signed_in:
            if signed_in != ANONYMOUS:
                sweep.sign_out()
            sweep.sign_in(SIGN_INS[page_spec.who])
            signed_in = page_spec.who
            if page_spec.who == PARTNER_ADMIN:
                sweep.import_pages()
        sweep.visit(page_spec.path.format(**demo_ids))
    assert sweep.problems == [], "\n".join(sweep.problems)
    assert sweep.dialogs >= DIALOGS


def test_the_header_menu_works_by_keyboard_on_a_phone(demo_ids, live_server, new_context):
    """At 390 px the navigation and the account tools are behind one menu button (a
    <details>): Tab reaches it, Enter opens it, Tab walks its links, Esc closes it. On a
    wide screen the same links are in the header, with no button."""
    context = new_context(viewport=PHONE)
    page = context.new_page()
    Sweep(page, "sv").sign_in("anna@reseller.example")
    menu = page.locator("details.nav-menu")
    button = menu.locator("summary")
    customers = page.locator(".main-nav").get_by_role("link", name="Kunder", exact=True)
    expect(button).to_be_visible()
    expect(customers).to_be_hidden()

    page.locator("body").focus()
    for _ in range(3):  # the skip link, the brand, the menu button
        page.keyboard.press("Tab")
    expect(button).to_be_focused()
    expect(button).to_have_text("Meny")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    expect(customers).to_be_visible()
    expect(page.locator(".main-nav a").first).to_have_attribute("aria-current", "page")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(customers).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/customers$"))
    page.wait_for_load_state()  # app.js, a deferred script, listens for Esc on the new page
    expect(customers).to_be_hidden()  # a new page: the menu is closed again

    page.locator("details.nav-menu > summary").focus()
    page.keyboard.press("Space")
    expect(customers).to_be_visible()
    expect(page.locator(".nav-menu").get_by_role("button", name="Logga ut")).to_be_visible()
    page.keyboard.press("Escape")
    expect(customers).to_be_hidden()
    expect(button).to_be_focused()
    assert horizontal_overflow(page) is None

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(button).to_be_hidden()
    expect(customers).to_be_visible()
    expect(page.locator(".header-tools").get_by_role("button", name="Logga ut")).to_be_visible()


def test_swapped_results_are_announced_and_focus_stays_put(demo_ids, live_server, new_context):
    """The customer search's result count is read out by the page's live region; the outbox
    filter that replaced itself gives focus to its successor. (Every browser test checks
    every swap its user causes in the same way: tests/browser/swap_check.js.)"""
    page = new_context(viewport=PHONE).new_page()
    Sweep(page, "sv").sign_in("anna@reseller.example")
    page.goto("/customers")
    page.locator("#q").press_sequentially("Kund AB", delay=20)
    expect(page.locator("#customer-results tbody tr")).to_have_count(1)
    expect(page.locator("#announcer")).to_have_text("1 kund")
    expect(page.locator("#q")).to_be_focused()

    page.goto("/outbox")
    page.locator("#outbox-filter-failed").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.locator("#outbox-filter-failed")).to_have_attribute("aria-current", "page")
    expect(page.locator("#outbox-filter-failed")).to_be_focused()


def test_the_swap_check_finds_a_swap_nobody_hears(demo_ids, live_server, chromium):
    """swap_check.js itself: a swap that changes the page out of sight of focus and of any
    live region is reported."""
    from tests.browser.conftest import SWAP_CHECK, TIMEOUT_MS

    context = chromium.new_context(locale="sv-SE", base_url=live_server, viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    unheard: list[str] = []
    context.expose_function("__vipSwapProblem", lambda problem: unheard.append(problem))
    context.add_init_script(path=str(SWAP_CHECK))
    try:
        page = context.new_page()
        page.goto("/login")
        page.wait_for_load_state()
        page.evaluate(
            """() => {
              const button = document.createElement("button");
              button.id = "silent";
              button.setAttribute("hx-get", "/healthz");
              button.setAttribute("hx-target", "#silent-target");
              const target = document.createElement("div");
              target.id = "silent-target";
              document.querySelector("main").append(button, target);
              htmx.process(button);
            }"""
        )
        page.locator("#silent").click()
        expect(page.locator("#silent-target")).to_have_text("ok")
        page.evaluate("() => window.__vipSwapFlush()")
        page.evaluate("() => 0")  # the report reaches Python on the next call
        assert len(unheard) == 1, unheard
        assert "button#silent" in unheard[0] and "no live region changed" in unheard[0]
    finally:
        context.close()
