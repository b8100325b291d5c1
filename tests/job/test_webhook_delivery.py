"""Delivering webhooks to a real HTTP server in the test (tests/conftest.py's
`webhook_receiver`), every delivery verified with the standardwebhooks library: the
signature (S72), order per customer (S73), retries and backoff with the run's times passed
in, refusals after DNS resolution (S71), and a `vip deliver` process killed with SIGKILL
mid-way and run again: no event lost, a duplicate only as the same event id (S72)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import TODAY, WEBHOOK_CONFIG
from tests.job.test_tick_processes import _environment
from tests.support import (
    in_app,
    pid,
    public_dns,
    recorded_events,
    subscribe,
    user,
    verified_webhooks,
)
from vip.extensions import db
from vip.models import (
    Customer,
    CustomerStatus,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from vip.services import events, webhooks
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.customers import create_customer

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return dict(WEBHOOK_CONFIG)


def add_customers(admin, names) -> list[str]:
    """Customers made through the service (one customer.created event each); their VIP IDs."""
    return [
        create_customer(
            user=user(admin),
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name="It",
            admin_email=f"it{number}@kund.example",
            admin_language="sv",
        ).vip_id
        for number, name in enumerate(names)
    ]


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_s72_deliveries_are_signed_and_verify_with_the_library(app, tenants, webhook_receiver):
    with in_app(app):
        _, secret = subscribe(tenants.a.admin, webhook_receiver.url())
        add_customers(tenants.a.admin, ["Alfa AB", "Beta AB"])
        report = webhooks.deliver_pending(now=NOW)
        sent = recorded_events()
        rows = deliveries()
        attempts = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert (report.delivered, report.retrying, report.failed) == (2, 0, 0)
    payloads = verified_webhooks(webhook_receiver, secret)
    assert payloads == sent  # the very bodies recorded, in order
    for item, payload in zip(webhook_receiver.received, payloads, strict=True):
        assert item.event_id == payload["id"]
        assert item.headers["content-type"] == "application/json"
        assert item.path == "/hooks"
    assert all(row.status == DeliveryStatus.DELIVERED and row.attempts == 1 for row in rows)
    assert [a.status_code for a in attempts] == [200, 200]
    # A wrong secret, or a body changed on the way, does not verify.
    other = Webhook("whsec_" + "A" * 43)
    item = webhook_receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        other.verify(item.body, item.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(item.body.replace(b"Alfa", b"Alfb"), item.headers)


def test_s73_a_failing_event_holds_back_the_later_ones_of_its_customer(
    app, tenants, webhook_receiver
):
    """Customer a's first event fails: its later events wait, b's go on. On the retry all
    of a's arrive, in the order they were recorded."""
    with in_app(app):
        _, secret = subscribe(tenants.a.admin, webhook_receiver.url())
        customer_a, customer_b = (
            create_customer(
                user=user(tenants.a.admin),
                today=TODAY,
                company_name=name,
                country="SE",
                market_segment="commercial",
                admin_name="It",
                admin_email=f"it@{name[:4].lower()}.example",
                admin_language="sv",
            )
            for name in ("Först AB", "Sedan AB")
        )
        first_of_a = recorded_events()[0]["id"]
        for customer in (customer_a, customer_b, customer_a):
            create_purchase_authorization(
                user=user(tenants.a.sales),
                customer_id=customer.id,
                today=TODAY,
                license_type="team",
                lines=[LineInput(product_id=pid("Photoshop"), quantity=1)],
                deployment_date=TODAY,
                customer_po_number=None,
            )
        a_ids, b_ids = (
            list(
                db.session.scalars(
                    sa.select(WebhookEvent.event_id)
                    .where(WebhookEvent.customer_id == customer.id)
                    .order_by(WebhookEvent.id)
                )
            )
            for customer in (customer_a, customer_b)
        )
        webhook_receiver.answer = lambda item: 500 if item.event_id == first_of_a else 200
        first = webhooks.deliver_pending(now=NOW)
        got_first = [item.event_id for item in webhook_receiver.received]
        webhook_receiver.answer = None
        early = webhooks.deliver_pending(now=NOW + timedelta(seconds=30))  # not yet due
        later = webhooks.deliver_pending(now=NOW + timedelta(minutes=1))
    assert (first.delivered, first.retrying) == (2, 1)  # b's two arrived, a's first failed
    assert got_first == [first_of_a, *b_ids]  # a's later events were never tried
    assert early.delivered + early.retrying == 0
    assert later.delivered == 3
    received = [item.event_id for item in webhook_receiver.received]
    assert a_ids[0] == first_of_a
    assert [i for i in received if i in a_ids] == [first_of_a, *a_ids]  # failed, then in order
    assert len(verified_webhooks(webhook_receiver, secret)) == 6


def test_s73_retries_back_off_and_a_delivery_given_up_no_longer_holds_back(
    app, tenants, webhook_receiver
):
    app.config["VIP_WEBHOOK_MAX_ATTEMPTS"] = 4
    webhook_receiver.statuses = [503] * 4
    with in_app(app):
        subscribe(tenants.a.admin, webhook_receiver.url())
        add_customers(tenants.a.admin, ["Envis AB"])
        customer_id = deliveries()[0].customer_id
        # A second event of the same customer, recorded after the first.
        events.customer_status_changed(
            db.session.get(Customer, customer_id),
            previous=CustomerStatus.INVITED,
            status=CustomerStatus.ACTIVE,
            reason=events.INVITATION_ACCEPTED,
        )
        db.session.commit()
        schedule = []
        moment = NOW
        for _ in range(4):
            webhooks.deliver_pending(now=moment)
            head = deliveries()[0]
            schedule.append((head.attempts, head.next_attempt_at))
            # Just before the retry is due nothing happens.
            if head.next_attempt_at is not None:
                assert (
                    webhooks.deliver_pending(
                        now=head.next_attempt_at - timedelta(seconds=1)
                    ).retrying
                    == 0
                )
                moment = head.next_attempt_at
        head, second = deliveries()
        log = db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert schedule == [
        (1, NOW + timedelta(minutes=1)),
        (2, NOW + timedelta(minutes=3)),
        (3, NOW + timedelta(minutes=7)),
        (4, None),
    ]
    assert head.status == DeliveryStatus.FAILED
    assert head.last_status_code == 503 and head.last_error == "HTTP 503"
    # Given up after the fourth attempt, it no longer holds back the customer's next event.
    assert second.status == DeliveryStatus.DELIVERED
    assert [a.status_code for a in log] == [503, 503, 503, 503, 200]
    assert len(webhook_receiver.received) == 5


def test_s71_a_host_that_resolves_to_an_internal_address_at_delivery_is_refused(
    app, tenants, monkeypatch, webhook_receiver
):
    """DNS rebinding: registered while the name resolved to a public address, the name
    now resolves to the metadata address; the run refuses it and sends nothing."""
    app.config.update(VIP_WEBHOOK_ALLOW_HTTP=True, VIP_WEBHOOK_ALLOWED_NETWORKS="")
    names = {"hooks.example.com": "93.184.215.14"}
    public_dns(monkeypatch, names)
    port = webhook_receiver.server.server_port
    with in_app(app):
        subscribe(tenants.a.admin, f"http://hooks.example.com:{port}/hooks")
        add_customers(tenants.a.admin, ["Rebind AB"])
        names["hooks.example.com"] = "169.254.169.254"
        report = webhooks.deliver_pending(now=NOW)
        names["hooks.example.com"] = "127.0.0.1"  # the receiver: loopback, not allowed
        again = webhooks.deliver_pending(now=NOW + timedelta(minutes=1))
        (row,) = deliveries()
    assert (report.retrying, again.retrying) == (1, 1)
    assert row.status == DeliveryStatus.PENDING and row.attempts == 2
    assert row.last_error.startswith("refused: address")
    assert webhook_receiver.received == []


def test_the_deliver_command_sends_mail_and_webhooks(app, tenants, runner, webhook_receiver):
    with in_app(app):
        _, secret = subscribe(tenants.a.admin, webhook_receiver.url())
        add_customers(tenants.a.admin, ["Kommando AB"])
    result = runner.invoke(args=["vip", "deliver"])
    assert result.exit_code == 0, result.output
    assert "Mail: 3 sent" in result.output  # three invitations, the new one among them
    assert "Webhooks: 1 delivered, 0 to retry, 0 failed" in result.output
    assert len(verified_webhooks(webhook_receiver, secret)) == 1
    webhook_receiver.statuses = [500]
    with in_app(app):
        add_customers(tenants.a.admin, ["Fel AB"])
    failing = runner.invoke(args=["vip", "deliver"])
    assert failing.exit_code == 1
    assert "Webhooks: 0 delivered, 1 to retry" in failing.output


def _deliver_process(app) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "vip", "deliver"],
        cwd=ROOT,
        env=_environment(
            app,
            VIP_WEBHOOK_ALLOW_HTTP="on",
            VIP_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_s72_a_delivery_run_killed_mid_way_loses_no_event_and_repeats_only_the_same_id(
    app, tenants, webhook_receiver
):
    """Nine events of three customers; the receiver keeps the fourth request waiting and
    the run is killed with SIGKILL there. Run again once the lease has passed: every
    event arrives, each customer's in order, and the one in flight twice, with one id."""
    with in_app(app):
        _, secret = subscribe(tenants.a.admin, webhook_receiver.url())
        vip_ids = add_customers(tenants.a.admin, ["Ett AB", "Två AB", "Tre AB"])
        for customer in db.session.scalars(sa.select(Customer).where(Customer.vip_id.in_(vip_ids))):
            for previous, status in (
                (CustomerStatus.INVITED, CustomerStatus.ACTIVE),
                (CustomerStatus.ACTIVE, CustomerStatus.DELAYED),
            ):
                events.customer_status_changed(
                    customer, previous=previous, status=status, reason="test"
                )
            db.session.commit()
        recorded = [p["id"] for p in recorded_events()]
    assert len(recorded) == 9
    webhook_receiver.hang_from = 4
    run = _deliver_process(app)
    deadline = time.monotonic() + 60
    while len(webhook_receiver.received) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(webhook_receiver.received) == 4, run.kill() or run.communicate()[0]
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    in_flight = webhook_receiver.received[3].event_id
    with in_app(app):
        rows = deliveries()
        assert sum(r.status == DeliveryStatus.DELIVERED for r in rows) == 3
        assert all(r.status != DeliveryStatus.FAILED for r in rows)  # nothing lost
        leased = [r for r in rows if r.status == DeliveryStatus.PENDING and r.next_attempt_at]
        assert len(leased) == 1 and leased[0].event.event_id == in_flight
        # The lease ends (5 minutes later).
        db.session.execute(
            sa.update(WebhookDelivery)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(1))
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        )
        db.session.commit()
    webhook_receiver.hang_from = None
    rerun = _deliver_process(app)
    output = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 0, output
    with in_app(app):
        assert all(r.status == DeliveryStatus.DELIVERED for r in deliveries())
    payloads = verified_webhooks(webhook_receiver, secret)
    received = [p["id"] for p in payloads]
    assert sorted(set(received)) == sorted(recorded)  # no event lost
    duplicates = [i for i in set(received) if received.count(i) > 1]
    assert duplicates == [in_flight]  # the only repeat: the same event, the same id
    by_customer: dict[str, list[str]] = {}
    for payload in payloads:
        by_customer.setdefault(payload["data"]["customer"]["vip_id"], [])
        if payload["id"] not in by_customer[payload["data"]["customer"]["vip_id"]]:
            by_customer[payload["data"]["customer"]["vip_id"]].append(payload["id"])
    order = {i: n for n, i in enumerate(recorded)}
    for ids in by_customer.values():
        assert ids == sorted(ids, key=order.get)  # each customer's events in order


def test_the_tick_records_the_jobs_events_and_delivers_them(app, tenants, runner, webhook_receiver):
    """Day 15 of the fixture's authorization: the tick announces it overdue and the
    customer Försenad, and delivers both in the same run."""
    with in_app(app):
        _, secret = subscribe(
            tenants.a.admin,
            webhook_receiver.url(),
            event_types=["purchase_authorization.overdue", "customer.status_changed"],
        )
    day = TODAY + timedelta(days=15)
    result = runner.invoke(args=["vip", "tick", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Webhooks: 2 delivered, 0 to retry, 0 failed, 0 cancelled." in result.output
    payloads = verified_webhooks(webhook_receiver, secret)
    assert [p["type"] for p in payloads] == [
        "purchase_authorization.overdue",
        "customer.status_changed",
    ]
    assert payloads[1]["data"]["status"] == "delayed"
    again = runner.invoke(args=["vip", "tick", "--today", day.isoformat()])
    assert again.exit_code == 0 and "Webhooks:" not in again.output  # nothing twice
    assert len(webhook_receiver.received) == 2
