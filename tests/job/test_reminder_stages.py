"""R10 at delivery: only the current stage's reminder is ever sent. A reminder queued but
not delivered (a `--no-send` run, an SMTP outage) is cancelled, with its reason, once a
later stage is due, the customer renewed, or access was removed. And R10/R11 for an
invited customer with a term: its VIP admin has not accepted the invitation, yet it has
licenses, so it gets its reminders and loses its access like any other customer."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import TODAY
from tests.job.test_tick import SMTPServer, free_port
from tests.support import in_app
from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    PurchaseAuthorization,
    User,
    VipAdminCustomer,
)
from vip.services import outbox
from vip.services.invitations import accept_invitation, token_for
from vip.services.renewals import record_renewal, renewal_lines_of

# full_tenants records tenant a's first order on TODAY (2026-11-29): this anniversary.
AD = date(2027, 11, 29)
REMINDERS = ("renewal_due", "renewal_missed", "access_removal")


def tick(runner, day: date, *flags: str):
    return runner.invoke(args=["vip", "tick", "--today", day.isoformat(), *flags])


def reminders_of(app, customer_id: int) -> list[tuple[str, str, str | None]]:
    """(kind, status, cancel reason) of the customer's reminders, in queueing order."""
    with in_app(app):
        return [
            (n.kind, n.status.value, n.cancel_reason)
            for n in db.session.scalars(
                select(Notification)
                .where(Notification.customer_id == customer_id, Notification.kind.in_(REMINDERS))
                .order_by(Notification.id)
            )
        ]


def reminder_files(app, customer_id: int) -> list[str]:
    """The customer's reminders written to the outbox folder (`<id>-<kind>.eml`), in the
    order they were sent."""
    with in_app(app):
        ids = set(
            db.session.scalars(
                select(Notification.id).where(Notification.customer_id == customer_id)
            )
        )
    names = sorted(path.stem for path in Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))
    return [
        kind
        for number, kind in (name.split("-", 1) for name in names)
        if int(number) in ids and kind in REMINDERS
    ]


@pytest.fixture
def customer_id(app, full_tenants) -> int:
    """Tenant a's customer: a first order on TODAY, anniversary AD, no authorization left
    pending (so R4 stays out of the way), its VIP admin's invitation accepted."""
    tenant = full_tenants["a"].tenant
    with in_app(app):
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.status == AuthorizationStatus.PENDING)
            .values(status=AuthorizationStatus.CANCELLED)
        )
        db.session.execute(
            update(Customer)
            .where(Customer.id == tenant.customer.id)
            .values(status=CustomerStatus.ACTIVE, status_before_delay=None)
        )
        db.session.commit()
        assert db.session.get(Customer, tenant.customer.id).anniversary_date == AD
    return tenant.customer.id


def test_r10_a_no_send_gap_never_sends_the_stage_it_skipped(app, runner, customer_id):
    """The reported case: ticks on AD-2, AD+16 with --no-send, then AD+25. The stale
    renewal_missed is cancelled (a later stage is due); only access_removal goes out."""
    assert tick(runner, AD - timedelta(days=2)).exit_code == 0
    assert tick(runner, AD + timedelta(days=16), "--no-send").exit_code == 0
    assert reminders_of(app, customer_id) == [
        ("renewal_due", "sent", None),
        ("renewal_missed", "queued", None),
    ]
    result = tick(runner, AD + timedelta(days=25))
    assert result.exit_code == 0, result.output
    assert "cancel renewal_missed to a-it@customer.example: a Kund AB [superseded]" in (
        result.output
    )
    assert reminders_of(app, customer_id) == [
        ("renewal_due", "sent", None),
        ("renewal_missed", "cancelled", "superseded"),
        ("access_removal", "sent", None),
    ]
    assert reminder_files(app, customer_id) == ["renewal_due", "access_removal"]


def test_r10_a_no_send_run_then_a_run_in_the_same_stage_sends_it(app, runner, customer_id):
    assert tick(runner, AD - timedelta(days=30), "--no-send").exit_code == 0
    assert tick(runner, AD - timedelta(days=1)).exit_code == 0
    assert reminders_of(app, customer_id) == [("renewal_due", "sent", None)]


def test_r10_an_smtp_outage_across_a_stage_change_sends_only_the_current_stage(
    app, runner, customer_id
):
    server = SMTPServer(free_port())  # configured, but not listening: connection refused
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    result = tick(runner, AD - timedelta(days=3))
    assert result.exit_code == 1 and "[retrying]" in result.output, result.output
    assert reminders_of(app, customer_id) == [("renewal_due", "queued", None)]
    server.start()
    try:
        with in_app(app):  # the retry time has come by the next run
            db.session.execute(
                update(Notification).values(
                    next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
            db.session.commit()
        result = tick(runner, AD + timedelta(days=1))
        assert result.exit_code == 0, result.output
    finally:
        server.stop()
    assert reminders_of(app, customer_id) == [
        ("renewal_due", "cancelled", "superseded"),
        ("renewal_missed", "sent", None),
    ]
    kinds = [
        re.search(rb"X-VIP-Notification: (\w+):", raw).group(1).decode()
        for _, to, raw in server.envelopes
        if to == ["a-it@customer.example"]
    ]
    assert [kind for kind in kinds if kind in REMINDERS] == ["renewal_missed"]


def test_r10_a_renewal_between_queueing_and_delivery_cancels_the_reminder(
    app, runner, customer_id, full_tenants
):
    assert tick(runner, AD - timedelta(days=10), "--no-send").exit_code == 0
    with in_app(app):
        customer = db.session.get(Customer, customer_id)
        record_renewal(
            user=db.session.get(User, full_tenants["a"].tenant.sales.id),
            customer_id=customer_id,
            today=AD - timedelta(days=9),
            vendor_order_number="RENEW0001",
            order_date=AD - timedelta(days=9),
            quantities={line.product.id: line.suggested for line in renewal_lines_of(customer)},
        )
    result = tick(runner, AD - timedelta(days=8))
    assert result.exit_code == 0, result.output
    assert reminders_of(app, customer_id) == [("renewal_due", "cancelled", "renewed")]
    assert reminder_files(app, customer_id) == []


def test_r10_a_renewal_while_delivery_holds_the_mail_cancels_it(
    app, runner, customer_id, monkeypatch
):
    """The anniversary moves after the run claimed the mail: it judges the customer as it is
    then, and cancels rather than sends."""
    assert tick(runner, AD - timedelta(days=10), "--no-send").exit_code == 0
    claim = outbox._claim

    def claim_then_renew(notification_id, now):
        claimed = claim(notification_id, now)
        db.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(anniversary_date=date(AD.year + 1, AD.month, AD.day))
        )
        db.session.commit()
        return claimed

    monkeypatch.setattr(outbox, "_claim", claim_then_renew)
    result = runner.invoke(args=["vip", "send-mail"])
    assert result.exit_code == 0, result.output
    assert ("renewal_due", "cancelled", "renewed") in reminders_of(app, customer_id)
    assert reminder_files(app, customer_id) == []


def test_r10_r11_a_stale_reminder_after_access_removal_is_cancelled(app, runner, customer_id):
    assert tick(runner, AD + timedelta(days=23), "--no-send").exit_code == 0
    result = tick(runner, AD + timedelta(days=31))
    assert result.exit_code == 0, result.output
    assert reminders_of(app, customer_id) == [("access_removal", "cancelled", "access_removed")]
    with in_app(app):
        assert db.session.get(Customer, customer_id).status == CustomerStatus.INACTIVE


def test_r10_the_outbox_says_why_a_reminder_was_not_sent(
    app, runner, client, login_as, customer_id, full_tenants
):
    tick(runner, AD - timedelta(days=2), "--no-send")
    tick(runner, AD + timedelta(days=1))
    with in_app(app):
        db.session.execute(
            update(User).where(User.id == full_tenants["a"].tenant.admin.id).values(language="en")
        )
        db.session.commit()
    login_as(full_tenants["a"].tenant.admin)
    page = client.get("/outbox?status=cancelled").get_data(as_text=True)
    assert "Not sent: a later reminder of this anniversary is due." in page
    client.post("/account/language", data={"language": "sv"})
    with in_app(app):
        db.session.execute(
            update(User).where(User.id == full_tenants["a"].tenant.admin.id).values(language="sv")
        )
        db.session.commit()
    page = client.get("/outbox?status=cancelled").get_data(as_text=True)
    assert "Inte skickad: en senare påminnelse för den här årsdagen ska skickas." in page


# --- an invited customer with a term (R1 with R10, R11) -------------------------------------


@pytest.fixture
def invited_id(app, customer_id) -> int:
    """The same customer, its invitation never accepted: status invited, no VIP admin."""
    with in_app(app):
        db.session.execute(
            update(Customer).where(Customer.id == customer_id).values(status=CustomerStatus.INVITED)
        )
        db.session.execute(
            update(User)
            .where(
                User.id.in_(
                    select(VipAdminCustomer.user_id).where(
                        VipAdminCustomer.customer_id == customer_id
                    )
                )
            )
            .values(active=False)
        )
        db.session.commit()
    return customer_id


def test_r1_r10_r11_an_invited_customer_with_a_term_is_reminded_and_loses_access(
    app, runner, invited_id
):
    for offset in (-30, 0, 23):
        result = tick(runner, AD + timedelta(days=offset))
        assert result.exit_code == 0, result.output
        assert "reminder " in result.output
    # To the VIP admin the invitation was sent to, in the contact's language.
    with in_app(app):
        recipients = set(
            db.session.scalars(
                select(Notification.recipient).where(
                    Notification.customer_id == invited_id, Notification.kind.in_(REMINDERS)
                )
            )
        )
        assert recipients == {db.session.get(Customer, invited_id).admin_email}
    assert reminders_of(app, invited_id) == [(kind, "sent", None) for kind in REMINDERS]
    with in_app(app):
        assert db.session.get(Customer, invited_id).status == CustomerStatus.INVITED
    result = tick(runner, AD + timedelta(days=30))
    assert "access_removed: a Kund AB" in result.output and "invited -> inactive" in result.output
    with in_app(app):
        assert db.session.get(Customer, invited_id).status == CustomerStatus.INACTIVE


def remove_access(app, runner) -> None:
    result = tick(runner, AD + timedelta(days=30))
    assert result.exit_code == 0, result.output


def renew(app, customer_id: int, sales_id: int, on: date) -> None:
    with in_app(app):
        customer = db.session.get(Customer, customer_id)
        record_renewal(
            user=db.session.get(User, sales_id),
            customer_id=customer_id,
            today=on,
            vendor_order_number="LATE0001",
            order_date=on,
            quantities={line.product.id: line.suggested for line in renewal_lines_of(customer)},
        )


def accept(app, customer_id: int, on: date) -> None:
    with in_app(app):
        customer = db.session.get(Customer, customer_id)
        invitation = customer.invitations[0]
        db.session.execute(
            update(User).where(User.email == invitation.email).values(email="old@example.com")
        )
        db.session.commit()
        accept_invitation(
            token=token_for(invitation),
            password="a long enough password 2027",
            today=invitation.created_at.date(),
            now=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
        )


def status_of(app, customer_id: int) -> CustomerStatus:
    with in_app(app):
        return db.session.get(Customer, customer_id).status


def test_r1_r11_accepting_after_access_was_removed_does_not_restore_it(
    app, runner, invited_id, full_tenants
):
    remove_access(app, runner)
    accept(app, invited_id, AD + timedelta(days=31))
    assert status_of(app, invited_id) == CustomerStatus.INACTIVE
    # A renewal restores access; the invitation is accepted, so the customer is active.
    renew(app, invited_id, full_tenants["a"].tenant.sales.id, AD + timedelta(days=30))
    assert status_of(app, invited_id) == CustomerStatus.ACTIVE


def test_r1_r9_a_renewal_restores_an_unaccepted_customer_to_invited(
    app, runner, invited_id, full_tenants
):
    remove_access(app, runner)
    renew(app, invited_id, full_tenants["a"].tenant.sales.id, AD + timedelta(days=30))
    assert status_of(app, invited_id) == CustomerStatus.INVITED
    # Its invitation can still be resent, and accepting it makes it active.
    accept(app, invited_id, AD + timedelta(days=31))
    assert status_of(app, invited_id) == CustomerStatus.ACTIVE


def test_r1_r4_accepting_while_delayed_returns_to_active_when_the_delay_clears(
    app, runner, invited_id, full_tenants
):
    with in_app(app):
        db.session.execute(
            update(Customer)
            .where(Customer.id == invited_id)
            .values(status=CustomerStatus.DELAYED, status_before_delay=CustomerStatus.INVITED)
        )
        db.session.commit()
    accept(app, invited_id, TODAY)
    with in_app(app):
        customer = db.session.get(Customer, invited_id)
        assert (customer.status, customer.status_before_delay) == (
            CustomerStatus.DELAYED,
            CustomerStatus.ACTIVE,
        )
    tick(runner, TODAY + timedelta(days=1))  # nothing overdue: the delay clears
    assert status_of(app, invited_id) == CustomerStatus.ACTIVE
