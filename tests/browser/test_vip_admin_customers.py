"""A VIP admin of several customers in Chromium (S55): accepting the second invitation by
signing in with the existing password, and switching customers by keyboard, with and
without JavaScript, each customer with its own renewal banner."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.conftest import CONSULTANT, PASSWORD
from tests.support import in_app
from vip.extensions import db
from vip.models import Customer


def set_anniversaries(app, anniversaries: dict[int, date]) -> None:
    with in_app(app):
        for customer_id, anniversary in anniversaries.items():
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(anniversary_date=anniversary)
            )
        db.session.commit()


def test_s55_row1_the_second_invitation_is_accepted_with_the_existing_password(
    page, live_server, second_invitation
):
    shared = second_invitation
    errors = collect_errors(page)
    page.goto(f"{live_server}/invitations/{shared.beta_token}")
    expect(page.locator("main")).to_contain_text("Beta Oy")
    expect(page.locator("#confirm")).to_have_count(0)  # no new password: the account's
    page.locator("#password").fill("not the password at all")
    page.locator("#password").press("Enter")
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flash .flash-success")).to_contain_text("Beta Oy")
    page.locator("#email").fill(CONSULTANT)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page).to_have_url(re.compile(r"/console/\d+$"))
    expect(page.locator("#switch-customer option")).to_have_count(2)
    assert errors == []


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2026-12-20"}])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_s55_switching_customers_by_keyboard(
    app, live_server, new_context, shared_admin, javascript
):
    shared = shared_admin
    # Alfa AB's renewal window is open (a notice); Beta Oy's anniversary is far ahead.
    set_anniversaries(app, {shared.alfa_id: date(2027, 1, 10), shared.beta_id: date(2027, 6, 1)})
    page = new_context(locale="en-GB", java_script_enabled=javascript).new_page()
    errors = collect_errors(page)
    sign_in(page, live_server, CONSULTANT)
    expect(page).to_have_url(re.compile(rf"/console/{shared.alfa_id}$"))
    panel = page.locator("main section.panel").first
    expect(panel.locator("h2")).to_have_text("Alfa AB")
    expect(page.locator("#renewal-banner .banner-customer")).to_have_text("Alfa AB")

    switcher = page.get_by_label("Customer you administer")
    expect(switcher).to_have_value(str(shared.alfa_id))
    switcher.focus()
    switcher.press("ArrowDown")  # the next customer, by keyboard
    expect(switcher).to_have_value(str(shared.beta_id))
    page.keyboard.press("Tab")
    switch_button = page.get_by_role("button", name="Switch customer")
    expect(switch_button).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"/console/{shared.beta_id}$"))
    expect(panel.locator("h2")).to_have_text("Beta Oy")
    expect(panel).to_contain_text("Reseller B AB")
    expect(panel).not_to_contain_text("Reseller A AB")
    expect(page.locator("#renewal-banner")).to_have_count(0)  # Beta Oy's: none yet
    expect(page.get_by_label("Customer you administer")).to_have_value(str(shared.beta_id))
    # The header's Admin Console link returns to the customer chosen last.
    page.locator("nav.main-nav").get_by_role("link", name="Admin Console").click()
    expect(page).to_have_url(re.compile(rf"/console/{shared.beta_id}$"))
    assert errors == []
