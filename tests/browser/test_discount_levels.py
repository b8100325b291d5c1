"""Discount levels and three-year commitments in a real browser (R14-R16): the purchase
authorization dialog's live level hint as quantities are typed (an aria-live region), and
recording a 3YC request and the vendor's acceptance by keyboard, the page's level, badges
and facts updated in place without a reload."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.browser.test_foundation_flows import collect_errors, open_customer, sign_in
from tests.browser.test_purchase_authorizations import choose_license_type
from tests.conftest import TODAY
from tests.support import in_app, order_licenses, pid
from vip.extensions import db
from vip.models import User
from vip.services import commitments
from vip.services.terms import add_months

pytestmark = pytest.mark.browser


def licensed(app, tenant, quantity: int) -> dict[str, int]:
    """The tenant's customer holds `quantity` licenses; its sales user reads Swedish."""
    with in_app(app):
        order_licenses(tenant, [(pid("Photoshop"), quantity)], on=TODAY)
        db.session.execute(update(User).where(User.id == tenant.sales.id).values(language="sv"))
        db.session.commit()
        return {"illustrator": pid("Illustrator")}


def test_r14_pa_dialog_level_hint_follows_the_quantities(page, live_server, app, tenants):
    products = licensed(app, tenants.a, 8)
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    open_customer(page, live_server, tenants.a.customer)
    page.get_by_role("tab", name="Planer", exact=True).click()
    page.locator("#new-pa-button").click()
    dialog = page.locator("dialog#pa-dialog[open]")
    expect(dialog).to_be_visible()
    hint = dialog.locator("#level-hint")
    expect(hint).to_have_attribute("aria-live", "polite")
    expect(hint).to_contain_text("Kunden har Nivå 1 (8 licenser räknas denna period).")

    choose_license_type(page, "Team")
    page.locator("#lines-0-product").select_option(str(products["illustrator"]))
    page.locator("#lines-0-quantity").fill("7")
    expect(hint).to_contain_text("Denna order: 7 licenser, Nivå 1.")
    expect(hint).to_contain_text("Nivå 2 från 10 licenser: 3 till")
    page.locator("#lines-0-quantity").fill("10")
    expect(hint).to_contain_text("Denna order: 10 licenser, Nivå 2.")
    expect(hint).to_contain_text("Den lyfter kunden direkt")
    assert errors == []


def test_r15_recording_a_commitment_by_keyboard_updates_the_page(page, live_server, app, tenants):
    licensed(app, tenants.a, 12)
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    open_customer(page, live_server, tenants.a.customer)
    section = page.locator("#discount-level")
    expect(section).to_contain_text("Nivå 2")
    expect(page.locator("#level-badges")).to_contain_text("Nivå 2")

    opener = section.get_by_role("link", name="Registrera en begäran om 3YC")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#commitment-dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#minimum_quantity")).to_be_focused()
    # An error at the field first, then the request.
    page.keyboard.type("9")
    page.keyboard.press("Enter")
    expect(dialog.locator("#minimum_quantity-error")).to_contain_text("minst 10 licenser")
    expect(dialog.locator("#minimum_quantity")).to_be_focused()
    dialog.locator("#minimum_quantity").fill("50")
    page.keyboard.press("Enter")
    expect(page.locator("dialog#commitment-dialog")).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text("Begäran om treårsåtagande på 50 licenser")
    expect(page.locator("#level-badges")).to_contain_text("3YC: Begärd")

    section.get_by_role("link", name="Registrera leverantörens svar").click()
    dialog = page.locator("dialog#commitment-dialog[open]")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Godkänt av leverantören").click()
    expect(page.locator("dialog#commitment-dialog")).to_have_count(0)
    expect(page.locator("#level-badges")).to_contain_text("Nivå 3")
    expect(page.locator("#level-badges")).to_contain_text("3YC: Åtagit")
    expect(section).to_contain_text(re.compile(r"Årsdagar som omfattas"))
    assert errors == []


def test_r16_renewal_dialog_warns_live_below_the_commitment(page, live_server, app, tenants):
    licensed(app, tenants.a, 30)
    with in_app(app):
        sales = db.session.get(User, tenants.a.sales.id)
        commitments.request_commitment(
            user=sales,
            customer_id=tenants.a.customer.id,
            today=TODAY,
            minimum_quantity=25,
            requested_on=TODAY,
        )
        commitments.accept_commitment(
            user=sales, customer_id=tenants.a.customer.id, today=TODAY, starts_on=TODAY
        )
        photoshop = pid("Photoshop")
    app.config["VIP_TODAY"] = (add_months(TODAY, 12) - timedelta(days=10)).isoformat()
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    open_customer(page, live_server, tenants.a.customer)
    page.get_by_role("tab", name="Förlängningar", exact=True).click()
    page.get_by_role("link", name="Registrera förlängningsorder").click()
    dialog = page.locator("dialog#renewal-dialog[open]")
    expect(dialog).to_be_visible()
    region = dialog.locator("#renewal-level")
    expect(region).to_contain_text("minimum på 25 licenser nås")
    dialog.locator(f"#quantity-{photoshop}").fill("20")
    expect(region).to_contain_text("sparas den blir åtagandet ej uppfyllt")
    expect(region.get_by_label("Registrera ändå: åtagandet blir ej uppfyllt")).not_to_be_checked()
    expect(dialog.locator("#vendor_order_number")).to_be_visible()  # the form is intact
    dialog.locator("#vendor_order_number").fill("RENEW12345")
    region.get_by_label("Registrera ändå: åtagandet blir ej uppfyllt").check()
    dialog.get_by_role("button", name="Registrera förlängningsorder").click()
    expect(page.locator("dialog#renewal-dialog")).to_have_count(0)
    expect(page.locator("#level-badges")).to_contain_text("3YC: Ej uppfyllt")
    assert errors == []
