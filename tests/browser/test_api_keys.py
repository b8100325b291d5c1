"""API-nycklar in a real browser: from the reseller settings to the keys page, create a
read and write key (an htmx swap, no page load) shown once in a focused read-only field,
use it against the API from outside the browser's session, revoke it after the
confirmation; and the API reference page drawn from the OpenAPI document, under the app's
Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.browser.test_purchase_authorizations import screenshot

pytestmark = pytest.mark.browser


def test_api_key_create_use_and_revoke(new_context, live_server, tenants):
    context = new_context()
    page = context.new_page()
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)

    page.goto(f"{live_server}/settings")
    page.locator('a[href="/settings/api-keys"]').click()
    expect(page.locator("h1")).to_have_text("API-nycklar")
    page.evaluate("window.__marker = 1")

    # Keyboard: the name, then the scope's radio buttons, then the button.
    page.locator("#name").fill("Odoo")
    page.locator('input[name="scope"][value="write"]').check()
    page.locator("#api-key-create").click()
    secret_field = page.locator("#api-key-secret")
    expect(secret_field).to_be_focused()
    expect(secret_field).to_have_attribute("readonly", "")
    secret = secret_field.input_value()
    assert secret.startswith("vip_"), secret
    assert page.evaluate("window.__marker") == 1, "creating the key reloaded the page"
    expect(page.locator("#flash .flash-success")).to_be_visible()
    expect(page.locator("#api-keys tbody tr")).to_have_count(1)
    screenshot(page, "api-key-created.png")

    # The key works from another client; the browser's own session is no API credential.
    outside = new_context().request
    answer = outside.get(
        f"{live_server}/api/v1/customers", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status == 200
    assert tenants.a.customer.vip_id in answer.text()
    assert page.request.get(f"{live_server}/api/v1/customers").status == 401

    # Reloaded, the page no longer shows the key; its last use is there.
    page.reload()
    expect(page.locator("#api-key-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator("#api-keys tbody tr td").nth(4)).not_to_have_text("Aldrig")

    # Revoke after the confirmation: the key answers 401 from then on.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#api-keys button.danger").click()
    expect(page.locator("#api-keys .status-inactive")).to_be_visible()
    answer = outside.get(
        f"{live_server}/api/v1/customers", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert errors == []


def test_api_reference_page_reads_the_document_by_its_links(page, live_server, tenants):
    """The reference is the console's own page (no third-party widget), in the reader's
    language: the contents lead to an operation, its response to its schema."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or message.type == "error"
            else None
        ),
    )
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/settings/api-keys")
    page.get_by_role("link", name="API-referens").click()
    expect(page.locator("h1")).to_have_text("API-referens")
    contents = page.get_by_role("navigation", name="Sidans innehåll")
    contents.get_by_role("link", name="GET /api/v1/customers", exact=True).click()
    expect(page).to_have_url(f"{live_server}/api/v1/docs#operation-list_customers")
    parameters = page.get_by_role("region", name="Parametrar GET /api/v1/customers", exact=True)
    expect(parameters).to_contain_text("anniversary_from")
    answers = page.get_by_role("region", name="Svar GET /api/v1/customers", exact=True)
    answers.get_by_role("link", name="CustomerPage").click()
    expect(page).to_have_url(f"{live_server}/api/v1/docs#schema-CustomerPage")
    expect(page.locator("#schema-CustomerPage")).to_be_in_viewport()
    screenshot(page, "api-reference.png")
    assert errors == []
    assert violations == []
