"""Webhooks in the services: each change records its event in its own transaction (the
services the pages, the API and the job share), only for the reseller's subscribed
endpoints; endpoints are checked (S70), audited without their secret, and scoped to
their reseller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import TODAY, WEBHOOK_CONFIG
from tests.support import (
    count,
    english,
    fixture_bytes,
    in_app,
    pid,
    public_dns,
    recorded_events,
    subscribe,
    user,
)
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from vip.services import customer_import, events, outbox, webhooks
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.deadlines import apply_deadlines
from vip.services.errors import NotVisible, PermissionDenied
from vip.services.invitations import accept_invitation, token_for
from vip.services.orders import decide_return, record_order, request_return
from vip.services.renewals import record_renewal

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hooks"  # never called here: delivery is tests/job's


@pytest.fixture
def app_config():
    return {**WEBHOOK_CONFIG, "VIP_MAIL_TRANSPORT": "memory"}


def types(payloads) -> list[str]:
    return [payload["type"] for payload in payloads]


def new_customer(admin, name="Nordljus Design AB"):
    return create_customer(
        user=user(admin),
        today=TODAY,
        company_name=name,
        country="SE",
        market_segment="commercial",
        admin_name="Maja Berg",
        admin_email="maja@nordljus.example",
        admin_language="en",
    )


# -- Which events the services record -----------------------------------------------------------


def test_the_services_record_each_change_as_an_event(app, tenants):
    a = tenants.a
    with in_app(app):
        subscribe(a.admin, HOOK)
        order = record_order(
            user=user(a.sales),
            pa_id=a.authorization.id,
            today=TODAY,
            vendor_order_number="V1000001",
            order_date=TODAY,
            duration_months=12,
        )
        returned = request_return(
            user=user(a.sales),
            order_id=order.id,
            today=TODAY,
            quantities={order.lines[0].id: 2},
            reason="Too many",
        )
        decide_return(user=user(a.admin), return_id=returned.id, approve=True, comment="", now=NOW)
        customer = new_customer(a.admin)
        pa = create_purchase_authorization(
            user=user(a.sales),
            customer_id=customer.id,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=pid("Photoshop"), quantity=3)],
            deployment_date=TODAY,
            customer_po_number="PO-77",
        )
        cancel_purchase_authorization(user=user(a.sales), pa_id=pa.id, today=TODAY, now=NOW)
        payloads = recorded_events()
        vip_id = customer.vip_id
    assert types(payloads) == [
        "order.recorded",
        "return.requested",
        "return.decided",
        "customer.created",
        "purchase_authorization.created",
        "purchase_authorization.cancelled",
    ]
    recorded, requested, decided, created, pa_created, pa_cancelled = payloads
    assert recorded["data"]["order"]["vendor_order_number"] == "V1000001"
    assert recorded["data"]["order"]["purchase_authorization"] == a.authorization.number
    assert recorded["data"]["order"]["lines"] == [
        {"sku": recorded["data"]["order"]["lines"][0]["sku"], "quantity": 5}
    ]
    assert requested["data"]["return"]["status"] == "requested"
    assert decided["data"]["return"]["status"] == "approved"
    assert decided["data"]["return"]["lines"][0]["quantity"] == 2
    assert created["data"]["customer"] == {
        "vip_id": vip_id,
        "company_name": "Nordljus Design AB",
        "status": "invited",
        "country": "SE",
        "market_segment": "commercial",
        "anniversary_date": None,
    }
    assert (
        pa_created["data"]["purchase_authorization"]["order_due_on"]
        == (TODAY + timedelta(days=14)).isoformat()
    )
    assert pa_created["data"]["purchase_authorization"]["lines"][0]["quantity"] == 3
    assert pa_cancelled["data"]["purchase_authorization"]["status"] == "cancelled"
    # Each event: a stable id, an ISO 8601 UTC timestamp; ids unique.
    assert len({p["id"] for p in payloads}) == len(payloads)
    assert all(p["id"].startswith("evt_") and p["timestamp"].endswith("Z") for p in payloads)


def test_only_subscribed_types_of_the_own_reseller_are_recorded(app, tenants):
    with in_app(app):
        subscribe(tenants.a.admin, HOOK, event_types=["customer.created"])
        new_customer(tenants.a.admin, "Ett AB")
        new_customer(tenants.b.admin, "Två AB")  # tenant b has no endpoint
        create_purchase_authorization(
            user=user(tenants.a.sales),
            customer_id=tenants.a.customer.id,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=pid("Photoshop"), quantity=1)],
            deployment_date=TODAY,
            customer_po_number=None,
        )
        payloads = recorded_events()
        deliveries = count(WebhookDelivery)
    assert types(payloads) == ["customer.created"]
    assert payloads[0]["data"]["customer"]["company_name"] == "Ett AB"
    assert deliveries == 1


def test_one_delivery_per_subscribed_endpoint(app, tenants):
    with in_app(app):
        subscribe(tenants.a.admin, HOOK)
        subscribe(tenants.a.admin, "http://127.0.0.1:9/other", event_types=["customer.created"])
        subscribe(tenants.a.admin, "http://127.0.0.1:9/third", event_types=["order.recorded"])
        new_customer(tenants.a.admin)
        assert count(WebhookEvent) == 1
        assert count(WebhookDelivery) == 2


def test_no_endpoint_no_event(app, tenants):
    with in_app(app):
        new_customer(tenants.a.admin)
        assert count(WebhookEvent) == 0


def test_the_deadline_job_records_overdue_once_and_status_changes(app, tenants):
    a = tenants.a
    day = TODAY + timedelta(days=15)  # the authorization's order-due date has passed
    with in_app(app):
        subscribe(a.admin, HOOK)
        apply_deadlines(today=day, reseller_ids=[a.reseller.id, tenants.b.reseller.id])
        apply_deadlines(today=day, reseller_ids=[a.reseller.id, tenants.b.reseller.id])
        first = recorded_events()
        cancel_purchase_authorization(
            user=user(a.sales), pa_id=a.authorization.id, today=day, now=NOW
        )
        payloads = recorded_events()
        b_status = db.session.get(Customer, tenants.b.customer.id).status
    assert b_status == CustomerStatus.DELAYED  # changed, but tenant b has no endpoint
    assert types(first) == ["purchase_authorization.overdue", "customer.status_changed"]
    overdue, delayed = first
    assert overdue["data"]["purchase_authorization"]["number"] == a.authorization.number
    assert delayed["data"]["previous_status"] == "invited"
    assert delayed["data"]["status"] == "delayed"
    assert delayed["data"]["reason"] == "authorization_overdue"
    assert delayed["data"]["customer"]["status"] == "delayed"
    assert types(payloads[2:]) == ["purchase_authorization.cancelled", "customer.status_changed"]
    cleared = payloads[3]["data"]
    assert (cleared["previous_status"], cleared["status"], cleared["reason"]) == (
        "delayed",
        "invited",
        "delay_cleared",
    )


def test_accepting_the_invitation_records_invited_to_active(app, tenants):
    with in_app(app):
        subscribe(tenants.a.admin, HOOK, event_types=["customer.status_changed"])
        customer = new_customer(tenants.a.admin)
        accept_invitation(
            token=token_for(customer.invitations[0]),
            password="a long enough password 42",
            today=TODAY,
            now=NOW,
        )
        payloads = recorded_events()
    assert [
        (p["data"]["previous_status"], p["data"]["status"], p["data"]["reason"]) for p in payloads
    ] == [("invited", "active", "invitation_accepted")]


def test_access_removal_renewal_and_reminder_sent(app, tenants):
    """The job removes access (inactive), a reminder mail delivered is announced, and the
    renewal gives access back: each its event, in that order."""
    a = tenants.a
    with in_app(app):
        subscribe(a.admin, HOOK)
        record_order(
            user=user(a.sales),
            pa_id=a.authorization.id,
            today=TODAY,
            vendor_order_number="V1000002",
            order_date=TODAY,
            duration_months=12,
        )
        anniversary = db.session.get(Customer, a.customer.id).anniversary_date
        apply_deadlines(today=anniversary - timedelta(days=30), reseller_ids=[a.reseller.id])
        outbox.deliver_queued(now=NOW)
        removal = anniversary + timedelta(days=30)
        apply_deadlines(today=removal, reseller_ids=[a.reseller.id])
        record_renewal(
            user=user(a.sales),
            customer_id=a.customer.id,
            today=removal,
            vendor_order_number="V1000003",
            order_date=removal,
            quantities={pid("Photoshop"): 5},
        )
        payloads = recorded_events()
    assert types(payloads) == [
        "order.recorded",
        "reminder.sent",
        "customer.status_changed",
        "renewal.recorded",
        "customer.status_changed",
    ]
    reminder = payloads[1]["data"]["reminder"]
    assert reminder["kind"] == "renewal_due"
    assert reminder["anniversary_date"] == anniversary.isoformat()
    removed, renewal, back = payloads[2]["data"], payloads[3]["data"], payloads[4]["data"]
    assert (removed["status"], removed["reason"]) == ("inactive", "access_removed")
    assert renewal["order"]["order_type"] == "renewal"
    assert renewal["order"]["purchase_authorization"] is None
    assert (back["previous_status"], back["status"], back["reason"]) == (
        "inactive",
        "active",
        "renewed",
    )


def test_imported_customers_are_announced(app, tenants):
    with in_app(app):
        subscribe(tenants.a.admin, HOOK, event_types=["customer.created"])
        check = customer_import.check_file(
            data=fixture_bytes("excel-sv-cp1252-semicolon.csv"),
            file_name="x.csv",
            default_language="sv",
            today=TODAY,
        )
        customer_import.import_customers(
            user=user(tenants.a.admin), check=check, invite=False, today=TODAY
        )
        payloads = recorded_events()
    assert len(payloads) == 4
    assert {p["data"]["source"] for p in payloads} == {"import"}


def test_s72_an_event_is_rolled_back_with_its_change(app, tenants):
    """The outbox pattern: the event is in the change's transaction, never on its own."""
    with in_app(app):
        subscribe(tenants.a.admin, HOOK)
        customer = db.session.get(Customer, tenants.a.customer.id)
        events.customer_created(customer)
        assert count(WebhookEvent) == 1  # seen inside the transaction
        db.session.rollback()
        assert count(WebhookEvent) == 0
        assert count(WebhookDelivery) == 0


# -- Endpoints ------------------------------------------------------------------------------------


REFUSED = [
    ("https://127.0.0.1/hooks", "local, private"),  # loopback, no allow-list here
    ("https://localhost/hooks", "local, private"),
    ("https://10.1.2.3/hooks", "local, private"),
    ("https://192.168.1.10/hooks", "local, private"),
    ("https://169.254.169.254/latest/meta-data", "local, private"),  # cloud metadata
    ("https://100.100.100.200/", "local, private"),  # shared address space
    ("https://[::1]/hooks", "local, private"),
    ("https://[fd00:ec2::254]/", "local, private"),
    ("https://[::ffff:127.0.0.1]/", "local, private"),
    ("https://internal.example.com/hooks", "local, private"),  # resolves to 10.0.0.8
    ("http://erp.example.com/hooks", "Use https://"),
    ("ftp://erp.example.com/hooks", "starts with https://"),
    ("https://user:pw@erp.example.com/hooks", "user name and password"),
    ("https://nowhere.example.com/hooks", "could not be found"),
    ("https:///hooks", "host name"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_s70_an_endpoint_leading_to_an_internal_address_is_refused(
    app, tenants, monkeypatch, url, message
):
    app.config.update(VIP_WEBHOOK_ALLOW_HTTP=False, VIP_WEBHOOK_ALLOWED_NETWORKS="")
    public_dns(
        monkeypatch,
        {
            "erp.example.com": "93.184.215.14",
            "internal.example.com": "10.0.0.8",
            "localhost": "127.0.0.1",
        },
    )
    with in_app(app), pytest.raises(webhooks.EndpointInvalid) as refused:
        subscribe(tenants.a.admin, url)
    assert message in english(refused.value.errors["url"][0])
    with in_app(app):
        assert count(WebhookEndpoint) == 0
        assert count(AuditEvent, AuditEvent.action.like("webhook%")) == 0


def test_s70_the_allow_list_admits_the_networks_it_names(app, tenants, monkeypatch):
    app.config.update(VIP_WEBHOOK_ALLOW_HTTP=False, VIP_WEBHOOK_ALLOWED_NETWORKS="10.0.0.0/24")
    public_dns(monkeypatch, {"erp.internal": "10.0.0.8", "other.internal": "10.0.1.8"})
    with in_app(app):
        subscribe(tenants.a.admin, "https://erp.internal/hooks")
        with pytest.raises(webhooks.EndpointInvalid):
            subscribe(tenants.a.admin, "https://other.internal/hooks")
        assert count(WebhookEndpoint) == 1


def test_a_public_https_endpoint_is_accepted(app, tenants, monkeypatch):
    app.config.update(VIP_WEBHOOK_ALLOW_HTTP=False, VIP_WEBHOOK_ALLOWED_NETWORKS="")
    public_dns(monkeypatch, {"erp.example.com": "93.184.215.14"})
    with in_app(app):
        endpoint_id, secret = subscribe(tenants.a.admin, "https://erp.example.com/hooks")
        assert secret.startswith("whsec_") and len(secret) > 40
        assert db.session.get(WebhookEndpoint, endpoint_id).secret == secret


@pytest.mark.parametrize("chosen", [[], ["customer.deleted"], ["customer.created", "nope"]])
def test_an_endpoint_needs_known_events(app, tenants, chosen):
    with in_app(app):
        with pytest.raises(webhooks.EndpointInvalid) as refused:
            webhooks.create_endpoint(
                user=user(tenants.a.admin),
                data=webhooks.EndpointInput(url=HOOK, description="", event_types=chosen),
                now=NOW,
            )
        assert "event_types" in refused.value.errors
        assert count(WebhookEndpoint) == 0


def test_s74_endpoint_changes_are_audited_without_the_secret(app, tenants):
    admin = tenants.a.admin
    with in_app(app):
        endpoint_id, secret = subscribe(admin, HOOK, event_types=["customer.created"])
        webhooks.update_endpoint(
            user=user(admin),
            endpoint_id=endpoint_id,
            data=webhooks.EndpointInput(
                url=HOOK, description="ERP", event_types=["order.recorded"]
            ),
        )
        _, new_secret = webhooks.rotate_secret(user=user(admin), endpoint_id=endpoint_id)
        webhooks.delete_endpoint(user=user(admin), endpoint_id=endpoint_id, now=NOW)
        audits = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action.like("webhook%")).order_by(AuditEvent.id)
        ).all()
        actions = [event.action for event in audits]
        details = repr([event.details for event in audits])
        changed = audits[1].details
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.changed",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]
    assert all(event.reseller_id == tenants.a.reseller.id for event in audits)
    assert changed["before"]["event_types"] == ["customer.created"]
    assert changed["after"] == {
        "url": HOOK,
        "description": "ERP",
        "event_types": ["order.recorded"],
    }
    assert secret not in details and new_secret not in details


def test_a_deleted_endpoint_receives_nothing_and_its_waiting_deliveries_are_dropped(app, tenants):
    with in_app(app):
        endpoint_id, _ = subscribe(tenants.a.admin, HOOK)
        new_customer(tenants.a.admin)
        webhooks.delete_endpoint(user=user(tenants.a.admin), endpoint_id=endpoint_id, now=NOW)
        new_customer(tenants.a.admin, "Efter AB")
        statuses = db.session.scalars(sa.select(WebhookDelivery.status)).all()
        assert [str(s) for s in statuses] == ["cancelled"]
        with pytest.raises(NotVisible):
            webhooks.get_endpoint_for(user=user(tenants.a.admin), endpoint_id=endpoint_id)


def test_s74_another_resellers_endpoint_and_delivery_are_not_found(app, tenants):
    with in_app(app):
        endpoint_id, _ = subscribe(tenants.a.admin, HOOK)
        new_customer(tenants.a.admin)
        delivery_id = db.session.scalar(sa.select(WebhookDelivery.id))
        other = user(tenants.b.admin)
        for call in (
            lambda: webhooks.get_endpoint_for(user=other, endpoint_id=endpoint_id),
            lambda: webhooks.delivery_log(user=other, endpoint_id=endpoint_id),
            lambda: webhooks.delete_endpoint(user=other, endpoint_id=endpoint_id, now=NOW),
            lambda: webhooks.rotate_secret(user=other, endpoint_id=endpoint_id),
            lambda: webhooks.redeliver(user=other, delivery_id=delivery_id),
        ):
            with pytest.raises(NotVisible):
                call()
        assert webhooks.endpoints_of(user=other) == []
        with pytest.raises(PermissionDenied):
            webhooks.endpoints_of(user=user(tenants.a.sales))
        assert db.session.get(WebhookEndpoint, endpoint_id).deleted_at is None


def test_redelivery_queues_a_delivered_event_again_and_is_audited(app, tenants):
    with in_app(app):
        subscribe(tenants.a.admin, HOOK)
        new_customer(tenants.a.admin)
        delivery = db.session.scalar(sa.select(WebhookDelivery))
        with pytest.raises(webhooks.DomainError):  # still waiting: nothing to redeliver
            webhooks.redeliver(user=user(tenants.a.admin), delivery_id=delivery.id)
        delivery.status = "delivered"
        delivery.attempts = 1
        db.session.commit()
        again = webhooks.redeliver(user=user(tenants.a.admin), delivery_id=delivery.id)
        assert (str(again.status), again.attempts, again.next_attempt_at) == ("pending", 0, None)
        audit = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "webhook.redelivered")
        )
        assert audit.details["event_id"] == again.event.event_id
        assert audit.actor_id == tenants.a.admin.id


def test_no_notification_means_no_reminder_event(app, tenants):
    """reminder.sent follows the mail, not the queueing: a queued reminder is not sent yet."""
    a = tenants.a
    with in_app(app):
        subscribe(a.admin, HOOK, event_types=["reminder.sent"])
        customer = db.session.get(Customer, a.customer.id)
        customer.anniversary_date = TODAY + timedelta(days=20)
        db.session.commit()
        apply_deadlines(today=TODAY, reseller_ids=[a.reseller.id])
        assert count(Notification, Notification.kind == "renewal_due") == 1
        assert recorded_events() == []
