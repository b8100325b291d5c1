"""The Outbox's preview of tomorrow's job run in a real browser: the partner admin sees it,
and retrying a failed mail refreshes it through the `vip:changed` event, without a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.conftest import TODAY
from tests.support import in_app
from vip.extensions import db
from vip.models import Customer, CustomerStatus, Notification, NotificationStatus, User
from vip.services.customers import create_customer

pytestmark = pytest.mark.browser

TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture
def outbox(app, tenants) -> dict:
    """Tenant a: a customer reminded tomorrow (renewal_due), and the fixture customer's
    invitation mail failed; tenant b: a customer reminded tomorrow too."""
    names = {}
    with in_app(app):
        for tenant, name in ((tenants.a, "Trettio AB"), (tenants.b, "Främling AB")):
            customer = create_customer(
                user=db.session.get(User, tenant.admin.id),
                today=TODAY,
                company_name=name,
                country="SE",
                market_segment="commercial",
                admin_name="It",
                admin_email=f"it@{name.split()[0].lower()}.example",
                admin_language="sv",
            )
            customer.status = CustomerStatus.ACTIVE
            customer.anniversary_date = TOMORROW + timedelta(days=30)
            names[name] = customer.id
        db.session.execute(
            update(Notification)
            .where(Notification.customer_id.in_(names.values()))
            .values(status=NotificationStatus.SENT, attempts=1)
        )
        failed = db.session.scalar(
            select(Notification).where(Notification.customer_id == tenants.a.customer.id)
        )
        failed.status = NotificationStatus.FAILED
        failed.attempts = 6
        failed.last_error = "SMTPRecipientsRefused: 550 mailbox unavailable"
        db.session.commit()
        assert db.session.get(Customer, tenants.a.customer.id).status == CustomerStatus.INVITED
        return {"failed_id": failed.id, "recipient": failed.recipient}


def test_the_admin_sees_tomorrows_run_on_the_outbox(page, live_server, tenants, outbox):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/outbox")

    preview = page.locator("#job-preview")
    expect(preview).to_be_visible()
    expect(preview.locator("h2")).to_contain_text("30 november 2026")
    expect(preview.locator("table")).to_contain_text("Trettio AB")
    expect(preview.locator(".preview-mail")).to_contain_text("it@trettio.example")
    expect(preview).not_to_contain_text("Främling AB")
    expect(preview).not_to_contain_text(outbox["recipient"])  # failed: not delivered
    preview.get_by_role("link", name="Trettio AB").click()
    expect(page.locator("#tab-info")).to_have_attribute("aria-selected", "true")
    assert errors == []


def test_retrying_a_failed_mail_refreshes_the_preview_without_a_reload(
    page, live_server, tenants, outbox
):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/outbox")
    page.wait_for_load_state()
    preview = page.locator("#job-preview")
    expect(preview.locator(".preview-mail")).to_contain_text("it@trettio.example")
    expect(preview).not_to_contain_text(outbox["recipient"])
    page.evaluate("window.__marker = 1")

    row = page.locator(f"#mail-{outbox['failed_id']}")
    with page.expect_response(lambda r: r.url.endswith("/outbox/preview")) as refreshed:
        row.locator("button").click()
    assert refreshed.value.status == 200

    expect(row.locator(".mail-status-queued")).to_be_visible()
    expect(preview.locator(".preview-mail")).to_contain_text(outbox["recipient"])
    expect(preview.locator(".preview-mail li").first).to_contain_text(outbox["recipient"])
    expect(page.locator("#job-preview")).to_have_count(1)
    assert page.evaluate("window.__marker") == 1, "the retry reloaded the whole page"
    assert errors == []
