"""Purchase authorizations in a real browser, following the seed help page literally:
Kunddetaljer → Planer → Skapa en ny inköpsauktorisering (an htmx dialog), product rows
owned by the server, Skapa inköpsauktorisering, the new row without a reload, Avbryt.
Also the same flow in English, without JavaScript, the errors, and the overdue row."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, open_customer, sign_in
from tests.conftest import ARTIFACTS, TODAY
from vip.extensions import db

pytestmark = pytest.mark.browser

SCREENSHOTS = ARTIFACTS / "browser"
PA_NUMBER = re.compile(r"PA-\d{6}")
ENTERPRISE_SKU = "CA01A12"
TEAM_SKU = "BA01A12"
ROWS_URL = re.compile(r"/customers/\d+/authorizations/new/rows$")


# --- helpers -------------------------------------------------------------------------


def open_plans(page, base: str, customer, tab_name: str) -> None:
    """Customer details (from the customers list), then the Plans tab by its visible name."""
    open_customer(page, base, customer)
    page.get_by_role("tab", name=tab_name, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/plans$"))
    expect(page.locator("#tab-plans")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#new-pa-button")).to_be_visible()


def open_dialog(page):
    """Clicks "Create a new purchase authorization"; the modal is open with focus inside."""
    page.locator("#new-pa-button").click()
    dialog = page.locator("dialog#pa-dialog[open]")
    expect(dialog).to_be_visible()
    expect(page.locator("#license_type")).to_be_focused()
    assert page.evaluate("document.getElementById('pa-dialog').contains(document.activeElement)")
    return dialog


@contextmanager
def rows_swapped(page):
    """Waits until htmx has replaced #product-rows after the action in the block, so the
    next fill cannot race a response that re-renders the rows."""
    page.locator("#product-rows").evaluate("rows => { rows.dataset.stale = '1' }")
    yield
    expect(page.locator("#product-rows[data-stale]")).to_have_count(0)
    expect(page.locator("#product-rows")).to_have_count(1)


def choose_license_type(page, label: str) -> None:
    """Every choice refreshes the rows through htmx (Playwright always fires change)."""
    with rows_swapped(page):
        page.locator("#license_type").select_option(label=label)


def add_row(page) -> None:
    count = page.locator("#product-rows tr.product-row").count()
    with rows_swapped(page):
        page.locator("button.add-row").click()
    expect(page.locator("#product-rows tr.product-row")).to_have_count(count + 1)


def remove_row(page, index: int) -> None:
    count = page.locator("#product-rows tr.product-row").count()
    with rows_swapped(page):
        page.locator("#product-rows tr.product-row").nth(index).locator("button.remove-row").click()
    expect(page.locator("#product-rows tr.product-row")).to_have_count(count - 1)


def product_option(page, row: int, name: str):
    """The one option of row `row` whose label is "<name> (<SKU>)"."""
    option = page.locator(f"#lines-{row}-product option").filter(
        has_text=re.compile(rf"^{re.escape(name)} \(")
    )
    expect(option).to_have_count(1)
    return option


def fill_row(page, row: int, product: str, quantity: int) -> str:
    """Picks the product by name and types the count; returns the product's value."""
    value = product_option(page, row, product).get_attribute("value")
    assert value
    page.locator(f"#lines-{row}-product").select_option(value)
    page.locator(f"#lines-{row}-quantity").fill(str(quantity))
    return value


def product_labels(page, row: int) -> list[str]:
    """The product choices of a row, without the "Choose a product" placeholder."""
    return page.locator(f"#lines-{row}-product option").evaluate_all(
        "options => options.filter(o => o.value).map(o => o.textContent.trim())"
    )


def newest_row(page, known_number: str):
    """The first authorization row of the Plans table (newest first; the hidden "none yet"
    row precedes it on a full page): a new authorization, not the fixture's one."""
    row = page.locator("#authorization-rows > tr.pa-row").first
    number_cell = row.locator("td").first
    expect(number_cell).to_have_text(PA_NUMBER)
    number = number_cell.inner_text().strip()
    assert number != known_number
    # Pin the row by id: the cancel swaps it in place (outerHTML).
    return page.locator(f"#{row.get_attribute('id')}"), number


def accept_confirm(page) -> list[str]:
    """Accepts the next window.confirm (htmx's hx-confirm) and records its message."""
    messages: list[str] = []

    def handle(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", handle)
    return messages


def screenshot(page, name: str) -> None:
    target = SCREENSHOTS / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000, target.stat().st_size


# --- the seed's flow -------------------------------------------------------------------


def test_seed_flow_in_swedish(page, live_server, tenants):
    errors = collect_errors(page)
    customer = tenants.a.customer
    sign_in(page, live_server, tenants.a.sales.email)
    page.get_by_role("button", name="Svenska", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")

    # "Klicka på Skapa en ny inköpsauktorisering på fliken Planer på sidan Kunddetaljer."
    open_plans(page, live_server, customer, "Planer")
    expect(page.locator(".breadcrumbs")).to_contain_text("Kunddetaljer")
    button = page.locator("#new-pa-button")
    expect(button).to_have_text("Skapa en ny inköpsauktorisering")
    page.evaluate("window.__marker = 1")

    # "Följande dialogruta öppnas."
    dialog = open_dialog(page)
    expect(dialog.locator("h2")).to_have_text("Skapa en ny inköpsauktorisering")
    expect(dialog.locator("label[for=license_type]")).to_have_text("Licenstyp")
    expect(dialog.locator("table.rows thead")).to_contain_text("Produkt")
    expect(dialog.locator("table.rows thead")).to_contain_text("Antal licenser")
    expect(dialog.locator("label[for=customer_po_number]")).to_have_text("Inköpsordernummer")
    expect(dialog.locator("label[for=deployment_date]")).to_have_text("Datum för driftsättning")
    expect(page.locator("#deployment_date")).to_have_value(TODAY.isoformat())

    # "Välj licenstypen Enterprise eller Team på listan."
    choose_license_type(page, "Enterprise")
    # "Välj produkten på listan och ange antalet licenser."
    fill_row(page, 0, "Photoshop", 10)
    # "Lägg till fler produkter genom att först klicka på plusikonen ..."
    add_row(page)
    expect(page.locator("#lines-1-product")).to_be_focused()
    expect(page.locator("#lines-0-quantity")).to_have_value("10")
    expect(page.locator("#lines-0-product option:checked")).to_have_text(
        re.compile(r"^Photoshop \(")
    )
    fill_row(page, 1, "Illustrator", 4)
    # "Du kan även ange inköpsordernumret som du har fått från kunden."
    page.locator("#customer_po_number").fill("PO-SEED-1")
    screenshot(page, "pa-dialog-sv.png")

    # "Klicka på Skapa inköpsauktorisering."
    dialog.get_by_role("button", name="Skapa inköpsauktorisering", exact=True).click()

    expect(page.locator("#pa-dialog")).to_have_count(0)
    row, number = newest_row(page, tenants.a.authorization.number)
    expect(row).to_contain_text("Photoshop")
    expect(row).to_contain_text("× 10")
    expect(row).to_contain_text("Illustrator")
    expect(row).to_contain_text("× 4")
    expect(row).to_contain_text("PO-SEED-1")
    expect(row).to_contain_text("Enterprise")
    expect(row.locator(".countdown")).to_contain_text("14 dagar")
    expect(row.locator(".badge")).to_have_text("Väntande")
    expect(page.locator("#flash .flash-success")).to_contain_text(number)
    expect(page.locator("#pa-counters")).to_contain_text("2")
    assert page.evaluate("window.__marker") == 1, "creating reloaded the page"
    expect(button).to_be_focused()
    screenshot(page, "pa-created-sv.png")

    # "Klicka på Avbryt. Inköpsauktoriseringen avbryts."
    confirms = accept_confirm(page)
    cancel = row.get_by_role("button", name="Avbryt", exact=True)
    expect(cancel).to_be_visible()
    cancel.click()

    expect(row).to_have_class(re.compile(r"\bstatus-row-cancelled\b"))
    expect(row.locator(".badge")).to_have_text("Avbruten")
    expect(row.get_by_role("button", name="Avbryt", exact=True)).to_have_count(0)
    expect(page.locator("#flash .flash-success")).to_contain_text(number)
    assert len(confirms) == 1 and number in confirms[0], confirms
    assert page.evaluate("window.__marker") == 1, "cancelling reloaded the page"
    screenshot(page, "pa-cancelled-sv.png")
    assert errors == []


def test_seed_flow_in_english(page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_plans(page, live_server, tenants.a.customer, "Plans")
    expect(page.locator("#new-pa-button")).to_have_text("Create a new purchase authorization")
    page.evaluate("window.__marker = 1")

    dialog = open_dialog(page)
    expect(dialog.locator("label[for=license_type]")).to_have_text("License type")
    choose_license_type(page, "Enterprise")
    fill_row(page, 0, "Photoshop", 10)
    add_row(page)
    expect(page.locator("#lines-1-product")).to_be_focused()
    fill_row(page, 1, "Illustrator", 4)
    page.locator("#customer_po_number").fill("PO-SEED-1")
    dialog.get_by_role("button", name="Create purchase authorization", exact=True).click()

    expect(page.locator("#pa-dialog")).to_have_count(0)
    row, number = newest_row(page, tenants.a.authorization.number)
    expect(row).to_contain_text("× 10")
    expect(row).to_contain_text("PO-SEED-1")
    expect(row.locator(".countdown")).to_contain_text("14 days")
    expect(page.locator("#flash .flash-success")).to_contain_text(number)
    expect(page.locator("#new-pa-button")).to_be_focused()
    screenshot(page, "pa-created-en.png")

    confirms = accept_confirm(page)
    row.get_by_role("button", name="Cancel", exact=True).click()
    expect(row).to_have_class(re.compile(r"\bstatus-row-cancelled\b"))
    expect(row.locator(".badge")).to_have_text("Cancelled")
    assert len(confirms) == 1 and number in confirms[0], confirms
    assert page.evaluate("window.__marker") == 1
    screenshot(page, "pa-cancelled-en.png")
    assert errors == []


# --- the dialog's rows -----------------------------------------------------------------


def test_license_type_change_refreshes_every_row_and_keeps_counts(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")
    open_dialog(page)

    choose_license_type(page, "Team")
    assert all(TEAM_SKU in label for label in product_labels(page, 0))
    fill_row(page, 0, "Photoshop", 3)
    add_row(page)
    fill_row(page, 1, "Illustrator", 7)

    choose_license_type(page, "Enterprise")

    expect(page.locator("#license_type")).to_have_value("enterprise")
    expect(page.locator("#product-rows tr.product-row")).to_have_count(2)
    for index in (0, 1):
        labels = product_labels(page, index)
        assert labels, f"row {index} offers no products"
        assert all(ENTERPRISE_SKU in label for label in labels), (index, labels)
        product_option(page, index, "Photoshop")  # the enterprise Photoshop is offered
    expect(page.locator("#lines-0-quantity")).to_have_value("3")
    expect(page.locator("#lines-1-quantity")).to_have_value("7")
    # Each row keeps its product: the same-named product of the new license type.
    for index, name in ((0, "Photoshop"), (1, "Illustrator")):
        selected = page.locator(f"#lines-{index}-product option:checked")
        expect(selected).to_have_text(re.compile(rf"^{name} \(.*{ENTERPRISE_SKU}\)$"))
    expect(page.locator("dialog#pa-dialog[open]")).to_be_visible()


def test_remove_row_and_errors_keep_values(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")
    open_dialog(page)
    choose_license_type(page, "Team")
    photoshop = fill_row(page, 0, "Photoshop", 5)
    add_row(page)
    fill_row(page, 1, "Illustrator", 6)
    add_row(page)
    all_apps = fill_row(page, 2, "Creative Cloud All Apps", 7)
    expect(page.locator("button.remove-row")).to_have_count(3)

    remove_row(page, 1)

    expect(page.locator("#lines-0-product")).to_have_value(photoshop)
    expect(page.locator("#lines-0-quantity")).to_have_value("5")
    expect(page.locator("#lines-1-product")).to_have_value(all_apps)
    expect(page.locator("#lines-1-quantity")).to_have_value("7")
    expect(page.locator("#lines-1-product")).to_be_focused()
    expect(page.locator("#lines-2-product")).to_have_count(0)

    page.locator("#lines-1-quantity").fill("20000")  # Team allows at most 10 000 a row
    page.locator("#customer_po_number").fill("PO-ERR")
    # The create request's answer (the level hint posts the form too, to its own URL).
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/authorizations")
    ) as answer:
        page.get_by_role("button", name="Skapa inköpsauktorisering", exact=True).click()

    assert answer.value.status == 422
    expect(page.locator("dialog#pa-dialog[open]")).to_be_visible()
    quantity = page.locator("#lines-1-quantity")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    cell = page.locator("td.field", has=quantity)
    expect(cell).to_have_class(re.compile(r"\bhas-error\b"))
    expect(cell.locator(".error")).to_contain_text(re.compile(r"10\s000"))
    expect(page.locator("#pa-dialog .error")).to_have_count(1)
    expect(quantity).to_be_focused()
    expect(quantity).to_have_value("20000")
    expect(page.locator("#license_type")).to_have_value("team")
    expect(page.locator("#lines-0-product")).to_have_value(photoshop)
    expect(page.locator("#lines-0-quantity")).to_have_value("5")
    expect(page.locator("#lines-1-product")).to_have_value(all_apps)
    expect(page.locator("#customer_po_number")).to_have_value("PO-ERR")
    expect(page.locator("#deployment_date")).to_have_value(TODAY.isoformat())
    expect(page.locator("#authorization-rows tr.pa-row")).to_have_count(1)

    quantity.fill("2000")
    page.get_by_role("button", name="Skapa inköpsauktorisering", exact=True).click()

    expect(page.locator("#pa-dialog")).to_have_count(0)
    row, number = newest_row(page, tenants.a.authorization.number)
    expect(row).to_contain_text("Photoshop")
    expect(row).to_contain_text("× 5")
    expect(row).to_contain_text("Creative Cloud All Apps")
    expect(row).to_contain_text(re.compile(r"× 2\s000"))
    expect(row).not_to_contain_text("Illustrator")
    expect(row).to_contain_text("PO-ERR")
    expect(page.locator("#flash .flash-success")).to_contain_text(number)


def test_escape_closes_the_dialog_and_returns_focus(page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")
    page.evaluate("window.__marker = 1")
    button = page.locator("#new-pa-button")

    open_dialog(page)
    page.keyboard.press("Escape")

    expect(page.locator("#pa-dialog")).to_have_count(0)
    expect(button).to_be_focused()

    # Again, after an htmx swap inside the dialog, and with its Close button.
    open_dialog(page)
    add_row(page)
    expect(page.locator("#lines-1-product")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#pa-dialog")).to_have_count(0)
    expect(button).to_be_focused()

    open_dialog(page)
    page.get_by_role("button", name="Stäng", exact=True).click()
    expect(page.locator("#pa-dialog")).to_have_count(0)
    expect(button).to_be_focused()
    expect(page.locator("#authorization-rows tr.pa-row")).to_have_count(1)
    assert page.evaluate("window.__marker") == 1


def test_a_click_before_the_swap_settles_opens_the_dialog(page, live_server, tenants):
    """htmx processes swapped-in content when the swap settles; a click on the new button
    before then opens the dialog all the same (it followed the plain link: a full page).
    The settle is stretched to 1.5 s so the click surely falls inside it."""
    sign_in(page, live_server, tenants.a.admin.email)
    open_customer(page, live_server, tenants.a.customer)
    page.evaluate("window.__marker = 1; htmx.config.defaultSettleDelay = 1500")
    page.get_by_role("tab", name="Planer", exact=True).click()
    page.locator("#new-pa-button").click()
    expect(page.locator("dialog#pa-dialog[open]")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/customers/{tenants.a.customer.id}/plans$"))
    assert page.evaluate("window.__marker") == 1


def test_full_page_without_javascript(new_context, live_server, tenants):
    page = new_context(java_script_enabled=False).new_page()
    customer = tenants.a.customer
    sign_in(page, live_server, tenants.a.admin.email)

    page.goto(f"{live_server}/customers/{customer.id}/authorizations/new")
    expect(page.locator("h1")).to_have_text("Skapa en ny inköpsauktorisering")
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator("#license_type")).to_have_value("enterprise")
    fill_row(page, 0, "Photoshop", 10)

    page.locator("button.add-row").click()  # a submit button: posts the whole form

    expect(page.locator("#product-rows tr.product-row")).to_have_count(2)
    expect(page.locator("#lines-0-quantity")).to_have_value("10")
    expect(page.locator("#lines-0-product option:checked")).to_have_text(
        re.compile(r"^Photoshop \(")
    )
    fill_row(page, 1, "Illustrator", 4)
    page.locator("#customer_po_number").fill("PO-NOJS")
    page.get_by_role("button", name="Skapa inköpsauktorisering", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/plans$"))
    expect(page.locator("#tab-plans")).to_have_attribute("aria-selected", "true")
    row, number = newest_row(page, tenants.a.authorization.number)
    expect(row).to_contain_text("× 10")
    expect(row).to_contain_text("Illustrator")
    expect(row).to_contain_text("PO-NOJS")
    expect(page.locator("#flash .flash-success")).to_contain_text(number)


# --- the overdue row -------------------------------------------------------------------


@pytest.fixture
def overdue_authorization(app, tenants):
    """The tenant's pending Team authorization, created 20 days ago: 6 days overdue."""
    from vip.models import PurchaseAuthorization

    authorization = tenants.a.authorization
    with app.app_context():
        try:
            db.session.execute(
                sa.update(PurchaseAuthorization)
                .where(PurchaseAuthorization.id == authorization.id)
                .values(
                    created_on=TODAY - timedelta(days=20),
                    order_due_on=TODAY - timedelta(days=6),
                )
            )
            db.session.commit()
        finally:
            db.session.remove()
    return authorization


def test_overdue_authorization_is_marked_delayed(overdue_authorization, page, live_server, tenants):
    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")

    row = page.locator(f"#pa-{overdue_authorization.id}")
    expect(row).to_contain_text(overdue_authorization.number)
    expect(row.locator(".badge.status-delayed")).to_have_text("Försenad")
    expect(row.locator(".countdown.overdue")).to_contain_text("6")
    expect(row.get_by_role("button", name="Avbryt", exact=True)).to_be_visible()


# --- the Content Security Policy -------------------------------------------------------


def test_no_csp_violations_during_the_flow(page, live_server, tenants):
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    open_plans(page, live_server, tenants.a.customer, "Planer")
    open_dialog(page)
    choose_license_type(page, "Team")
    fill_row(page, 0, "Photoshop", 2)
    add_row(page)
    fill_row(page, 1, "Illustrator", 1)
    remove_row(page, 1)
    page.get_by_role("button", name="Skapa inköpsauktorisering", exact=True).click()
    expect(page.locator("#pa-dialog")).to_have_count(0)
    row, _number = newest_row(page, tenants.a.authorization.number)
    accept_confirm(page)
    row.get_by_role("button", name="Avbryt", exact=True).click()
    expect(row).to_have_class(re.compile(r"\bstatus-row-cancelled\b"))

    assert not [m for m in messages if "Content Security Policy" in m], messages
    assert not [m for m in messages if m.startswith("error:")], messages
    assert errors == []
