"""R1: accepting the single-use VIP invitation, resending it, and the acceptance page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, TODAY
from tests.support import administered_ids, count, english, user
from vip.extensions import db
from vip.models import AuditEvent, Customer, CustomerStatus, Invitation, Notification, Role, User
from vip.services.accounts import LoginRefused, authenticate
from vip.services.customers import create_customer
from vip.services.errors import DomainError, NotVisible, PermissionDenied
from vip.services.invitations import (
    InvitationUnusable,
    _serializer,
    accept_invitation,
    check_usable,
    find_by_token,
    resend_invitation,
    token_for,
)

NEW_PASSWORD = "glad lemon typewriter harbour"
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
EXPIRES_ON = TODAY + timedelta(days=30)


@pytest.fixture
def invited(tenants, ctx):
    """A fresh customer of tenant A, invited today; returns (customer, token)."""
    customer = create_customer(
        user=user(tenants.a.admin),
        today=TODAY,
        company_name="Nordljus Design AB",
        country="SE",
        market_segment="commercial",
        admin_name="Maja Berg",
        admin_email="maja@nordljus.example",
        admin_language="en",
    )
    return customer, token_for(customer.invitations[0])


def accept(token: str, password: str = NEW_PASSWORD, today=TODAY, now=NOW) -> User:
    return accept_invitation(token=token, password=password, today=today, now=now)


def reload(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


# --- accepting ------------------------------------------------------------------------


def test_r1_accept_creates_the_vip_admin_and_activates_the_customer(invited):
    customer, token = invited
    admin = accept(token)
    assert admin.email == "maja@nordljus.example"
    assert admin.name == "Maja Berg"
    assert admin.role == Role.VIP_ADMIN
    assert administered_ids(admin) == {customer.id}
    assert admin.reseller_id is None
    assert admin.language == "en"
    assert admin.active
    assert NEW_PASSWORD not in admin.password_hash

    customer = reload(customer)
    assert customer.status == CustomerStatus.ACTIVE
    invitation = customer.invitations[0]
    assert invitation.accepted_at == NOW
    signed_in = authenticate(email="Maja@Nordljus.example", password=NEW_PASSWORD, now=NOW)
    assert signed_in.id == admin.id
    with pytest.raises(LoginRefused):
        authenticate(email="maja@nordljus.example", password=PASSWORD, now=NOW)


def test_r1_accept_is_audited(invited):
    customer, token = invited
    admin = accept(token)
    accepted = list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.accepted"))
    )
    assert len(accepted) == 1
    event = accepted[0]
    assert event.customer_id == customer.id
    assert event.actor_id == admin.id
    assert event.object_type == "invitation"
    assert event.object_id == str(customer.invitations[0].id)
    assert event.details == {"status": "active", "existing_account": False}
    created = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.created")
    ).all()
    assert any(e.object_id == str(admin.id) for e in created)


def test_r1_same_token_twice_is_unusable(invited):
    customer, token = invited
    accept(token)
    users = count(User)
    with pytest.raises(InvitationUnusable) as raised:
        accept(token, password="another fine password here")
    assert "already been accepted" in english(raised.value)
    assert count(User) == users
    assert reload(customer).status == CustomerStatus.ACTIVE


def test_r1_token_after_expiry_is_unusable(invited):
    customer, token = invited
    assert customer.invitations[0].expires_on == EXPIRES_ON
    with pytest.raises(InvitationUnusable) as raised:
        accept(token, today=EXPIRES_ON + timedelta(days=1))
    assert "expired" in english(raised.value)
    assert reload(customer).status == CustomerStatus.INVITED
    assert db.session.scalar(select(User).where(User.email == "maja@nordljus.example")) is None


def test_r1_token_on_its_last_day_still_works(invited):
    customer, token = invited
    admin = accept(token, today=EXPIRES_ON)
    assert admin.role == Role.VIP_ADMIN
    assert reload(customer).status == CustomerStatus.ACTIVE


def _tamper(token: str, index: int) -> str:
    original = token[index]
    replacement = "B" if original != "B" else "C"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("where", ["first", "payload", "signature"])
def test_r1_tampered_token_is_unusable(invited, where):
    customer, token = invited
    payload, _, signature = token.partition(".")
    index = {
        "first": 0,
        "payload": len(payload) // 2,
        "signature": len(payload) + 1 + len(signature) // 2,
    }[where]
    tampered = _tamper(token, index)
    assert tampered != token and len(tampered) == len(token)
    assert find_by_token(tampered) is None
    with pytest.raises(InvitationUnusable):
        accept(tampered)
    assert reload(customer).status == CustomerStatus.INVITED
    # The genuine link still works afterwards.
    assert administered_ids(accept(token)) == {customer.id}


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "x" * 300])
def test_r1_garbage_token_is_unusable(invited, token):
    with pytest.raises(InvitationUnusable):
        accept(token)


def test_r1_token_signed_for_something_else_is_unusable(invited, app):
    customer, _ = invited
    nonce = customer.invitations[0].nonce
    from itsdangerous import URLSafeSerializer

    other_key = URLSafeSerializer("another-secret", salt="vip-invitation").dumps(nonce)
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="other").dumps(nonce)
    not_a_string = _serializer().dumps(customer.invitations[0].id)
    for token in (other_key, other_salt, not_a_string):
        with pytest.raises(InvitationUnusable):
            accept(token)
    assert reload(customer).status == CustomerStatus.INVITED


# --- resending ------------------------------------------------------------------------


def test_r1_resend_revokes_the_old_link_and_the_new_one_works(invited, tenants):
    customer, old_token = invited
    sales = user(tenants.a.sales)
    later = TODAY + timedelta(days=10)
    invitation = resend_invitation(user=sales, customer_id=customer.id, today=later, now=NOW)
    new_token = token_for(invitation)
    assert new_token != old_token
    assert invitation.expires_on == later + timedelta(days=30)

    customer = reload(customer)
    assert len(customer.invitations) == 2
    assert customer.invitations[0].id == invitation.id  # newest first
    assert customer.invitations[1].revoked_at is not None
    mails = db.session.scalars(
        select(Notification).where(Notification.customer_id == customer.id)
    ).all()
    assert len(mails) == 2
    sent = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "invitation.sent", AuditEvent.customer_id == customer.id
        )
    ).all()
    assert [e.actor_id for e in sent].count(sales.id) == 1

    with pytest.raises(InvitationUnusable) as raised:
        accept(old_token, today=later)
    assert "newer invitation" in english(raised.value)
    admin = accept(new_token, today=later)
    assert administered_ids(admin) == {customer.id}
    assert reload(customer).status == CustomerStatus.ACTIVE


def test_r1_resend_after_acceptance_is_refused(invited, tenants):
    customer, token = invited
    accept(token)
    invitations = count(Invitation)
    with pytest.raises(DomainError):
        resend_invitation(user=user(tenants.a.admin), customer_id=customer.id, today=TODAY, now=NOW)
    db.session.rollback()
    assert count(Invitation) == invitations


def test_r1_resend_is_scoped_to_the_tenant_and_role(invited, tenants):
    customer, _ = invited
    invitations = count(Invitation)
    with pytest.raises(NotVisible):
        resend_invitation(user=user(tenants.b.admin), customer_id=customer.id, today=TODAY, now=NOW)
    with pytest.raises(PermissionDenied):
        resend_invitation(
            user=user(tenants.a.vip_admin), customer_id=customer.id, today=TODAY, now=NOW
        )
    db.session.rollback()
    assert count(Invitation) == invitations


# --- a refused password writes nothing ----------------------------------------------------


@pytest.mark.parametrize("password", ["password1234", "short", "x" * 129])
def test_r1_weak_password_is_refused_and_writes_nothing(invited, password):
    customer, token = invited
    users, events = count(User), count(AuditEvent)
    with pytest.raises(DomainError) as raised:
        accept(token, password=password)
    assert not isinstance(raised.value, InvitationUnusable)
    assert raised.value.field == "password"
    assert count(User) == users
    assert count(AuditEvent) == events
    customer = reload(customer)
    assert customer.status == CustomerStatus.INVITED
    invitation = customer.invitations[0]
    assert invitation.accepted_at is None
    assert check_usable(find_by_token(token), today=TODAY) is invitation
    # The same link then works with a strong password.
    assert accept(token).role == Role.VIP_ADMIN


# --- the acceptance page -------------------------------------------------------------------


EN = {"Accept-Language": "en"}


def test_r1_page_for_a_bad_token_answers_410_with_a_message(client, invited):
    response = client.get("/invitations/not-a-real-token", headers=EN)
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This invitation link is not valid." in html
    assert 'href="/login"' in html


def test_r1_page_for_an_expired_token_answers_410(client, app, tenants):
    with app.test_request_context():
        customer = create_customer(
            user=user(tenants.a.admin),
            today=TODAY - timedelta(days=31),
            company_name="Gammal Kund AB",
            country="SE",
            market_segment="commercial",
            admin_name="Old Admin",
            admin_email="old@kund.example",
            admin_language="en",
        )
        token = token_for(customer.invitations[0])
        db.session.remove()
    for method in (client.get, client.post):
        response = method(
            f"/invitations/{token}",
            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            headers=EN,
        )
        assert response.status_code == 410
        assert "This invitation has expired." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "old@kund.example")) is None


def test_r1_page_shows_the_form_for_a_valid_token(client, invited):
    _, token = invited
    response = client.get(f"/invitations/{token}", headers=EN)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "maja@nordljus.example" in html
    assert 'name="password"' in html and 'name="confirm"' in html


def test_r1_page_mismatched_confirm_shows_an_error(client, app, invited):
    customer, token = invited
    db.session.remove()
    response = client.post(
        f"/invitations/{token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
        headers=EN,
    )
    assert response.status_code == 422
    assert "The passwords differ." in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == customer.admin_email)) is None
    assert reload(customer).status == CustomerStatus.INVITED


def test_r1_page_weak_password_shows_an_error(client, invited):
    customer, token = invited
    db.session.remove()
    response = client.post(
        f"/invitations/{token}",
        data={"password": "password1234", "confirm": "password1234"},
        headers=EN,
    )
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)
    assert reload(customer).status == CustomerStatus.INVITED


def test_r1_page_success_redirects_to_login_and_the_link_is_then_spent(client, invited):
    customer, token = invited
    db.session.remove()
    response = client.post(
        f"/invitations/{token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers=EN,
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login")
    assert reload(customer).status == CustomerStatus.ACTIVE
    again = client.get(f"/invitations/{token}", headers=EN)
    assert again.status_code == 410
    assert "already been accepted" in again.get_data(as_text=True)
    signed_in = client.post(
        "/login", data={"email": "maja@nordljus.example", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 303


# --- S30, S31: one live invitation mail, one resend a minute (issue 15, row 7) -----------


def invitation_mails(customer_id: int) -> list[tuple[str, str | None]]:
    """(status, cancel reason) of a customer's invitation mails, oldest first."""
    db.session.expire_all()
    return [
        (n.status.value, n.cancel_reason)
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.customer_id == customer_id, Notification.kind == "invitation")
            .order_by(Notification.id)
        )
    ]


def deliver(now=NOW, today=TODAY):
    from vip.services.outbox import deliver_queued

    return deliver_queued(now=now, today_by_reseller=dict.fromkeys(range(1, 10), today))


def test_s30_row7_a_resend_cancels_the_replaced_links_unsent_mail(invited, tenants):
    customer, _ = invited
    resend_invitation(user=user(tenants.a.sales), customer_id=customer.id, today=TODAY, now=NOW)
    assert invitation_mails(customer.id) == [
        ("cancelled", "invitation_superseded"),
        ("queued", None),
    ]
    deliver()
    assert invitation_mails(customer.id) == [
        ("cancelled", "invitation_superseded"),
        ("sent", None),
    ]


def test_s30_row7_accepting_cancels_the_unsent_invitation_mail(invited):
    customer, token = invited
    accept(token)
    assert invitation_mails(customer.id) == [("cancelled", "invitation_accepted")]
    deliver()
    assert invitation_mails(customer.id) == [("cancelled", "invitation_accepted")]


@pytest.mark.parametrize(
    ("make_stale", "reason"),
    [
        ("accept", "invitation_accepted"),
        ("revoke", "invitation_superseded"),
        ("expire", "invitation_expired"),
    ],
)
def test_s30_row7_delivery_checks_the_link_again(invited, make_stale, reason):
    """A mail queued in a race (a resend that read the invitation before an acceptance
    committed) is still never sent: delivery cancels it, with the reason the Outbox shows."""
    customer, token = invited
    today = TODAY
    if make_stale == "accept":
        accept(token)
        # As if the acceptance had not seen the mail: queued again.
        db.session.execute(
            db.update(Notification)
            .where(Notification.customer_id == customer.id)
            .values(status="queued", cancel_reason=None)
        )
        db.session.commit()
    elif make_stale == "revoke":
        reload(customer).invitations[0].revoked_at = NOW
        db.session.commit()
    else:
        today = EXPIRES_ON + timedelta(days=1)
    assert invitation_mails(customer.id) == [("queued", None)]
    report = deliver(today=today)
    assert invitation_mails(customer.id) == [("cancelled", reason)]
    assert ("cancel", "invitation", reason) in {
        (step.action, step.kind, step.outcome) for step in report.steps
    }


def test_s31_row7_one_resend_a_minute_per_customer(invited, tenants):
    from vip.services.invitations import ResendTooSoon

    customer, _ = invited
    sales = user(tenants.a.sales)
    resend_invitation(user=sales, customer_id=customer.id, today=TODAY, now=NOW)
    before = (count(Invitation), count(Notification), count(AuditEvent))
    with pytest.raises(ResendTooSoon) as raised:
        resend_invitation(
            user=user(tenants.a.admin),
            customer_id=customer.id,
            today=TODAY,
            now=NOW + timedelta(seconds=59),
        )
    assert english(raised.value).startswith(
        "An invitation was sent to this customer less than a minute ago."
    )
    assert (count(Invitation), count(Notification), count(AuditEvent)) == before
    resend_invitation(
        user=sales, customer_id=customer.id, today=TODAY, now=NOW + timedelta(minutes=1)
    )
    assert count(Invitation) == before[0] + 1
    # Another customer is not held up.
    other = create_customer(
        user=user(tenants.a.admin),
        today=TODAY,
        company_name="Sydljus AB",
        country="SE",
        market_segment="commercial",
        admin_name="Sara Syd",
        admin_email="sara@sydljus.example",
        admin_language="sv",
    )
    resend_invitation(
        user=sales, customer_id=other.id, today=TODAY, now=NOW + timedelta(minutes=1, seconds=1)
    )


def test_s30_s31_row7_twenty_concurrent_resends_deliver_one_mail(app, invited, tenants):
    """20 resends at once (the hostile test delivered 20 mails, 19 with dead links): one
    goes through, 19 are refused, and one invitation mail is delivered. On SQLite and,
    with --db=postgres, on PostgreSQL."""
    import threading

    from vip.services.invitations import ResendTooSoon

    customer, _ = invited
    customer_id, sales_id = customer.id, tenants.a.sales.id
    db.session.remove()
    barrier = threading.Barrier(20, timeout=60)
    outcomes: list[str] = []

    def resend() -> None:
        with app.app_context():
            barrier.wait()  # before any query: a transaction here may hold SQLite's lock
            try:
                sales = db.session.get(User, sales_id)
                resend_invitation(user=sales, customer_id=customer_id, today=TODAY, now=NOW)
                outcomes.append("sent")
            except ResendTooSoon:
                outcomes.append("too soon")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=resend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["sent"] + ["too soon"] * 19
    assert count(Invitation, Invitation.customer_id == customer_id) == 2
    deliver()
    assert sorted(invitation_mails(customer_id)) == [
        ("cancelled", "invitation_superseded"),
        ("sent", None),
    ]
