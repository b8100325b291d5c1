"""The Webhooks pages over HTTP: a partner admin adds an endpoint (its secret shown once),
edits, rotates and deletes it, reads its delivery log (the status filter as an htmx
partial) and redelivers an event (htmx row swap, or a redirect without JavaScript). Bad
input comes back at its field in both languages with nothing written; other tenants' ids
answer 404 (S10) and sales users 403 (S11)."""

from __future__ import annotations

import html as htmllib
import re

import pytest
import sqlalchemy as sa

from tests.conftest import HX, WEBHOOK_CONFIG
from tests.support import count, in_app, subscribe
from vip.extensions import db
from vip.models import (
    AuditEvent,
    DeliveryStatus,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from vip.services.customers import create_customer

HOOK = "http://127.0.0.1:9/hooks"


@pytest.fixture
def app_config():
    return dict(WEBHOOK_CONFIG)


def text_of(page: str) -> str:
    return " ".join(htmllib.unescape(page).split())


def set_language(app, user_id: int, language: str) -> None:
    with in_app(app):
        db.session.execute(sa.update(User).where(User.id == user_id).values(language=language))
        db.session.commit()


@pytest.fixture
def admin(app, tenants, login_as):
    set_language(app, tenants.a.admin.id, "en")
    return login_as(tenants.a.admin)


def endpoint_with_delivery(app, tenants, status=DeliveryStatus.DELIVERED) -> tuple[int, int]:
    """Tenant a's endpoint and one delivery of a new customer's event, in `status`."""
    with in_app(app):
        endpoint_id, _ = subscribe(tenants.a.admin, HOOK, description="ERP")
        create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=tenants.a.authorization.created_on,
            company_name="Loggad AB",
            country="SE",
            market_segment="commercial",
            admin_name="It",
            admin_email="it@loggad.example",
            admin_language="sv",
        )
        delivery = db.session.scalar(sa.select(WebhookDelivery))
        delivery.status = status
        delivery.attempts = 1
        delivery.last_status_code = 200 if status == DeliveryStatus.DELIVERED else 500
        db.session.commit()
        return endpoint_id, delivery.id


def test_adding_an_endpoint_shows_its_secret_once_and_audits(app, client, tenants, admin):
    page = client.get("/settings/webhooks")
    assert page.status_code == 200
    assert "No endpoints yet." in page.get_data(as_text=True)
    response = client.post(
        "/settings/webhooks",
        data={
            "url": HOOK,
            "description": "Our ERP",
            "event_types": ["customer.created", "order.recorded"],
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    secret = re.search(r'id="webhook-secret-value"[^>]*value="(whsec_[^"]+)"', body).group(1)
    with in_app(app):
        endpoint = db.session.scalar(sa.select(WebhookEndpoint))
        assert endpoint.secret == secret
        assert endpoint.event_types == ["customer.created", "order.recorded"]
        assert endpoint.reseller_id == tenants.a.reseller.id
        assert count(AuditEvent, AuditEvent.action == "webhook_endpoint.created") == 1
    again = client.get("/settings/webhooks").get_data(as_text=True)
    assert secret not in again  # shown once
    assert HOOK in again and "Our ERP" in again


@pytest.mark.parametrize(
    ("language", "data", "field", "message"),
    [
        ("en", {"url": "", "event_types": ["customer.created"]}, "url", "Enter the endpoint"),
        (
            "en",
            {"url": "https://10.0.0.1/x", "event_types": ["customer.created"]},
            "url",
            "private",
        ),
        ("en", {"url": HOOK}, "event-types", "Choose at least one event."),
        ("sv", {"url": HOOK}, "event-types", "Välj minst en händelse."),
        (
            "sv",
            {"url": "https://169.254.169.254/", "event_types": ["customer.created"]},
            "url",
            "privat",
        ),
    ],
)
def test_s70_bad_input_is_refused_at_its_field_and_nothing_is_written(
    app, client, tenants, login_as, language, data, field, message
):
    set_language(app, tenants.a.admin.id, language)
    login_as(tenants.a.admin)
    response = client.post("/settings/webhooks", data=data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', body, re.S)
    assert error and message in text_of(error.group(1)), body[-3000:]
    assert 'aria-invalid="true"' in body or 'aria-describedby="event-types-error"' in body
    with in_app(app):
        assert count(WebhookEndpoint) == 0
        assert count(AuditEvent, AuditEvent.action.like("webhook%")) == 0


def test_editing_rotating_and_deleting_an_endpoint(app, client, tenants, admin):
    endpoint_id, _ = endpoint_with_delivery(app, tenants)
    edit = client.get(f"/settings/webhooks/{endpoint_id}")
    assert edit.status_code == 200 and HOOK in edit.get_data(as_text=True)
    saved = client.post(
        f"/settings/webhooks/{endpoint_id}",
        data={"url": HOOK, "description": "ERP 2", "event_types": ["return.decided"]},
    )
    assert saved.status_code == 303
    with in_app(app):
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert (endpoint.description, endpoint.event_types) == ("ERP 2", ["return.decided"])
        old_secret = endpoint.secret
    rotated = client.post(f"/settings/webhooks/{endpoint_id}/secret")
    new_secret = re.search(
        r'id="webhook-secret-value"[^>]*value="(whsec_[^"]+)"', rotated.get_data(as_text=True)
    ).group(1)
    assert new_secret != old_secret
    deleted = client.post(f"/settings/webhooks/{endpoint_id}/delete")
    assert deleted.status_code == 303
    assert client.get(f"/settings/webhooks/{endpoint_id}").status_code == 404
    with in_app(app):
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like("webhook_endpoint%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.changed",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]


def test_the_delivery_log_shows_attempts_and_filters_by_htmx(app, client, tenants, admin):
    endpoint_id, delivery_id = endpoint_with_delivery(app, tenants, DeliveryStatus.FAILED)
    page = client.get(f"/settings/webhooks/{endpoint_id}/deliveries")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    assert f'id="delivery-{delivery_id}"' in body and "customer.created" in body
    assert "Loggad AB" in body and "Redeliver" in body
    partial = client.get(
        f"/settings/webhooks/{endpoint_id}/deliveries?status=delivered", headers=HX
    )
    fragment = partial.get_data(as_text=True)
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="webhook-deliveries"')
    assert f'id="delivery-{delivery_id}"' not in fragment
    assert "HX-Request" in partial.headers.get("Vary", "")


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_redelivering_queues_the_event_again_and_audits(app, client, tenants, admin, htmx):
    endpoint_id, delivery_id = endpoint_with_delivery(app, tenants, DeliveryStatus.FAILED)
    url = f"/settings/webhooks/deliveries/{delivery_id}/redeliver"
    response = client.post(url, headers=HX if htmx else {})
    if htmx:
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert body.lstrip().startswith(f'<tr id="delivery-{delivery_id}"')
        assert "Waiting" in body and "is queued again" in text_of(body)
        assert "vip:changed" in response.headers.get("HX-Trigger", "")
    else:
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/settings/webhooks/{endpoint_id}/deliveries")
    with in_app(app):
        delivery = db.session.get(WebhookDelivery, delivery_id)
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
        assert count(AuditEvent, AuditEvent.action == "webhook.redelivered") == 1
    refused = client.post(url, headers=HX)  # already waiting
    assert "already waiting" in refused.get_data(as_text=True)
    with in_app(app):
        assert count(AuditEvent, AuditEvent.action == "webhook.redelivered") == 1


def test_s74_another_tenants_endpoint_and_delivery_answer_404(app, client, tenants, login_as):
    endpoint_id, delivery_id = endpoint_with_delivery(app, tenants)
    login_as(tenants.b.admin)
    for method, url in (
        ("GET", f"/settings/webhooks/{endpoint_id}"),
        ("POST", f"/settings/webhooks/{endpoint_id}"),
        ("POST", f"/settings/webhooks/{endpoint_id}/secret"),
        ("POST", f"/settings/webhooks/{endpoint_id}/delete"),
        ("GET", f"/settings/webhooks/{endpoint_id}/deliveries"),
        ("POST", f"/settings/webhooks/deliveries/{delivery_id}/redeliver"),
    ):
        response = client.open(url, method=method, data={"url": "x"})
        assert response.status_code == 404, (method, url)
        assert HOOK not in response.get_data(as_text=True)
    assert HOOK not in client.get("/settings/webhooks").get_data(as_text=True)
    with in_app(app):
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.deleted_at is None and endpoint.description == "ERP"
        assert db.session.get(WebhookDelivery, delivery_id).status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize("who", ["sales", "vip_admin"])
def test_s74_only_a_partner_admin_manages_webhooks(app, client, tenants, login_as, who):
    endpoint_id, delivery_id = endpoint_with_delivery(app, tenants)
    login_as(getattr(tenants.a, who))
    assert client.get("/settings/webhooks").status_code == 403
    assert client.post("/settings/webhooks", data={"url": HOOK}).status_code == 403
    assert client.post(f"/settings/webhooks/{endpoint_id}/delete").status_code == 403
    redeliver = client.post(f"/settings/webhooks/deliveries/{delivery_id}/redeliver")
    assert redeliver.status_code == 403
    with in_app(app):
        assert count(WebhookEndpoint, WebhookEndpoint.deleted_at.is_(None)) == 1


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_pages_speak_both_languages(app, client, tenants, login_as, language):
    endpoint_id, _ = endpoint_with_delivery(app, tenants)
    set_language(app, tenants.a.admin.id, language)
    login_as(tenants.a.admin)
    index = text_of(client.get("/settings/webhooks").get_data(as_text=True))
    log = text_of(client.get(f"/settings/webhooks/{endpoint_id}/deliveries").get_data(as_text=True))
    settings = text_of(client.get("/settings").get_data(as_text=True))
    if language == "sv":
        assert "Lägg till en mottagare" in index and "Leveranslogg" in log
        assert "Hantera webhooks" in settings
    else:
        assert "Add an endpoint" in index and "Delivery log" in log
        assert "Manage webhooks" in settings


def test_deleting_with_htmx_answers_a_redirect_to_the_list(app, client, tenants, admin):
    endpoint_id, _ = endpoint_with_delivery(app, tenants)
    response = client.post(f"/settings/webhooks/{endpoint_id}/delete", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/settings/webhooks"
    assert f"The endpoint {HOOK} was deleted." in client.get("/settings/webhooks").get_data(
        as_text=True
    )
