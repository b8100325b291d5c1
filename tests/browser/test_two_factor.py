"""Two-factor sign-in and the security log in a real browser (docs/security.md S40, S43,
S50): a partner admin requires a second factor; a sales user signing in is sent to
enrolment, reads the key shown under the QR code, confirms a code computed from it, notes
the recovery codes, signs out and signs in with password and a computed code. The partner
admin then filters the security log (an htmx swap) down to that user's sign-ins. The clock
is fixed (`fixed_now`), so codes are computed for known times."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.conftest import PASSWORD
from tests.support import totp_code

pytestmark = pytest.mark.browser


def test_s40_enrol_in_chromium_and_sign_in_with_a_code(
    new_context, live_server, tenants, fixed_now
):
    admin = new_context(locale="en-GB").new_page()
    errors = collect_errors(admin)
    sign_in(admin, live_server, tenants.a.admin.email)
    admin.goto(f"{live_server}/settings")
    admin.locator("#required").check()
    admin.locator('form[action="/settings/two-factor"] button[type=submit]').click()
    expect(admin.locator("#flash .flash-success")).to_be_visible()
    expect(admin.locator("#required")).to_be_checked()

    page = new_context(locale="en-GB").new_page()
    errors += collect_errors(page)
    sign_in(page, live_server, tenants.a.sales.email)
    expect(page).to_have_url(f"{live_server}/account/two-factor")
    page.goto(f"{live_server}/customers")  # enrolment is the only page
    expect(page).to_have_url(f"{live_server}/account/two-factor")
    expect(page.locator(".qr-code svg")).to_be_visible()
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", key), key
    page.locator("#code").fill(totp_code(key, fixed_now.at))
    page.locator("#code").press("Enter")
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#email")).to_be_visible()
    page.locator("#email").fill(tenants.a.sales.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page).to_have_url(f"{live_server}/login/code")
    expect(page.locator("#code")).to_be_focused()
    fixed_now.advance(seconds=30)
    page.locator("#code").fill(totp_code(key, fixed_now.at))
    page.locator("#code").press("Enter")
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("h1")).to_have_text("Dashboard")

    # The security log shows it; the user filter narrows it in place (htmx).
    admin.goto(f"{live_server}/security-log")
    admin.evaluate("window.__marker = 1")
    admin.locator("#kind").select_option("second_factor")
    expect(admin.locator("#security-log tbody tr")).to_have_count(2)  # required, turned on
    admin.locator("#kind").select_option("sign_ins")
    admin.locator("#user").select_option(str(tenants.a.sales.id))
    expect(admin).to_have_url(re.compile(rf"user={tenants.a.sales.id}"))
    rows = admin.locator("#security-log tbody tr")
    expect(rows.first).to_contain_text(tenants.a.sales.email)
    expect(rows).to_have_count(3)  # two sign-ins, one sign-out
    assert admin.evaluate("window.__marker") == 1, "filtering reloaded the page"
    assert errors == []
