"""Renewals and the Admin Console in a real browser.

R12: the VIP admin's banner, in Swedish and English, on the days it starts, turns into a
warning and reports the removed access, on every Admin Console page, and gone once a
renewal is recorded. The Admin Console's license assignment (htmx swaps of one product's
section, errors at the field). R8 and R9: Förlängningar (the overview) filtered by stage
with the CSV link following the filters, the renewal dialog with its pre-filled fields, an
error inside the still-open dialog, the row turned Förlängd, Förlängningshistorik, and the
customer's Renewals tab whose dialog closes with Esc.

Dates: the app's "today" is VIP_TODAY. The banner tests move it per test through the
`app_config` fixture (indirect parametrization); the other tests keep TODAY (2026-11-29)
and place the anniversaries relative to it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from babel.dates import format_date as babel_format_date
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, open_customer, sign_in
from tests.browser.test_orders_and_returns import db_work, record_first_order, sv_long, sv_medium
from tests.browser.test_purchase_authorizations import screenshot
from tests.conftest import TODAY, product_id
from vip.extensions import db

pytestmark = pytest.mark.browser

HX = {"HX-Request": "true"}
#: The banner tests' anniversary (the first order a year before it): 15 January 2027.
ANNIVERSARY = date(2027, 1, 15)
RESELLER = "Reseller A AB"  # tenants.a's reseller, named in the banner


def at(offset: int) -> dict:
    """The app configuration of a test that runs `offset` days from ANNIVERSARY."""
    return {"VIP_TODAY": (ANNIVERSARY + timedelta(days=offset)).isoformat()}


@pytest.fixture
def app_config(request):
    """The app's configuration, per test through `indirect` parametrization."""
    return dict(getattr(request, "param", {}))


# --- helpers -------------------------------------------------------------------------


def en_long(day: date) -> str:
    """A date as English running text shows it ("January 15, 2027"), from Babel's CLDR."""
    return babel_format_date(day, "long", locale="en")


def en_medium(day: date) -> str:
    return babel_format_date(day, "medium", locale="en")


def photoshop_id(app) -> int:
    return db_work(app, lambda: product_id("Photoshop", "team", "commercial"))


def activate(app, customer_id: int) -> None:
    """The VIP admin accepted the invitation: the customer is active (as R1 leaves it)."""
    from vip.models import Customer, CustomerStatus

    def work():
        db.session.execute(
            sa.update(Customer)
            .where(Customer.id == customer_id)
            .values(status=CustomerStatus.ACTIVE)
        )
        db.session.commit()

    db_work(app, work)


def first_order(app, tenant, *, anniversary: date, vendor_number: str) -> None:
    """The tenant's Photoshop × 5 authorization ordered a year before `anniversary`."""
    order_date = anniversary.replace(year=anniversary.year - 1)
    db_work(app, record_first_order(tenant, order_date=order_date, vendor_number=vendor_number))
    activate(app, tenant.customer.id)


def add_renewing_customer(app, tenant, *, name: str, anniversary: date, vendor_number: str) -> int:
    """Another customer of the tenant, with Illustrator × 3 ordered a year before
    `anniversary`; returns its id."""
    from vip.models import PurchaseAuthorization, User
    from vip.services.authorizations import LineInput, create_purchase_authorization
    from vip.services.customers import create_customer
    from vip.services.orders import record_order

    order_date = anniversary.replace(year=anniversary.year - 1)

    def work():
        admin = db.session.get(User, tenant.admin.id)
        customer = create_customer(
            user=admin,
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name=f"It {name}",
            admin_email=f"it-{vendor_number.lower()}@customer.example",
            admin_language="sv",
        )
        pa = create_purchase_authorization(
            user=db.session.get(User, tenant.sales.id),
            customer_id=customer.id,
            today=TODAY,
            license_type="team",
            lines=[
                LineInput(product_id=product_id("Illustrator", "team", "commercial"), quantity=3)
            ],
            deployment_date=TODAY,
            customer_po_number=None,
        )
        db.session.execute(
            sa.update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == pa.id)
            .values(created_on=order_date, order_due_on=order_date + timedelta(days=14))
        )
        db.session.commit()
        record_order(
            user=db.session.get(User, tenant.sales.id),
            pa_id=pa.id,
            today=TODAY,
            vendor_order_number=vendor_number,
            order_date=order_date,
            duration_months=12,
        )
        return customer.id

    customer_id = db_work(app, work)
    activate(app, customer_id)
    return customer_id


def renew_by_service(app, tenant, *, today: date, vendor_number: str) -> None:
    """The reseller records the renewal (Photoshop × 5) through the service, not the UI."""
    from vip.models import User
    from vip.services.renewals import record_renewal

    def work():
        record_renewal(
            user=db.session.get(User, tenant.sales.id),
            customer_id=tenant.customer.id,
            today=today,
            vendor_order_number=vendor_number,
            order_date=today,
            quantities={product_id("Photoshop", "team", "commercial"): 5},
        )

    db_work(app, work)


def anniversary_of(app, customer_id: int) -> date:
    from vip.models import Customer

    return db_work(app, lambda: db.session.get(Customer, customer_id).anniversary_date)


def switch_language(page, name: str, lang: str) -> None:
    """The header's language buttons (Svenska / English)."""
    page.locator(".language-switcher").get_by_role("button", name=name, exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.wait_for_load_state()


def open_password_page(page, base: str) -> None:
    """Another Admin Console page: Change password, through the name in the header."""
    page.locator("a.who").click()
    expect(page).to_have_url(re.compile(r"/account/password$"))
    page.wait_for_load_state()
    assert page.url == f"{base}/account/password"


BANNER_COMPANY = "a Kund AB"  # tenants.a's customer, the banner_customer below


def expect_banner(page, kind: str, text: str) -> None:
    banner = page.locator("#renewal-banner")
    expect(banner).to_have_count(1)
    expect(banner).to_be_visible()
    other = "banner-warning" if kind == "banner-notice" else "banner-notice"
    expect(banner).to_have_class(re.compile(rf"\b{kind}\b"))
    expect(banner).not_to_have_class(re.compile(rf"\b{other}\b"))
    # The banner names its customer first (a VIP admin may administer several).
    expect(banner.locator(".banner-customer")).to_have_text(BANNER_COMPANY)
    expect(banner.locator("p")).to_have_text(f"{BANNER_COMPANY} · {text}")


def expect_banner_everywhere(page, base: str, kind: str, sv_text: str, en_text: str, shot=""):
    """The banner on the console and on Change password, in Swedish, then in English."""
    expect(page).to_have_url(re.compile(r"/console/\d+$"))
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect_banner(page, kind, sv_text)
    if shot:
        screenshot(page, f"{shot}-sv.png")
    open_password_page(page, base)
    expect_banner(page, kind, sv_text)

    switch_language(page, "English", "en")
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect_banner(page, kind, en_text)
    page.locator("nav.main-nav").get_by_role("link", name="Admin Console", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/\d+$"))
    expect(page.locator("h1")).to_have_text("Admin Console")
    expect_banner(page, kind, en_text)
    if shot:
        screenshot(page, f"{shot}-en.png")


def product_section(page, pid: int):
    return page.locator(f"#product-{pid}")


def count_of(section, label: str):
    """The <dd> of a count in a product's section, by its (English) <dt>."""
    return (
        section.locator("dl.counts > div")
        .filter(has=section.page.locator("dt", has_text=re.compile(rf"^{re.escape(label)}$")))
        .locator("dd")
    )


def expect_counts(section, *, licenses: int, assigned: int, available: int) -> None:
    expect(count_of(section, "Licenses")).to_have_text(str(licenses))
    expect(count_of(section, "Assigned")).to_have_text(str(assigned))
    expect(count_of(section, "Available")).to_have_text(str(available))
    expect(section.locator("dd.available")).to_have_text(str(available))


def assign_by_keyboard(page, pid: int, email: str, *, status: int):
    """Types the email into the product's Assign field and presses Enter."""
    field = page.locator(f"#email-{pid}")
    field.fill(email)
    with page.expect_response(
        lambda r: (
            r.request.method == "POST" and re.search(rf"/console/\d+/licenses/{pid}/assign$", r.url)
        )
    ) as answer:
        field.press("Enter")
    assert answer.value.status == status, answer.value.status
    assert answer.value.request.headers.get("hx-request") == "true", "not an htmx request"


def renewal_dialog(page):
    dialog = page.locator("dialog#renewal-dialog[open]")
    expect(dialog).to_be_visible()
    return dialog


def group_ids(groups) -> list[str]:
    """The ids of the overview's customer groups (tbody), in order."""
    return groups.evaluate_all("groups => groups.map(group => group.id)")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- R12: the banner ---------------------------------------------------------------------------


@pytest.fixture
def banner_customer(app, tenants):
    """tenants.a's customer with its anniversary on ANNIVERSARY (15 January 2027)."""
    first_order(app, tenants.a, anniversary=ANNIVERSARY, vendor_number="FIRST00001")
    assert anniversary_of(app, tenants.a.customer.id) == ANNIVERSARY
    return tenants.a.customer


@pytest.mark.parametrize("app_config", [at(-31)], indirect=True, ids=["AD-31"])
def test_r12_no_banner_31_days_before_the_anniversary(banner_customer, page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.vip_admin.email)

    expect(page).to_have_url(re.compile(r"/console/\d+$"))
    expect(page.locator("h1")).to_have_text("Admin Console")
    facts = page.locator("main dl.facts").first
    expect(facts).to_contain_text("15 januari 2027")  # the anniversary is set ...
    expect(page.locator("#renewal-banner")).to_have_count(0)  # ... but no banner yet
    open_password_page(page, live_server)
    expect(page.locator("#renewal-banner")).to_have_count(0)
    switch_language(page, "English", "en")
    expect(page.locator("#renewal-banner")).to_have_count(0)
    page.goto(f"{live_server}/console")
    expect(page.locator("main dl.facts").first).to_contain_text(en_long(ANNIVERSARY))
    expect(page.locator("#renewal-banner")).to_have_count(0)
    assert errors == []


@pytest.mark.parametrize("app_config", [at(-30)], indirect=True, ids=["AD-30"])
def test_r12_notice_banner_from_30_days_before_until_the_renewal(
    banner_customer, app, page, live_server, tenants
):
    errors = collect_errors(page)
    assert sv_long(ANNIVERSARY) == "15 januari 2027"
    assert en_long(ANNIVERSARY) == "January 15, 2027"
    sign_in(page, live_server, tenants.a.vip_admin.email)

    expect_banner_everywhere(
        page,
        live_server,
        "banner-notice",
        f"Er årsdag är 15 januari 2027. Kontakta er kontoansvariga på {RESELLER} för att förlänga.",
        f"Your anniversary date is January 15, 2027. Contact your account manager at "
        f"{RESELLER} to renew.",
        shot="renewal-banner-notice",
    )
    history = page.locator("section.renewal-history")
    expect(history.locator(".empty")).to_have_text("No renewal recorded yet.")

    # The reseller records the renewal: the banner is gone from every console page.
    today = ANNIVERSARY - timedelta(days=30)
    renew_by_service(app, tenants.a, today=today, vendor_number="RENEWSRV01")
    assert anniversary_of(app, tenants.a.customer.id) == date(2028, 1, 15)
    page.reload()
    expect(page.locator("h1")).to_have_text("Admin Console")
    expect(page.locator("#renewal-banner")).to_have_count(0)
    expect(page.locator("main dl.facts").first).to_contain_text("January 15, 2028")
    row = history.locator("tbody tr", has_text="RENEWSRV01")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(en_medium(today))
    expect(row).to_contain_text("Photoshop")
    expect(row).to_contain_text("× 5")
    open_password_page(page, live_server)
    expect(page.locator("#renewal-banner")).to_have_count(0)
    switch_language(page, "Svenska", "sv")
    expect(page.locator("#renewal-banner")).to_have_count(0)
    assert errors == []


@pytest.mark.parametrize("app_config", [at(29)], indirect=True, ids=["AD+29"])
def test_r12_warning_banner_in_grace_names_the_removal_date(
    banner_customer, page, live_server, tenants
):
    errors = collect_errors(page)
    removal = ANNIVERSARY + timedelta(days=30)
    assert sv_long(removal) == "14 februari 2027"
    sign_in(page, live_server, tenants.a.vip_admin.email)

    expect_banner_everywhere(
        page,
        live_server,
        "banner-warning",
        "Er årsdag 15 januari 2027 har passerat utan förlängning: åtkomsten tas bort "
        f"14 februari 2027. Kontakta er kontoansvariga på {RESELLER} för att förlänga.",
        "Your anniversary date January 15, 2027 has passed without a renewal: access will "
        f"be removed on {en_long(removal)}. Contact your account manager at {RESELLER} to "
        "renew.",
        shot="renewal-banner-warning",
    )
    assert errors == []


@pytest.mark.parametrize("app_config", [at(30)], indirect=True, ids=["AD+30"])
def test_r12_access_removed_banner_until_a_late_renewal(
    banner_customer, app, runner, page, live_server, tenants
):
    from vip.models import Customer, CustomerStatus

    errors = collect_errors(page)
    today = ANNIVERSARY + timedelta(days=30)
    result = runner.invoke(args=["vip", "tick", "--today", today.isoformat(), "--no-send"])
    assert result.exit_code == 0, result.output
    status = db_work(app, lambda: db.session.get(Customer, tenants.a.customer.id).status)
    assert status == CustomerStatus.INACTIVE
    pid = photoshop_id(app)
    sign_in(page, live_server, tenants.a.vip_admin.email)

    expect_banner_everywhere(
        page,
        live_server,
        "banner-warning",
        "Åtkomsten till era licenser togs bort 14 februari 2027 eftersom årsdagen "
        f"15 januari 2027 passerade utan förlängning. Kontakta er kontoansvariga på "
        f"{RESELLER} för att förlänga.",
        "Access to your licenses was removed on February 14, 2027 because the anniversary "
        f"date January 15, 2027 passed without a renewal. Contact your account manager at "
        f"{RESELLER} to renew.",
        shot="renewal-banner-removed",
    )
    section = product_section(page, pid)
    expect(section.locator("form.assign-form")).to_have_count(0)
    expect(section).to_contain_text(
        "Access was removed: licenses can be assigned again after a renewal."
    )

    # A renewal on the last day of the window brings access and the assign form back.
    renew_by_service(app, tenants.a, today=today, vendor_number="LATERENEW1")
    page.reload()
    expect(page.locator("h1")).to_have_text("Admin Console")
    expect(page.locator("#renewal-banner")).to_have_count(0)
    expect(section.locator("form.assign-form")).to_be_visible()
    expect(page.locator("section.renewal-history")).to_contain_text("LATERENEW1")
    assert errors == []


# --- The Admin Console: assigning licenses ------------------------------------------------------


@pytest.fixture
def console_licenses(app, tenants):
    """tenants.a's Photoshop × 5 ordered today (anniversary a year ahead: no banner)."""
    first_order(
        app, tenants.a, anniversary=TODAY.replace(year=TODAY.year + 1), vendor_number="CONSOLE001"
    )
    return photoshop_id(app)


def test_console_assigns_and_unassigns_a_license_in_place(
    console_licenses, page, live_server, tenants
):
    errors = collect_errors(page)
    pid = console_licenses
    sign_in(page, live_server, tenants.a.vip_admin.email)
    switch_language(page, "English", "en")
    expect(page).to_have_url(re.compile(r"/console/\d+$"))
    expect(page.locator("#renewal-banner")).to_have_count(0)
    section = product_section(page, pid)
    expect(section.locator("h3")).to_contain_text("Photoshop")
    expect_counts(section, licenses=5, assigned=0, available=5)
    expect(section.locator("ul.assignments")).to_have_count(0)
    page.evaluate("window.__marker = 1")

    # Assign by keyboard: the section is swapped, the user listed, the counts move.
    assign_by_keyboard(page, pid, "  Designer@Customer.example ", status=200)
    users = section.get_by_role("list", name="Users with a license of Photoshop")
    expect(users.locator("li .email")).to_have_text(["designer@customer.example"])
    expect_counts(section, licenses=5, assigned=1, available=4)
    expect(section.locator(".flash-success")).to_have_text(
        "designer@customer.example got a license of Photoshop."
    )
    expect(page.locator(f"#email-{pid}")).to_have_value("")
    expect(page.locator(f"#email-{pid}")).not_to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__marker") == 1, "assigning reloaded the page"
    screenshot(page, "console-assigned-en.png")

    # An invalid email: the error at the field, marked invalid, focused, the value kept.
    assign_by_keyboard(page, pid, "not-an-email", status=422)
    field = page.locator(f"#email-{pid}")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", f"email-{pid}-error")
    expect(section.locator(".field.has-error")).to_have_count(1)
    expect(section.locator(f"#email-{pid}-error")).to_have_text(
        "Enter a valid email address, such as name@company.example."
    )
    expect(field).to_be_focused()
    expect(field).to_have_value("not-an-email")
    expect_counts(section, licenses=5, assigned=1, available=4)
    expect(section.locator(".flash-success")).to_have_count(0)

    # The same user twice: refused at the field too.
    assign_by_keyboard(page, pid, "designer@customer.example", status=422)
    expect(section.locator(f"#email-{pid}-error")).to_have_text(
        "designer@customer.example already has a license of Photoshop."
    )
    expect(page.locator(f"#email-{pid}")).to_be_focused()
    expect(users.locator("li")).to_have_count(1)

    # Unassign: the user leaves the list and the counts go back.
    section.get_by_role("button", name="Unassign designer@customer.example", exact=True).click()
    expect(section.locator("ul.assignments")).to_have_count(0)
    expect_counts(section, licenses=5, assigned=0, available=5)
    expect(section.locator(".flash-success")).to_have_text(
        "The license of Photoshop was taken back from designer@customer.example."
    )
    expect(section.locator(".error")).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "unassigning reloaded the page"

    # And the page, loaded afresh, agrees.
    page.reload()
    expect_counts(section, licenses=5, assigned=0, available=5)
    assert errors == []


@pytest.fixture
def four_of_five_assigned(app, console_licenses, tenants):
    from vip.models import LicenseAssignment

    def assign():
        for index in range(4):
            db.session.add(
                LicenseAssignment(
                    customer_id=tenants.a.customer.id,
                    product_id=console_licenses,
                    user_email=f"user{index}@customer.example",
                    assigned_by_id=tenants.a.vip_admin.id,
                )
            )
        db.session.commit()

    db_work(app, assign)
    return console_licenses


def test_console_last_license_hides_the_assign_form(
    four_of_five_assigned, page, live_server, tenants
):
    errors = collect_errors(page)
    pid = four_of_five_assigned
    sign_in(page, live_server, tenants.a.vip_admin.email)
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    section = product_section(page, pid)
    expect(section.locator("dd.available")).to_have_text("1")
    expect(section.locator("form.assign-form")).to_be_visible()
    page.evaluate("window.__marker = 1")

    assign_by_keyboard(page, pid, "sista@customer.example", status=200)

    expect(section.locator("dd.available")).to_have_text("0")
    expect(section.locator("ul.assignments li .email")).to_have_count(5)
    expect(section.locator("ul.assignments")).to_contain_text("sista@customer.example")
    expect(section.locator("form.assign-form")).to_have_count(0)
    expect(page.locator(f"#email-{pid}")).to_have_count(0)
    expect(section.locator("p.muted")).to_have_text(
        f"Alla licenser är tilldelade. Ta tillbaka en, eller be {RESELLER} om fler."
    )
    expect(section.locator(".flash-success")).to_have_text(
        "sista@customer.example fick en licens för Photoshop."
    )
    assert page.evaluate("window.__marker") == 1

    # The server refuses a sixth too, not only the page.
    answer = page.request.post(
        f"{page.url}/licenses/{pid}/assign",
        headers=HX,
        form={"email": "sjatte@customer.example"},
    )
    assert answer.status == 422, answer.status
    assert "Alla 5 licenser för Photoshop är tilldelade" in answer.text()

    # Taking one back brings the form back.
    section.get_by_role(
        "button", name="Ta tillbaka licensen från sista@customer.example", exact=True
    ).click()
    expect(section.locator("form.assign-form")).to_be_visible()
    expect(section.locator("dd.available")).to_have_text("1")
    expect(section.locator("ul.assignments li")).to_have_count(4)
    expect(section.locator("ul.assignments")).not_to_contain_text("sista@customer.example")
    assert page.evaluate("window.__marker") == 1
    assert errors == []


# --- R8 and R9: Förlängningar -----------------------------------------------------------------

#: tenants.a's customer ("a Kund AB", Photoshop × 5): in its renewal window, 20 days ahead.
WINDOW_AD = TODAY + timedelta(days=20)
GRACE_AD = TODAY - timedelta(days=10)  # "Respit Kund AB": anniversary missed 10 days ago
UPCOMING_AD = TODAY + timedelta(days=60)  # "Kommande Kund AB": listed, window not open yet


@pytest.fixture
def renewals_due(app, tenants):
    first_order(app, tenants.a, anniversary=WINDOW_AD, vendor_number="WINDOW0001")
    grace = add_renewing_customer(
        app, tenants.a, name="Respit Kund AB", anniversary=GRACE_AD, vendor_number="GRACE00001"
    )
    upcoming = add_renewing_customer(
        app,
        tenants.a,
        name="Kommande Kund AB",
        anniversary=UPCOMING_AD,
        vendor_number="UPCOMING01",
    )
    return {"window": tenants.a.customer.id, "grace": grace, "upcoming": upcoming}


def renewal_sku(app, name: str) -> str:
    from vip.models import Product

    return db_work(
        app,
        lambda: db.session.get(Product, product_id(name, "team", "commercial")).renewal_sku,
    )


def open_overview(page) -> None:
    page.locator("nav.main-nav").get_by_role("link", name="Förlängningar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/renewals$"))
    expect(page.locator("h1")).to_have_text("Översikt av förlängningar")
    page.wait_for_load_state()


def test_r8_overview_filters_by_stage_and_exports_what_it_shows(
    renewals_due, app, page, live_server, tenants
):
    errors = collect_errors(page)
    ids = renewals_due
    sign_in(page, live_server, tenants.a.admin.email)
    open_overview(page)
    results = page.locator("#renewal-results")
    groups = results.locator("tbody.renewal-group")
    expect(groups).to_have_count(3)
    # Sorted by anniversary: in grace, window open, upcoming.
    assert group_ids(groups) == [
        f"renewal-row-{ids['grace']}",
        f"renewal-row-{ids['window']}",
        f"renewal-row-{ids['upcoming']}",
    ]
    window_row = page.locator(f"#renewal-row-{ids['window']}")
    expect(window_row.locator(".badge")).to_have_text("Förlängningsperioden öppen")
    expect(window_row.locator("td.mono")).to_have_text(renewal_sku(app, "Photoshop"))
    expect(window_row.locator("td.num")).to_have_text(["5", "0", "5"])
    expect(page.locator(f"#renewal-row-{ids['grace']} .badge").first).to_have_text("I respitperiod")
    expect(page.locator(f"#renewal-row-{ids['upcoming']} .badge").first).to_have_text("Kommande")
    expect(
        page.locator(f"#renewal-row-{ids['upcoming']}").get_by_role(
            "link", name="Registrera förlängning"
        )
    ).to_have_count(0)
    export = page.locator("#renewal-export")
    assert "stage" not in query_of(export.get_attribute("href"))
    page.evaluate("window.__marker = 1")

    # Filter by stage: the results are swapped, the URL carries the filter.
    results.evaluate("node => { node.dataset.stale = '1' }")
    page.locator("#stage").select_option("window_open")
    expect(page).to_have_url(re.compile(r"/renewals\?.*\bstage=window_open\b"))
    expect(page.locator("#renewal-results[data-stale]")).to_have_count(0)
    expect(groups).to_have_count(1)
    expect(groups).to_have_id(f"renewal-row-{ids['window']}")
    expect(results.locator(".result-count")).to_have_text("1 kund")
    expect(page.locator("#stage")).to_have_value("window_open")
    assert page.evaluate("window.__marker") == 1, "filtering reloaded the page"
    screenshot(page, "renewals-overview-sv.png")

    # The Export CSV link carries the current filters, and exports just those rows.
    href = export.get_attribute("href")
    assert query_of(href).get("stage") == ["window_open"], href
    answer = page.request.get(f"{live_server}{href}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.body().decode("utf-8-sig")
    assert tenants.a.customer.company_name in text
    assert "Respit Kund AB" not in text and "Kommande Kund AB" not in text

    # A search on top: the link keeps both; the URL, reloaded, keeps the filter.
    page.locator("#q").press_sequentially("Respit", delay=20)
    expect(page).to_have_url(re.compile(r"[?&]q=Respit"))
    expect(groups).to_have_count(0)
    expect(results.locator(".empty")).to_be_visible()
    href = export.get_attribute("href")
    assert query_of(href).get("stage") == ["window_open"], href
    assert query_of(href).get("q") == ["Respit"], href
    page.locator("#stage").select_option("in_grace")
    expect(page).to_have_url(re.compile(r"\bstage=in_grace\b"))
    expect(groups).to_have_id(f"renewal-row-{ids['grace']}")
    assert query_of(export.get_attribute("href")).get("stage") == ["in_grace"]
    page.reload()
    expect(page.locator("#stage")).to_have_value("in_grace")
    expect(page.locator("#q")).to_have_value("Respit")
    expect(groups).to_have_id(f"renewal-row-{ids['grace']}")

    # Back: the previous filter, its results and its export link.
    page.go_back()
    expect(page).to_have_url(re.compile(r"\bstage=window_open\b"))
    expect(page.locator("#stage")).to_have_value("window_open")
    expect(groups).to_have_count(0)
    expect(results.locator(".empty")).to_be_visible()
    assert query_of(export.get_attribute("href")).get("stage") == ["window_open"]
    assert errors == []


def test_r9_record_renewal_from_the_overview(
    renewals_due, app, page, live_server, tenants, new_context
):
    errors = collect_errors(page)
    customer = tenants.a.customer
    row_id = f"renewal-row-{customer.id}"
    new_anniversary = WINDOW_AD.replace(year=WINDOW_AD.year + 1)
    assert sv_long(WINDOW_AD) == "19 december 2026"
    pid = photoshop_id(app)

    # The VIP admin sees the notice banner before the renewal.
    vip = new_context().new_page()
    sign_in(vip, live_server, tenants.a.vip_admin.email)
    expect(vip.locator("#renewal-banner.banner-notice")).to_contain_text(sv_long(WINDOW_AD))

    sign_in(page, live_server, tenants.a.admin.email)
    open_overview(page)
    page.locator("#stage").select_option("window_open")
    expect(page).to_have_url(re.compile(r"\bstage=window_open\b"))
    expect(page.locator("#renewal-results tbody.renewal-group")).to_have_count(1)
    page.evaluate("window.__marker = 1")

    # Registrera förlängning (data-opens-dialog): the dialog, pre-filled.
    opener = page.locator(f"#{row_id}").get_by_role(
        "link", name="Registrera förlängning", exact=True
    )
    expect(opener).to_have_attribute("data-opens-dialog", "")
    opener.click()
    dialog = renewal_dialog(page)
    expect(dialog.locator("h2")).to_have_text("Registrera förlängningsorder")
    expect(dialog).to_contain_text(customer.company_name)
    expect(dialog).to_contain_text(customer.vip_id)
    expect(dialog).to_contain_text(sv_long(WINDOW_AD))
    number = page.locator("#vendor_order_number")
    expect(number).to_have_value("")
    expect(number).to_be_focused()
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())
    expect(page.locator(f"#quantity-{pid}")).to_have_value("5")
    expect(dialog.locator("table tbody tr")).to_contain_text(renewal_sku(app, "Photoshop"))
    screenshot(page, "renewal-dialog-sv.png")

    # An invalid vendor order number: the error inside the still-open dialog.
    number.fill("ab")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/customers/{customer.id}/renewal")
    ) as answer:
        dialog.get_by_role("button", name="Registrera förlängningsorder", exact=True).click()
    assert answer.value.status == 422
    dialog = renewal_dialog(page)
    number = page.locator("#vendor_order_number")
    expect(number).to_have_attribute("aria-invalid", "true")
    field = dialog.locator(".field", has=number)
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field.locator(".error")).to_have_text("Använd 6 till 20 bokstäver och siffror.")
    expect(dialog.locator(".error")).to_have_count(1)
    expect(number).to_have_value("ab")
    expect(number).to_be_focused()
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())
    expect(page.locator(f"#quantity-{pid}")).to_have_value("5")
    expect(page.locator(f"#{row_id} .badge.renewal-renewed")).to_have_count(0)

    # Fixed: the dialog closes, the row says Förlängd with the new anniversary, a flash.
    number.fill("RENEW00001")
    dialog.get_by_role("button", name="Registrera förlängningsorder", exact=True).click()
    expect(page.locator("dialog#renewal-dialog")).to_have_count(0)
    row = page.locator(f"#{row_id}")
    expect(row.locator(".badge.renewal-renewed")).to_have_text("Förlängd")
    expect(row).to_contain_text("Order RENEW00001 registrerad; nästa årsdag är 19 december 2027.")
    expect(row.get_by_role("link", name="Registrera förlängning")).to_have_count(0)
    expect(page.locator("#flash .flash-success")).to_have_text(
        "Förlängning RENEW00001 registrerades. Årsdagen flyttades från 19 december 2026 "
        "till 19 december 2027."
    )
    assert page.evaluate("window.__marker") == 1, "recording the renewal reloaded the page"
    assert not page.evaluate("document.querySelector('dialog[open]')"), "a modal is left open"
    screenshot(page, "renewal-recorded-sv.png")
    assert anniversary_of(app, customer.id) == new_anniversary

    # Förlängningshistorik in the VIP information lists the order.
    open_customer(page, live_server, customer)
    expect(page.locator("dl.facts")).to_contain_text(sv_long(new_anniversary))
    history = page.locator("section.renewal-history")
    expect(history.locator("h3")).to_have_text("Förlängningshistorik")
    entry = history.locator("tbody tr", has_text="RENEW00001")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(sv_medium(TODAY))
    expect(entry).to_contain_text(f"Photoshop {renewal_sku(app, 'Photoshop')} × 5")
    # (Its "Gäller till" column: see the last test of this module.)
    expect(entry).to_contain_text(tenants.a.admin.name)

    # And the VIP admin's banner is gone.
    vip.reload()
    expect(vip.locator("h1")).to_have_count(1)
    expect(vip.locator("#renewal-banner")).to_have_count(0)
    expect(vip.locator("section.renewal-history")).to_contain_text("RENEW00001")
    assert errors == []


def test_r9_renewals_tab_dialog_closes_with_escape_and_records(
    renewals_due, app, page, live_server, tenants
):
    errors = collect_errors(page)
    customer = tenants.a.customer
    new_anniversary = WINDOW_AD.replace(year=WINDOW_AD.year + 1)
    sign_in(page, live_server, tenants.a.sales.email)  # prefers English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_customer(page, live_server, customer)
    page.get_by_role("tab", name="Renewals", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/renewals$"))
    expect(page.locator("#tab-renewals")).to_have_attribute("aria-selected", "true")
    panel = page.locator(f"#renewal-panel-{customer.id}")
    expect(panel.locator(".renewal-summary .badge")).to_have_text("Renewal window open")
    expect(panel.locator(".renewal-summary .badge")).to_have_class(
        re.compile(r"\brenewal-window_open\b")
    )
    expect(panel.locator(".countdown")).to_have_text("20 days to the anniversary")
    expect(panel.locator("dl.renewal-dates")).to_contain_text(en_long(WINDOW_AD))
    expect(page.locator(f"#renewal-badge-{customer.id}")).to_have_text("Renewal window open")
    page.evaluate("window.__marker = 1")

    # The button opens the dialog; Esc closes it and focus returns to the button.
    button = panel.get_by_role("link", name="Record renewal order", exact=True)
    expect(button).to_have_attribute("data-opens-dialog", "")
    button.click()
    dialog = renewal_dialog(page)
    expect(dialog.locator("h2")).to_have_text("Record renewal order")
    expect(page.locator("#vendor_order_number")).to_be_focused()
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())
    page.keyboard.press("Escape")
    expect(page.locator("dialog#renewal-dialog")).to_have_count(0)
    expect(button).to_be_focused()

    # Also after the dialog came back with an error (a new <dialog> swapped in).
    page.keyboard.press("Enter")
    renewal_dialog(page)
    expect(page.locator("#vendor_order_number")).to_be_focused()
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/customers/{customer.id}/renewal")
    ) as answer:
        page.keyboard.press("Enter")  # nothing typed yet
    assert answer.value.status == 422
    renewal_dialog(page)
    expect(page.locator("#vendor_order_number")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#vendor_order_number")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#renewal-dialog")).to_have_count(0)
    expect(button).to_be_focused()
    expect(panel.locator(".renewal-summary .badge")).to_have_text("Renewal window open")

    # Opened again by keyboard and recorded: the panel and the header badge update.
    page.keyboard.press("Enter")
    dialog = renewal_dialog(page)
    expect(page.locator("#vendor_order_number")).to_be_focused()
    page.keyboard.type("TABRENEW01")
    page.keyboard.press("Enter")
    expect(page.locator("dialog#renewal-dialog")).to_have_count(0)
    expect(page.locator("#flash .flash-success")).to_have_text(
        f"Renewal TABRENEW01 was recorded. The anniversary date moved from "
        f"{en_long(WINDOW_AD)} to {en_long(new_anniversary)}."
    )
    expect(panel.locator(".badge")).to_have_count(0)
    expect(panel).to_contain_text(f"Anniversary date {en_long(new_anniversary)}.")
    expect(panel.get_by_role("link", name="Record renewal order")).to_have_count(0)
    expect(page.locator(f"#renewal-badge-{customer.id}")).to_have_text("")
    assert page.evaluate("window.__marker") == 1, "recording the renewal reloaded the page"
    assert anniversary_of(app, customer.id) == new_anniversary
    assert errors == []


def test_r9_renewal_history_shows_the_last_day_of_the_renewed_term(
    renewals_due, app, page, live_server, tenants
):
    customer = tenants.a.customer
    renew_by_service(app, tenants.a, today=TODAY, vendor_number="RUNSTO0001")
    new_anniversary = anniversary_of(app, customer.id)
    assert new_anniversary == WINDOW_AD.replace(year=WINDOW_AD.year + 1)
    sign_in(page, live_server, tenants.a.sales.email)  # English
    open_customer(page, live_server, customer)
    history = page.locator("section.renewal-history")
    expect(history.locator("thead th")).to_have_text(
        ["Order date", "Vendor order number", "Renewed licenses", "Runs to", "Recorded by"]
    )
    cells = history.locator("tbody tr", has_text="RUNSTO0001").locator("td")
    expect(cells.nth(0)).to_have_text(en_medium(TODAY))
    # The renewed licenses run to 18 December 2027; the anniversary is 19 December 2027.
    expect(cells.nth(3)).to_have_text(en_medium(new_anniversary - timedelta(days=1)), timeout=1_000)
