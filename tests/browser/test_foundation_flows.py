"""The foundation's flows in a real browser: login, the htmx search and tabs, the
language switch, tenant isolation, creating a customer and accepting its invitation."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, PASSWORD, TODAY
from vip.extensions import db
from vip.models import Notification, User
from vip.services.customers import create_customer

pytestmark = pytest.mark.browser

NEW_PASSWORD = "glad lemon typewriter harbour"


def sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Through the real login form."""
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit].primary").click()
    expect(page.locator("#email")).to_have_count(0)
    page.wait_for_load_state()  # htmx, a deferred script, has processed the new page


def open_customer(page, base: str, customer) -> None:
    """The customers list, then a click on the company name: Customer details, VIP information."""
    page.goto(f"{base}/customers")
    page.locator("#customer-results").get_by_role("link", name=customer.company_name).click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/info$"))
    expect(page.locator("#tab-info")).to_have_attribute("aria-selected", "true")
    page.wait_for_load_state()


def collect_errors(page) -> list[str]:
    """Uncaught script errors and failed htmx requests, to assert none happened."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    return errors


def test_login_lands_on_the_dashboard(page, live_server, tenants):
    """The landing page of reseller users is Översikt (it was the customers list before the
    dashboard); its first nav item, then Kunder, lead on."""
    sign_in(page, live_server, tenants.a.admin.email)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator(".main-nav a").first).to_have_attribute("aria-current", "page")
    expect(page.locator("#section-order_due")).to_be_visible()
    expect(page.locator(".who")).to_contain_text(tenants.a.admin.name)
    page.locator(".main-nav").get_by_role("link", name="Kunder", exact=True).click()
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.locator("#customer-results")).to_contain_text(tenants.a.customer.company_name)


def test_active_search_updates_the_url_and_survives_reload_and_back(page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/customers")
    customer = tenants.a.customer
    results = page.locator("#customer-results")

    page.locator("#q").press_sequentially("a Kund", delay=20)

    expect(page).to_have_url(re.compile(r"[?&]q=a(\+|%20)Kund"))
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results.locator("tbody")).to_contain_text(customer.company_name)
    expect(results.locator("tbody")).to_contain_text(customer.vip_id)
    assert "q=" in page.url

    page.reload()
    expect(page.locator("#q")).to_have_value("a Kund")
    expect(results.locator("tbody")).to_contain_text(customer.company_name)
    assert "q=" in page.url

    page.go_back()
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.locator("#q")).to_have_value("")
    expect(results.locator("tbody")).to_contain_text(customer.company_name)
    expect(page.locator("#flash .flash-error")).to_have_count(0)
    assert errors == []


def test_status_filter_shows_invited_customers(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/customers")
    results = page.locator("#customer-results")

    page.locator("#status").select_option("invited")

    expect(page).to_have_url(re.compile(r"[?&]status=invited"))
    expect(page.locator("#status")).to_have_value("invited")
    row = results.locator("tbody tr", has_text=tenants.a.customer.company_name)
    expect(row.locator(".badge.status-invited")).to_be_visible()

    page.locator("#status").select_option("active")
    expect(page).to_have_url(re.compile(r"[?&]status=active"))
    expect(results.locator("tbody tr")).to_have_count(0)
    expect(results.locator(".empty")).to_be_visible()


def test_history_tab_swaps_in_place_and_pushes_the_url(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    customer = tenants.a.customer
    open_customer(page, live_server, customer)
    page.evaluate("window.__marker = 1")

    page.get_by_role("tab", name="Historik", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/history$"))
    expect(page.locator("#tab-history")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-info")).to_have_attribute("aria-selected", "false")
    panel = page.locator("#tab-panel")
    expect(panel).to_have_attribute("aria-labelledby", "tab-history")
    expect(panel.locator("table")).to_contain_text(tenants.a.admin.name)
    assert page.evaluate("window.__marker") == 1, "the tab switch reloaded the whole page"


def test_tabs_follow_the_keyboard(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    customer = tenants.a.customer
    open_customer(page, live_server, customer)
    page.evaluate("window.__marker = 1")

    page.locator("#tab-info").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-plans")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/plans$"))
    expect(page.locator("#tab-plans")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-info")).to_have_attribute("aria-selected", "false")
    expect(page.locator("#tab-plans")).to_be_focused()
    assert page.evaluate("window.__marker") == 1


def test_language_switch_in_the_header(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    open_customer(page, live_server, tenants.a.customer)
    expect(page.locator("html")).to_have_attribute("lang", "sv")

    page.get_by_role("button", name="English", exact=True).click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("tab", name="History", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="English", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page).to_have_url(re.compile(rf"/customers/{tenants.a.customer.id}/info$"))

    page.get_by_role("button", name="Svenska", exact=True).click()

    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("tab", name="Historik", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Svenska", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )


def test_language_switch_keeps_the_url_pushed_by_htmx(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    customer = tenants.a.customer
    open_customer(page, live_server, customer)
    page.locator("#tab-history").click()
    expect(page).to_have_url(re.compile(r"/history$"))

    page.get_by_role("button", name="English", exact=True).click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/history$"), timeout=1_000)


def test_another_tenants_customer_is_not_found(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    other = tenants.b.customer

    response = page.goto(f"{live_server}/customers/{other.id}/info")

    assert response is not None and response.status == 404
    content = page.content()
    assert other.company_name not in content
    assert other.vip_id not in content
    assert other.admin_email not in content


def test_sales_creates_a_customer_whose_admin_accepts_the_invitation(
    app, page, live_server, tenants, new_context
):
    sign_in(page, live_server, tenants.a.sales.email)
    page.goto(f"{live_server}/customers/new")
    page.locator("#company_name").fill("Glada Laxen AB")
    page.locator("#market_segment").select_option("education")
    page.locator("#admin_name").fill("Lisa Lax")
    page.locator("#admin_email").fill("lisa@laxen.example")
    page.locator("form.grid-form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/customers/\d+/info$"))
    expect(page.locator("h1")).to_have_text("Glada Laxen AB")
    expect(page.locator(".subtitle .mono")).to_have_text(re.compile(r"^\d{10}$"))
    vip_id = page.locator(".subtitle .mono").inner_text()
    expect(page.locator("#flash .flash-success")).to_contain_text(vip_id)
    # The reseller never sees the link (S57): only the invited mailbox gets it.
    expect(page.locator("#invitation-heading")).to_be_visible()
    expect(page.locator("#invitation-link")).to_have_count(0)
    assert "/invitations/" not in page.content()
    with app.app_context():
        try:
            mail = db.session.scalar(
                sa.select(Notification.body_text).where(
                    Notification.recipient == "lisa@laxen.example",
                    Notification.kind == "invitation",
                )
            )
        finally:
            db.session.remove()
    invitation_url = re.search(r"http\S+/invitations/\S+", mail).group(0)
    assert invitation_url.startswith(f"{live_server}/invitations/")

    # The VIP admin, in a browser of their own that has never signed in.
    admin_page = new_context().new_page()
    admin_page.goto(invitation_url)
    expect(admin_page.locator("main")).to_contain_text("Glada Laxen AB")
    admin_page.locator("#password").fill(NEW_PASSWORD)
    admin_page.locator("#confirm").fill(NEW_PASSWORD)
    admin_page.locator("form button[type=submit].primary").click()

    expect(admin_page).to_have_url(re.compile(r"/login$"))
    expect(admin_page.locator("#flash .flash-success")).to_contain_text("lisa@laxen.example")
    admin_page.locator("#email").fill("lisa@laxen.example")
    admin_page.locator("#password").fill(NEW_PASSWORD)
    admin_page.locator("form button[type=submit].primary").click()

    expect(admin_page).to_have_url(re.compile(r"/console/\d+$"))
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Admin Console")
    expect(admin_page.locator("main")).to_contain_text(vip_id)

    # The link works once.
    response = admin_page.goto(invitation_url)
    assert response is not None and response.status == 410


def test_a_too_short_company_name_is_refused_next_to_the_field(page, live_server, tenants, app):
    from vip.extensions import db
    from vip.models import Customer

    sign_in(page, live_server, tenants.a.sales.email)
    page.goto(f"{live_server}/customers/new")
    page.locator("#company_name").fill("abc")
    page.locator("#market_segment").select_option("commercial")
    page.locator("#admin_name").fill("Lisa Lax")
    page.locator("#admin_email").fill("lisa@laxen.example")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("form.grid-form button[type=submit]").click()

    assert answer.value.status == 422
    expect(page).to_have_url(re.compile(r"/customers/new$"))
    field = page.locator(".field", has=page.locator("#company_name"))
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field.locator(".error")).to_be_visible()
    expect(page.locator("#company_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#company_name")).to_have_value("abc")
    expect(page.locator(".field .error")).to_have_count(1)

    page.goto(f"{live_server}/customers")
    expect(page.locator("#customer-results tbody tr")).to_have_count(1)
    with app.app_context():
        try:
            names = db.session.scalars(sa.select(Customer.company_name)).all()
        finally:
            db.session.remove()
    assert sorted(names) == sorted(
        [tenants.a.customer.company_name, tenants.b.customer.company_name]
    )


def test_screenshot_of_the_swedish_customer_details(app, page, live_server, tenants):
    """A customer whose VIP admin has not accepted the invitation yet (the tenant's own
    customer already has its VIP admin): VIP information shows the invitation, not its
    link (S57)."""
    with app.test_request_context():
        customer = create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Kvarnen Kommunikation AB",
            country="SE",
            market_segment="commercial",
            admin_name="Karl Kvarn",
            admin_email="karl@kvarnen.example",
            admin_language="sv",
        )
        db.session.refresh(customer)
        db.session.expunge(customer)
        db.session.remove()
    sign_in(page, live_server, tenants.a.admin.email)
    open_customer(page, live_server, customer)
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator(".breadcrumbs")).to_contain_text("Kunddetaljer")
    expect(page.locator("#invitation-heading")).to_be_visible()

    target = ARTIFACTS / "browser" / "kunddetaljer-sv.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    page.screenshot(path=str(target), full_page=True)

    assert target.exists()
    assert target.stat().st_size > 10_000, target.stat().st_size
