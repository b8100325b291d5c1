"""Orders and returns in a real browser, in Swedish: Planer → Registrera order (an htmx
dialog with the proposed duration and its calculation), the PA row that turns Beställd
without a reload, Ordrar → Begär returauktorisering (a dialog with one quantity a line),
the order row swapped in place, and the Returer queue where only a partner admin decides.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date as babel_format_date
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, open_customer, sign_in
from tests.browser.test_purchase_authorizations import (
    accept_confirm,
    open_plans,
    screenshot,
)
from tests.conftest import TODAY, product_id
from vip.extensions import db

pytestmark = pytest.mark.browser

VENDOR_NUMBER = "VND1234567"
RETURN_REASON = "Kunden beställde fem, behöver bara tre"
#: The first order of test 2: 200 days ago, so the anniversary lies about half a year ahead.
FIRST_ORDER_DATE = TODAY - timedelta(days=200)


# --- helpers -------------------------------------------------------------------------


def sv_long(day: date) -> str:
    """A date as Swedish readers see it in running text ("29 november 2027"); Babel's
    CLDR data, not the app's formatting code."""
    return babel_format_date(day, "long", locale="sv")


def sv_medium(day: date) -> str:
    """A date as the app's tables show it ("13 dec. 2026")."""
    return babel_format_date(day, "medium", locale="sv")


def same_day_next_year(day: date) -> date:
    """The first order's anniversary: the order date plus 12 months (no 29 February here)."""
    assert (day.month, day.day) != (2, 29)
    return day.replace(year=day.year + 1)


def months_by_rule(order_date: date, anniversary: date) -> int:
    """The add-on rule, written independently of vip.services.terms: the months between
    the order date and the anniversary, anchored on the anniversary's day of the month
    (clamped to short months); the month the order date falls in counts whole."""
    assert order_date < anniversary
    months = (anniversary.year - order_date.year) * 12 + anniversary.month - order_date.month
    anchor_this_month = min(
        anniversary.day, calendar.monthrange(order_date.year, order_date.month)[1]
    )
    if order_date.day < anchor_this_month:
        months += 1  # the period began in the previous month: one more started month
    assert 1 <= months <= 12, months
    return months


def period_by_rule(order_date: date, anniversary: date) -> tuple[date, date]:
    """The monthly period containing the order date (anniversary day 1-28 only)."""
    assert anniversary.day <= 28
    start = order_date.replace(day=anniversary.day)
    if order_date.day < anniversary.day:
        start = (start.replace(day=1) - timedelta(days=1)).replace(day=anniversary.day)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=anniversary.day)
    return start, following - timedelta(days=1)


def open_order_dialog(page, pa):
    """Clicks Registrera order on the authorization's row; the modal is open."""
    page.locator(f"#pa-{pa.id}").get_by_role("link", name="Registrera order", exact=True).click()
    dialog = page.locator("dialog#order-dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Registrera order")
    expect(page.locator("#vendor_order_number")).to_be_focused()
    return dialog


def open_orders_tab(page, customer) -> None:
    page.get_by_role("tab", name="Ordrar", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/orders$"))
    expect(page.locator("#tab-orders")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#orders-heading")).to_have_text("Ordrar")


def order_row(page, vendor_number: str):
    """The Orders tab's row of that vendor order, pinned by its id (swaps are outerHTML)."""
    row = page.locator("tr.order-row", has_text=vendor_number)
    expect(row).to_have_count(1)
    return page.locator(f"#{row.get_attribute('id')}")


def open_return_dialog(page, row):
    row.get_by_role("link", name="Begär returauktorisering", exact=True).click()
    dialog = page.locator("dialog#return-dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Begär returauktorisering")
    return dialog


def db_work(app, work):
    """Runs `work()` with a request context (the services need one), then lets go of the
    session so the live server's requests see the rows and SQLite is not locked."""
    with app.test_request_context():
        try:
            return work()
        finally:
            db.session.remove()


def record_first_order(tenant, *, order_date: date, vendor_number: str):
    """The tenant's pending Photoshop authorization ordered on `order_date` (its creation
    moved back to that day first: an order may not precede its authorization)."""
    from vip.models import PurchaseAuthorization, User
    from vip.services.orders import record_order

    def work():
        db.session.execute(
            sa.update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == tenant.authorization.id)
            .values(created_on=order_date, order_due_on=order_date + timedelta(days=14))
        )
        db.session.commit()
        order = record_order(
            user=db.session.get(User, tenant.sales.id),
            pa_id=tenant.authorization.id,
            today=TODAY,
            vendor_order_number=vendor_number,
            order_date=order_date,
            duration_months=12,
        )
        return order.id

    return work


# --- 1. the whole flow in Swedish ------------------------------------------------------------


def test_record_order_and_partial_return_in_swedish(page, live_server, tenants, new_context):
    errors = collect_errors(page)
    customer = tenants.a.customer
    pa = tenants.a.authorization
    sign_in(page, live_server, tenants.a.sales.email)
    page.get_by_role("button", name="Svenska", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")

    # Kunddetaljer → Planer → Registrera order on the pending authorization.
    open_plans(page, live_server, customer, "Planer")
    expect(page.locator(f"#pa-{pa.id} .badge")).to_have_text("Väntande")
    page.evaluate("window.__marker = 1")
    dialog = open_order_dialog(page, pa)
    expect(dialog).to_contain_text(pa.number)
    expect(dialog.locator("label[for=vendor_order_number]")).to_have_text(
        "Leverantörens ordernummer"
    )
    expect(dialog.locator("label[for=order_date]")).to_have_text("Orderdatum")
    expect(dialog.locator("label[for=duration_months]")).to_have_text("Varaktighet i månader")
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())

    # The first order: it sets the anniversary, and 12 months are proposed.
    anniversary = same_day_next_year(TODAY)
    assert sv_long(anniversary) == "29 november 2027"
    calculation = dialog.locator("#duration-proposal .calculation")
    expect(calculation).to_contain_text(
        f"Kundens första order: årsdagen blir {sv_long(anniversary)}"
    )
    expect(calculation).to_contain_text("Föreslagen varaktighet: 12 månader.")
    expect(page.locator("#duration_months")).to_have_value("12")
    screenshot(page, "order-dialog-sv.png")

    # An invalid vendor order number: 422, the error at the field, the value kept.
    number = page.locator("#vendor_order_number")
    number.fill("ab")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/authorizations/{pa.id}/order")
    ) as answer:
        dialog.get_by_role("button", name="Registrera order", exact=True).click()
    assert answer.value.status == 422
    expect(page.locator("dialog#order-dialog[open]")).to_be_visible()
    expect(number).to_have_attribute("aria-invalid", "true")
    field = page.locator("#order-dialog .field", has=number)
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field.locator(".error")).to_have_text("Använd 6 till 20 bokstäver och siffror.")
    expect(page.locator("#order-dialog .error")).to_have_count(1)
    expect(number).to_have_value("ab")
    expect(number).to_be_focused()
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())
    expect(page.locator("#duration_months")).to_have_value("12")

    number.fill(VENDOR_NUMBER)
    page.locator("#order-dialog").get_by_role("button", name="Registrera order", exact=True).click()

    # The dialog closes; the row turns Beställd in place; a flash names the order.
    expect(page.locator("#order-dialog")).to_have_count(0)
    pa_row = page.locator(f"#pa-{pa.id}")
    expect(pa_row.locator(".badge")).to_have_text("Beställd")
    expect(pa_row.get_by_role("link", name="Registrera order")).to_have_count(0)
    expect(pa_row.get_by_role("button", name="Avbryt")).to_have_count(0)
    flash = page.locator("#flash .flash-success")
    expect(flash).to_contain_text(f"Ordern {VENDOR_NUMBER} har registrerats för {pa.number}")
    closes_on = TODAY + timedelta(days=14)
    expect(flash).to_contain_text(f"returfönstret stänger {sv_long(closes_on)}")
    assert sv_long(closes_on) == "13 december 2026"
    assert page.evaluate("window.__marker") == 1, "recording the order reloaded the page"

    # Ordrar: the return window closes in 14 days.
    open_orders_tab(page, customer)
    row = order_row(page, VENDOR_NUMBER)
    expect(row).to_contain_text(pa.number)
    expect(row).to_contain_text("12 månader")
    expect(row).to_contain_text("Photoshop × 5")
    expect(row.locator(".badge")).to_have_text("Lagd")
    expect(row).to_contain_text(sv_medium(closes_on))  # tables use the medium format
    expect(row.locator(".countdown")).to_have_text("14 dagar kvar")

    # Begär returauktorisering: 2 of the line's 5, with a reason.
    dialog = open_return_dialog(page, row)
    expect(dialog).to_contain_text(f"Order {VENDOR_NUMBER}")
    expect(dialog).to_contain_text(f"Retur är möjlig till och med {sv_long(closes_on)}")
    line = dialog.locator("table.rows tbody tr", has_text="Photoshop")
    expect(line.locator("td").nth(1)).to_have_text("5")  # ordered
    expect(line.locator("td").nth(2)).to_have_text("5")  # can be returned
    expect(page.locator("#reason")).to_be_focused()
    dialog.get_by_label("Retur Photoshop", exact=True).fill("2")
    dialog.get_by_label("Orsak", exact=True).fill(RETURN_REASON)
    row.evaluate("row => { row.dataset.stale = '1' }")
    dialog.get_by_role("button", name="Begär returauktorisering", exact=True).click()

    expect(page.locator("#return-dialog")).to_have_count(0)
    expect(page.locator("tr.order-row[data-stale]")).to_have_count(0)  # swapped ...
    expect(page.locator("tr.order-row")).to_have_count(1)  # ... in place
    expect(row.locator(".return-note")).to_have_text("Retur: Begärd (Photoshop × 2)")
    expect(row.locator(".badge")).to_have_text("Lagd")
    expect(page.locator("#flash .flash-success")).to_contain_text(
        f"Returauktorisering begärd för ordern {VENDOR_NUMBER}"
    )
    assert page.evaluate("window.__marker") == 1, "requesting the return reloaded the page"
    screenshot(page, "orders-tab-sv.png")
    assert errors == []

    # The partner admin approves it in Returer.
    admin = new_context().new_page()
    admin_errors = collect_errors(admin)
    sign_in(admin, live_server, tenants.a.admin.email)
    admin.locator("nav.main-nav").get_by_role("link", name="Returer", exact=True).click()
    expect(admin).to_have_url(re.compile(r"/returns$"))
    expect(admin.locator("h1")).to_have_text("Returer")
    queued = admin.locator("tr[id^=return-]", has_text=VENDOR_NUMBER)
    expect(queued).to_have_count(1)
    queued = admin.locator(f"#{queued.get_attribute('id')}")
    expect(queued).to_contain_text(customer.company_name)
    expect(queued).to_contain_text("Photoshop × 2")
    expect(queued).to_contain_text(RETURN_REASON)
    expect(queued).to_contain_text(tenants.a.sales.name)
    expect(queued.locator(".badge")).to_have_text("Begärd")
    admin.evaluate("window.__marker = 1")

    confirms = accept_confirm(admin)
    queued.get_by_role("button", name="Godkänn", exact=True).click()

    expect(queued.locator(".badge")).to_have_text("Godkänd")
    expect(queued).to_contain_text(tenants.a.admin.name)
    expect(queued.get_by_role("button")).to_have_count(0)
    expect(admin.locator("#flash .flash-success")).to_have_text(
        "Returen har godkänts och licenserna har tagits tillbaka."
    )
    assert len(confirms) == 1 and VENDOR_NUMBER in confirms[0], confirms
    assert admin.evaluate("window.__marker") == 1, "approving reloaded the page"
    screenshot(admin, "returns-queue-sv.png")

    # VIP-information: 5 bought, 2 returned, 3 available.
    open_customer(admin, live_server, customer)
    expect(admin.get_by_role("tab", name="VIP-information", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    inventory = admin.locator("section.inventory")
    expect(inventory.locator("thead th")).to_have_text(
        ["Produkt", "Köpta", "Returnerade", "Tilldelade", "Lediga"]
    )
    photoshop = inventory.locator("tbody tr", has_text="Photoshop")
    expect(photoshop).to_have_count(1)
    expect(photoshop.locator("td.num")).to_have_text(["5", "2", "0", "3"])
    expect(admin.locator("dl.facts")).to_contain_text(sv_long(anniversary))

    # Back on the Orders tab the row shows the returned licenses.
    admin.get_by_role("tab", name="Ordrar", exact=True).click()
    approved = order_row(admin, VENDOR_NUMBER)
    expect(approved).to_contain_text("Photoshop × 5 (2 returnerade)")
    expect(approved.locator(".return-note")).to_have_text("Retur: Godkänd (Photoshop × 2)")
    assert admin_errors == []


# --- 2. the add-on proposal follows the order date ---------------------------------------


@pytest.fixture
def add_on_authorization(app, tenants):
    """A first order 200 days ago (the anniversary is about six months ahead) and a second
    pending authorization, created 60 days ago so earlier order dates are allowed."""
    from vip.models import PurchaseAuthorization, User
    from vip.services.authorizations import LineInput, create_purchase_authorization

    tenant = tenants.a
    db_work(
        app, record_first_order(tenant, order_date=FIRST_ORDER_DATE, vendor_number="FIRST000001")
    )

    def second():
        pa = create_purchase_authorization(
            user=db.session.get(User, tenant.sales.id),
            customer_id=tenant.customer.id,
            today=TODAY,
            license_type="team",
            lines=[
                LineInput(product_id=product_id("Illustrator", "team", "commercial"), quantity=3)
            ],
            deployment_date=TODAY,
            customer_po_number="PO-ADDON",
        )
        created_on = TODAY - timedelta(days=60)
        db.session.execute(
            sa.update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == pa.id)
            .values(created_on=created_on, order_due_on=created_on + timedelta(days=14))
        )
        db.session.commit()
        pa = db.session.get(PurchaseAuthorization, pa.id)
        db.session.refresh(pa)
        db.session.expunge(pa)
        return pa

    return db_work(app, second)


def set_order_date(page, day: date) -> None:
    field = page.locator("#order_date")
    field.fill(day.isoformat())
    field.dispatch_event("change")


def expect_add_on_proposal(page, order_date: date, anniversary: date) -> int:
    months = months_by_rule(order_date, anniversary)
    start, end = period_by_rule(order_date, anniversary)
    calculation = page.locator("#duration-proposal .calculation")
    expect(calculation).to_contain_text(
        f"En tilläggsorder som löper ut samtidigt med årsdagen {sv_long(anniversary)}."
    )
    expect(calculation).to_contain_text(
        f"Orderdatumet ligger i månadsperioden {sv_long(start)} – {sv_long(end)}"
    )
    unit = "månad" if months == 1 else "månader"
    expect(calculation).to_contain_text(f"Föreslagen varaktighet: {months} {unit} till årsdagen.")
    expect(page.locator("#duration_months")).to_have_value(str(months))
    expect(page.locator("#order_date.htmx-request")).to_have_count(0)  # nothing in flight
    return months


def test_add_on_proposal_updates_when_the_date_changes(
    add_on_authorization, app, page, live_server, tenants
):
    from vip.models import Order, OrderType

    errors = collect_errors(page)
    pa = add_on_authorization
    anniversary = same_day_next_year(FIRST_ORDER_DATE)
    # Three order dates with three different proposals; two straddle the anchor day.
    before_anchor = (anniversary.replace(year=TODAY.year, month=10)) - timedelta(days=1)
    on_anchor = before_anchor + timedelta(days=1)
    assert pa.created_on <= before_anchor < on_anchor <= TODAY
    proposals = [months_by_rule(day, anniversary) for day in (TODAY, before_anchor, on_anchor)]
    assert len(set(proposals)) == 3, proposals

    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")
    page.evaluate("window.__marker = 1")
    open_order_dialog(page, pa)
    expect(page.locator("#order_date")).to_have_value(TODAY.isoformat())
    expect(page.locator("#order_date")).to_have_attribute("min", pa.created_on.isoformat())
    expect(page.locator("#order_date")).to_have_attribute("max", TODAY.isoformat())
    assert expect_add_on_proposal(page, TODAY, anniversary) == proposals[0]

    set_order_date(page, before_anchor)
    assert expect_add_on_proposal(page, before_anchor, anniversary) == proposals[1]

    set_order_date(page, on_anchor)
    assert expect_add_on_proposal(page, on_anchor, anniversary) == proposals[2]

    # The confirmed proposal is what gets recorded.
    page.locator("#vendor_order_number").fill("ADDON00001")
    page.locator("#order-dialog").get_by_role("button", name="Registrera order", exact=True).click()
    expect(page.locator("#order-dialog")).to_have_count(0)
    expect(page.locator(f"#pa-{pa.id} .badge")).to_have_text("Beställd")
    expect(page.locator("#flash .flash-success")).to_contain_text("ADDON00001")
    assert page.evaluate("window.__marker") == 1

    def recorded():
        order = db.session.scalar(sa.select(Order).where(Order.authorization_id == pa.id))
        return order.order_type, order.order_date, order.duration_months

    assert db_work(app, recorded) == (OrderType.ADD_ON, on_anchor, proposals[2])
    assert errors == []


# --- 3. assigned licenses cannot be returned -----------------------------------------------


@pytest.fixture
def fully_assigned_order(app, tenants):
    """The tenant's Photoshop authorization ordered today, all 5 licenses given to users."""
    from vip.models import LicenseAssignment

    tenant = tenants.a
    db_work(app, record_first_order(tenant, order_date=TODAY, vendor_number=VENDOR_NUMBER))

    def assign():
        photoshop = product_id("Photoshop", "team", "commercial")
        for index in range(5):
            db.session.add(
                LicenseAssignment(
                    customer_id=tenant.customer.id,
                    product_id=photoshop,
                    user_email=f"user{index}@customer.example",
                    assigned_by_id=tenant.vip_admin.id,
                )
            )
        db.session.commit()

    db_work(app, assign)
    return VENDOR_NUMBER


def test_return_refused_for_assigned_licenses(fully_assigned_order, page, live_server, tenants):
    errors = collect_errors(page)
    customer = tenants.a.customer
    sign_in(page, live_server, tenants.a.admin.email)
    open_customer(page, live_server, customer)
    photoshop = page.locator("section.inventory tbody tr", has_text="Photoshop")
    expect(photoshop.locator("td.num")).to_have_text(["5", "0", "5", "0"])
    open_orders_tab(page, customer)
    row = order_row(page, fully_assigned_order)
    dialog = open_return_dialog(page, row)

    line = dialog.locator("table.rows tbody tr", has_text="Photoshop")
    cells = line.locator("td")
    expect(cells.nth(1)).to_have_text("5")
    expect(cells.nth(2)).to_have_text("0 (resten är tilldelade användare)")
    quantity = dialog.get_by_label("Retur Photoshop", exact=True)
    expect(quantity).to_have_attribute("max", "0")

    quantity.fill("1")
    dialog.get_by_label("Orsak", exact=True).fill("Fel antal")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/returns")
    ) as answer:
        dialog.get_by_role("button", name="Begär returauktorisering", exact=True).click()

    assert answer.value.status == 422
    dialog = page.locator("dialog#return-dialog[open]")
    expect(dialog).to_be_visible()
    quantity = dialog.get_by_label("Retur Photoshop", exact=True)
    expect(quantity).to_have_attribute("aria-invalid", "true")
    cell = dialog.locator("td.field", has=page.get_by_label("Retur Photoshop", exact=True))
    expect(cell).to_have_class(re.compile(r"\bhas-error\b"))
    expect(cell.locator(".error")).to_have_text(
        "Bara 0 licenser för Photoshop är inte tilldelade. "
        "Be VIP-administratören att ta bort tilldelningar först."
    )
    expect(dialog.locator(".error")).to_have_count(1)
    expect(quantity).to_have_value("1")
    expect(quantity).to_be_focused()
    expect(dialog.get_by_label("Orsak", exact=True)).to_have_value("Fel antal")
    expect(row.locator(".return-note")).to_have_count(0)
    assert errors == []


# --- 4. only a partner admin decides ---------------------------------------------------------


def test_sales_user_cannot_approve(full_tenants, app, page, live_server, tenants):
    from vip.models import ReturnAuthorization, ReturnStatus

    errors = collect_errors(page)
    own = full_tenants["a"]
    other = full_tenants["b"]
    sign_in(page, live_server, tenants.a.sales.email)
    page.get_by_role("button", name="Svenska", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")

    page.locator("nav.main-nav").get_by_role("link", name="Returer", exact=True).click()
    expect(page).to_have_url(re.compile(r"/returns$"))
    row = page.locator(f"#return-{own.return_request.id}")
    expect(row).to_contain_text(own.order.vendor_order_number)
    expect(row).to_contain_text("Illustrator × 2")
    expect(row.locator(".badge")).to_have_text("Begärd")
    expect(row.locator(".actions")).to_have_text("Väntar på en partneradministratör")
    expect(row.get_by_role("button", name="Godkänn")).to_have_count(0)
    expect(row.get_by_role("button", name="Avslå")).to_have_count(0)
    expect(page.locator("main").get_by_role("button")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(other.order.vendor_order_number)

    # The server refuses too, not only the page.
    answer = page.request.post(
        f"{live_server}/returns/{own.return_request.id}/approve",
        headers={"HX-Request": "true"},
        form={"comment": ""},
    )
    assert answer.status == 403, answer.status

    def status():
        return db.session.get(ReturnAuthorization, own.return_request.id).status

    assert db_work(app, status) == ReturnStatus.REQUESTED
    page.reload()
    expect(row.locator(".badge")).to_have_text("Begärd")
    assert errors == []
