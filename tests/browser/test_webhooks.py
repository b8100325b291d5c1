"""Webhooks in a real browser (Swedish): a partner admin adds an endpoint from Settings
and copies its secret, redelivers an event from the delivery log in place (htmx), and
deletes the endpoint after confirming."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.conftest import TODAY, WEBHOOK_CONFIG
from tests.support import in_app
from vip.extensions import db
from vip.models import DeliveryStatus, User, WebhookDelivery, WebhookEndpoint
from vip.services.customers import create_customer

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return dict(WEBHOOK_CONFIG)


def test_an_admin_adds_an_endpoint_redelivers_and_deletes_it(page, live_server, app, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/settings")
    page.get_by_role("link", name="Hantera webhooks").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    page.get_by_label("Mottagarens URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_label("Beskrivning (valfri)").fill("Vårt affärssystem")
    page.get_by_role("checkbox", name="customer.created").check()
    page.get_by_role("button", name="Lägg till mottagare").click()
    secret = page.locator("#webhook-secret-value")
    expect(secret).to_be_focused()
    assert secret.input_value().startswith("whsec_")
    expect(page.locator("#webhook-endpoints")).to_contain_text("Vårt affärssystem")

    with in_app(app):  # an event for the endpoint, delivered once already
        create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Webbkrok AB",
            country="SE",
            market_segment="commercial",
            admin_name="It",
            admin_email="it@webbkrok.example",
            admin_language="sv",
        )
        delivery = db.session.scalar(sa.select(WebhookDelivery))
        delivery.status = DeliveryStatus.DELIVERED
        delivery.attempts = 1
        db.session.commit()
        delivery_id, endpoint_id = delivery.id, delivery.endpoint_id

    page.goto(f"{live_server}/settings/webhooks")
    page.get_by_role("link", name="Leveranslogg").click()
    row = page.locator(f"#delivery-{delivery_id}")
    expect(row).to_contain_text("Webbkrok AB")
    expect(row.locator(".delivery-status-delivered")).to_be_visible()
    page.evaluate("window.__marker = 1")
    row.get_by_role("button", name="Leverera igen").click()
    expect(row.locator(".delivery-status-pending")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("är köad igen")
    assert page.evaluate("window.__marker") == 1, "the redelivery reloaded the page"

    page.goto(f"{live_server}/settings/webhooks/{endpoint_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Ta bort mottagaren").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    expect(page.locator("#flash")).to_contain_text("togs bort")
    expect(page.locator("#webhook-endpoints")).to_have_count(0)
    with in_app(app):
        assert db.session.get(WebhookEndpoint, endpoint_id).deleted_at is not None
    assert errors == []
