"""A VIP admin of several customers (S55-S59): accepting a second invitation with the
existing account (row 1 of the security review: it answered 500), the link bound to the
invited email, no reseller user as a VIP admin (row 11), and tenancy through the link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import CONSULTANT, PASSWORD, TODAY
from tests.support import administered_ids, count, english, enrol_two_factor, totp_code, user
from vip.extensions import db
from vip.models import AuditEvent, Customer, CustomerStatus, Role, User
from vip.services import access, licenses
from vip.services.accounts import LoginRefused, team_of
from vip.services.customers import create_customer, list_customers
from vip.services.errors import DomainError, NotVisible
from vip.services.invitations import (
    InvitationRefused,
    accept_invitation,
    accept_with_account,
    account_for,
    find_by_token,
    token_for,
)
from vip.services.two_factor import SecondFactorRefused

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NEW_PASSWORD = "glad lemon typewriter harbour"


def customer(customer_id: int) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


def refusals(customer_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "invitation.refused", AuditEvent.customer_id == customer_id)
            .order_by(AuditEvent.id)
        )
    )


def invite(tenant, email: str, name: str = "Gamma AB") -> tuple[Customer, str]:
    invited = create_customer(
        user=user(tenant.admin),
        today=TODAY,
        company_name=name,
        country="SE",
        market_segment="commercial",
        admin_name="Gun Gamma",
        admin_email=email,
        admin_language="sv",
    )
    return invited, token_for(invited.invitations[0])


def assert_still_invited(customer_id: int, token: str) -> None:
    """Nothing was accepted: the customer waits, its link still works."""
    assert customer(customer_id).status == CustomerStatus.INVITED
    invitation = find_by_token(token)
    assert invitation.accepted_at is None and invitation.is_usable(TODAY)


# --- S55: the existing account signs in and gets the customer ------------------------------


def test_s55_row1_second_invitation_joins_the_existing_account(second_invitation, ctx):
    shared = second_invitation
    users = count(User)
    assert_still_invited(shared.beta_id, shared.beta_token)
    assert account_for(invitation=find_by_token(shared.beta_token), signed_in=None).id == (
        shared.user_id
    )
    admin = accept_with_account(token=shared.beta_token, password=PASSWORD, today=TODAY, now=NOW)
    assert admin.id == shared.user_id and count(User) == users  # no second account
    assert administered_ids(admin) == {shared.alfa_id, shared.beta_id}
    assert customer(shared.beta_id).status == CustomerStatus.ACTIVE
    (accepted,) = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "invitation.accepted", AuditEvent.customer_id == shared.beta_id
        )
    )
    assert accepted.actor_id == admin.id
    assert accepted.details == {"status": "active", "existing_account": True}
    # The event belongs to Beta Oy's reseller, never to the reseller of the first customer.
    assert accepted.reseller_id == customer(shared.beta_id).reseller_id


def test_s55_row1_choosing_a_new_password_for_an_existing_account_changes_nothing(
    second_invitation, ctx
):
    shared = second_invitation
    before = (count(User), count(AuditEvent))
    with pytest.raises(DomainError) as raised:
        accept_invitation(token=shared.beta_token, password=NEW_PASSWORD, today=TODAY, now=NOW)
    assert raised.value.field == "password"
    assert "sign in with its password" in english(raised.value)
    db.session.rollback()
    assert (count(User), count(AuditEvent)) == before
    assert administered_ids(shared.user_id) == {shared.alfa_id}
    assert_still_invited(shared.beta_id, shared.beta_token)


def test_s55_wrong_password_is_refused_counted_and_audited(second_invitation, ctx, app):
    shared = second_invitation
    with pytest.raises(LoginRefused):
        accept_with_account(token=shared.beta_token, password="wrong " * 3, today=TODAY, now=NOW)
    assert user(shared.user_id).failed_logins == 1  # counts toward the lock-out (S3)
    (refused,) = refusals(shared.beta_id)
    assert refused.details == {"reason": "sign_in_refused"}
    assert refused.actor_id == shared.user_id
    assert administered_ids(shared.user_id) == {shared.alfa_id}
    assert_still_invited(shared.beta_id, shared.beta_token)
    # Locked out after the threshold: then even the right password is refused.
    for _ in range(app.config["VIP_LOCKOUT_THRESHOLD"] - 1):
        with pytest.raises(LoginRefused):
            accept_with_account(token=shared.beta_token, password="wrong", today=TODAY, now=NOW)
    with pytest.raises(LoginRefused):
        accept_with_account(token=shared.beta_token, password=PASSWORD, today=TODAY, now=NOW)
    assert_still_invited(shared.beta_id, shared.beta_token)
    later = NOW + timedelta(minutes=app.config["VIP_LOCKOUT_MINUTES"] + 1)
    accept_with_account(token=shared.beta_token, password=PASSWORD, today=TODAY, now=later)
    assert administered_ids(shared.user_id) == {shared.alfa_id, shared.beta_id}


def test_s55_an_account_with_a_second_factor_needs_its_code_too(second_invitation, ctx):
    shared = second_invitation
    enrolled_at = NOW - timedelta(minutes=5)
    secret, recovery = enrol_two_factor(shared.user_id, now=enrolled_at)
    accept = accept_with_account  # the password alone is not enough, nor a wrong code
    with pytest.raises(SecondFactorRefused) as raised:
        accept(token=shared.beta_token, password=PASSWORD, today=TODAY, now=NOW)
    assert raised.value.field == "code"
    with pytest.raises(SecondFactorRefused):
        accept(token=shared.beta_token, password=PASSWORD, code="000000", today=TODAY, now=NOW)
    assert user(shared.user_id).failed_logins == 1  # the wrong code counts (S3)
    # The code of the enrolment's step was spent: it is refused again (no replay).
    with pytest.raises(SecondFactorRefused):
        accept(
            token=shared.beta_token,
            password=PASSWORD,
            code=totp_code(secret, enrolled_at),
            today=TODAY,
            now=enrolled_at,
        )
    assert [e.details["reason"] for e in refusals(shared.beta_id)] == ["second_factor_refused"] * 3
    assert_still_invited(shared.beta_id, shared.beta_token)
    admin = accept(
        token=shared.beta_token,
        password=PASSWORD,
        code=totp_code(secret, NOW),
        today=TODAY,
        now=NOW,
    )
    assert administered_ids(admin) == {shared.alfa_id, shared.beta_id}
    assert user(shared.user_id).failed_logins == 0
    signed_in = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "login.succeeded", AuditEvent.actor_id == shared.user_id
        )
    ).all()
    assert signed_in[-1].details == {"second_factor": "totp"}
    assert len(recovery) == 10


def test_s55_a_recovery_code_works_once_in_place_of_the_code(tenants, ctx):
    built_a, token_a = invite(tenants.a, "twofa@gamma.example", "Delta AB")
    admin = accept_invitation(token=token_a, password=NEW_PASSWORD, today=TODAY, now=NOW)
    _, recovery = enrol_two_factor(admin.id, now=NOW)
    second, token_b = invite(tenants.b, "twofa@gamma.example", "Epsilon Oy")
    third, token_c = invite(tenants.b, "twofa@gamma.example", "Zeta Oy")
    accept_with_account(
        token=token_b, password=NEW_PASSWORD, code=recovery[0], today=TODAY, now=NOW
    )
    with pytest.raises(SecondFactorRefused):
        accept_with_account(
            token=token_c, password=NEW_PASSWORD, code=recovery[0], today=TODAY, now=NOW
        )
    assert administered_ids(admin) == {built_a.id, second.id}
    assert_still_invited(third.id, token_c)


def test_s55_an_inactive_account_cannot_accept(second_invitation, ctx):
    shared = second_invitation
    user(shared.user_id).active = False
    db.session.commit()
    with pytest.raises(LoginRefused):
        accept_with_account(token=shared.beta_token, password=PASSWORD, today=TODAY, now=NOW)
    assert_still_invited(shared.beta_id, shared.beta_token)


def test_s55_the_link_of_a_new_email_still_asks_for_a_new_password(tenants, ctx):
    invited, token = invite(tenants.a, "new.person@gamma.example")
    assert account_for(invitation=find_by_token(token), signed_in=None) is None
    with pytest.raises(DomainError) as raised:
        accept_with_account(token=token, password=PASSWORD, today=TODAY, now=NOW)
    assert raised.value.field == "password"
    assert_still_invited(invited.id, token)


def test_s55_console_is_scoped_to_each_administered_customer(shared_admin, tenants, ctx):
    shared = shared_admin
    admin = user(shared.user_id)
    assert [c.company_name for c in access.administered_customers(admin)] == [
        "Alfa AB",
        "Beta Oy",
    ]
    for customer_id in (shared.alfa_id, shared.beta_id):
        assert licenses.console_customer(user=admin, customer_id=customer_id).id == customer_id
    for other in (tenants.a.customer.id, tenants.b.customer.id, 999_999):
        with pytest.raises(NotVisible):
            licenses.console_customer(user=admin, customer_id=other)


# --- S56: the link is bound to the invited email --------------------------------------------


def test_s56_row11_signed_in_as_another_account_is_refused(second_invitation, tenants, ctx):
    shared = second_invitation
    other_vip = user(tenants.b.vip_admin)
    for accept in (accept_invitation, accept_with_account):
        with pytest.raises(InvitationRefused) as raised:
            accept(
                token=shared.beta_token,
                password=PASSWORD,
                today=TODAY,
                now=NOW,
                signed_in=other_vip,
            )
        assert CONSULTANT in english(raised.value)
    assert [e.details["reason"] for e in refusals(shared.beta_id)] == [
        "other_account_signed_in",
        "other_account_signed_in",
    ]
    assert refusals(shared.beta_id)[0].actor_id == other_vip.id
    assert administered_ids(other_vip) == {tenants.b.customer.id}
    assert_still_invited(shared.beta_id, shared.beta_token)


def test_s56_signed_in_as_the_invited_account_adds_the_customer(second_invitation, ctx):
    shared = second_invitation
    admin = accept_with_account(
        token=shared.beta_token,
        password=PASSWORD,
        today=TODAY,
        now=NOW,
        signed_in=user(shared.user_id),
    )
    assert administered_ids(admin) == {shared.alfa_id, shared.beta_id}


def test_s56_the_account_is_made_with_the_invited_email_only(tenants, ctx):
    invited, token = invite(tenants.a, "Only.This@Gamma.example")
    admin = accept_invitation(token=token, password=NEW_PASSWORD, today=TODAY, now=NOW)
    assert admin.email == "Only.This@Gamma.example" and admin.role == Role.VIP_ADMIN
    assert admin.reseller_id is None  # a VIP admin is nobody's team member (S59)


# --- S57: no signed-in reseller user accepts -------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_s57_row11_a_signed_in_reseller_user_is_refused(tenants, ctx, role):
    invited, token = invite(tenants.a, "victim@gamma.example")
    reseller_user = user(getattr(tenants.a, role))
    users = count(User)
    for accept in (accept_invitation, accept_with_account):
        with pytest.raises(InvitationRefused) as raised:
            accept(
                token=token, password=NEW_PASSWORD, today=TODAY, now=NOW, signed_in=reseller_user
            )
        assert "reseller user" in english(raised.value)
    assert count(User) == users
    events = refusals(invited.id)
    assert [e.details for e in events] == [{"reason": "reseller_user_signed_in"}] * 2
    assert {e.actor_id for e in events} == {reseller_user.id}
    assert_still_invited(invited.id, token)


# --- S58: a reseller user's email is never a VIP admin ---------------------------------------


@pytest.mark.parametrize("whose", ["a.sales", "b.admin"])  # own reseller's, another's
def test_s58_row1_email_of_a_reseller_user_can_never_accept(tenants, ctx, whose):
    prefix, role = whose.split(".")
    account = user(getattr(getattr(tenants, prefix), role))
    invited, token = invite(tenants.a, account.email.upper())
    before = (count(User), account.password_hash, account.failed_logins)
    for accept, password in ((accept_invitation, NEW_PASSWORD), (accept_with_account, PASSWORD)):
        with pytest.raises(InvitationRefused) as raised:
            accept(token=token, password=password, today=TODAY, now=NOW)
        message = english(raised.value)
        assert "reseller user" in message and "Reseller A AB" in message
        assert "Reseller B AB" not in message  # never the other tenant's name
    account = user(account)
    assert (count(User), account.password_hash, account.failed_logins) == before
    assert account.role != Role.VIP_ADMIN and administered_ids(account) == set()
    assert [e.details for e in refusals(invited.id)] == [{"reason": "email_of_reseller_user"}] * 2
    assert_still_invited(invited.id, token)


# --- S59: tenancy through the link ------------------------------------------------------------


def test_s59_reseller_users_never_see_another_resellers_customer_through_the_admin(
    shared_admin, tenants, ctx
):
    shared = shared_admin
    for role in ("admin", "sales"):
        reseller_user = user(getattr(tenants.a, role))
        found = list_customers(user=reseller_user, search=CONSULTANT, page_size=100)
        assert [c.id for c in found.items] == [shared.alfa_id]
        with pytest.raises(NotVisible):
            access.get_customer_for(user=reseller_user, customer_id=shared.beta_id)
    b_found = list_customers(user=user(tenants.b.admin), search=CONSULTANT, page_size=100)
    assert [c.id for c in b_found.items] == [shared.beta_id]
    # The shared VIP admin is on no reseller's team.
    for tenant in (tenants.a, tenants.b):
        assert shared.user_id not in {member.id for member in team_of(actor=user(tenant.admin))}
    assert user(shared.user_id).tenant_reseller_id is None


def test_s59_each_acceptance_is_audited_on_its_own_customer_and_reseller(shared_admin, ctx):
    shared = shared_admin
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "invitation.accepted", AuditEvent.actor_id == shared.user_id)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.customer_id, e.reseller_id) for e in events] == [
        (shared.alfa_id, customer(shared.alfa_id).reseller_id),
        (shared.beta_id, customer(shared.beta_id).reseller_id),
    ]
    for customer_id in (shared.alfa_id, shared.beta_id):
        (invitation,) = customer(customer_id).invitations
        assert invitation.accepted_at is not None
