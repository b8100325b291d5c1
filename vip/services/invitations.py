"""The VIP invitation: a single-use link, valid 30 days, that makes the VIP admin.

The link is bound to the invited email (S56, S57): accepting it makes a new VIP admin
account with that email, or adds the customer to the VIP admin account that already has
it, once that person signs in with the account's password (S55). An email of a reseller
user's account never becomes a VIP admin, and no signed-in reseller user can accept."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from vip import clock
from vip.extensions import db
from vip.links import external_url
from vip.mail import render_mail
from vip.models import (
    Customer,
    CustomerStatus,
    Invitation,
    Role,
    User,
    VipAdminCustomer,
)
from vip.services import audit, events, outbox, two_factor
from vip.services.access import get_customer_for
from vip.services.accounts import authenticate, find_user_by_email, new_user
from vip.services.customer_status import invitation_accepted
from vip.services.errors import DomainError
from vip.services.two_factor import SecondFactorRefused


class InvitationUnusable(DomainError):
    pass


class InvitationRefused(DomainError):
    """The link is valid, but the person or account in front of it may not accept it."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="vip-invitation")


def token_for(invitation: Invitation) -> str:
    return _serializer().dumps(invitation.nonce)


def link_for(invitation: Invitation) -> str:
    return external_url("invitations.accept", token=token_for(invitation))


def issue_invitation(*, customer: Customer, actor: User | None, today: date) -> Invitation:
    """Revokes any open link, makes a new one and queues its mail. The caller commits."""
    invitation = new_invitation(customer=customer, today=today)
    db.session.flush()
    queue_invitation_mail(invitation=invitation, actor=actor)
    return invitation


def new_invitation(*, customer: Customer, today: date) -> Invitation:
    """The first half of `issue_invitation`, for many customers at once (an import): the
    new link, any open one revoked. Its mail is queued once it is flushed."""
    for previous in customer.invitations:
        if previous.accepted_at is None and previous.revoked_at is None:
            previous.revoked_at = clock.now()
    invitation = Invitation(
        customer=customer,
        email=customer.admin_email,
        nonce=secrets.token_urlsafe(24),
        expires_on=today + timedelta(days=current_app.config["VIP_INVITATION_VALID_DAYS"]),
    )
    db.session.add(invitation)
    return invitation


def queue_invitation_mail(*, invitation: Invitation, actor: User | None) -> None:
    """The invitation mail in the outbox, and its audit event."""
    customer = invitation.customer
    mail = render_mail(
        "invitation",
        language=customer.admin_language,
        customer=customer,
        reseller=customer.reseller,
        link=link_for(invitation),
        expires_on=invitation.expires_on,
    )
    outbox.queue(
        kind="invitation",
        cycle_key=f"invitation:{invitation.id}",
        recipient=customer.admin_email,
        language=customer.admin_language,
        mail=mail,
        customer=customer,
    )
    audit.record(
        actor=actor,
        action="invitation.sent",
        customer=customer,
        object_type="invitation",
        object_id=invitation.id,
        details={"email": customer.admin_email, "expires_on": invitation.expires_on.isoformat()},
    )


def current_invitation(customer: Customer) -> Invitation | None:
    return customer.invitations[0] if customer.invitations else None


def resend_invitation(*, user: User, customer_id: int, today: date) -> Invitation:
    customer = get_customer_for(user=user, customer_id=customer_id, action="customers.invite")
    if invitation_accepted(customer):
        raise DomainError(_l("The VIP admin has already accepted the invitation."))
    invitation = issue_invitation(customer=customer, actor=user, today=today)
    db.session.commit()
    return invitation


def find_by_token(token: str) -> Invitation | None:
    try:
        nonce = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(nonce, str):
        return None
    return db.session.scalar(select(Invitation).where(Invitation.nonce == nonce))


def check_usable(invitation: Invitation | None, *, today: date) -> Invitation:
    if invitation is None:
        raise InvitationUnusable(_l("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise InvitationUnusable(
            _l("This invitation has already been accepted. Sign in with your email and password.")
        )
    if invitation.revoked_at is not None:
        raise InvitationUnusable(
            _l("A newer invitation was sent for this account. Use the link in the latest mail.")
        )
    if today > invitation.expires_on:
        raise InvitationUnusable(
            _l("This invitation has expired. Ask your reseller to send a new one.")
        )
    return invitation


def _refuse(*, invitation: Invitation, reason: str, actor: User | None, message) -> None:
    """Audits a refused acceptance on the customer (the reason, never another tenant's
    data) and raises InvitationRefused with the message for the person in front of it."""
    audit.record(
        actor=actor,
        actor_label=None if actor is not None else invitation.email,
        action="invitation.refused",
        customer=invitation.customer,
        object_type="invitation",
        object_id=invitation.id,
        details={"reason": reason},
    )
    db.session.commit()
    raise InvitationRefused(message)


def account_for(*, invitation: Invitation, signed_in: User | None) -> User | None:
    """Who may accept: None when the invited email has no account (the person chooses a
    password), or the VIP admin account that has it (the person signs in with its
    password). Refuses, audited, a signed-in reseller user (S57), anyone signed in as
    another account than the invited email (S56), and an email of a reseller user (S58)."""
    if signed_in is not None and signed_in.role != Role.VIP_ADMIN:
        _refuse(
            invitation=invitation,
            reason="reseller_user_signed_in",
            actor=signed_in,
            message=_l(
                "You are signed in as a reseller user, who cannot become a customer's VIP "
                "admin. Forward the invitation mail to the customer's VIP admin instead."
            ),
        )
    if signed_in is not None and signed_in.email.lower() != invitation.email.lower():
        _refuse(
            invitation=invitation,
            reason="other_account_signed_in",
            actor=signed_in,
            message=_l(
                "This invitation is for %(email)s, but you are signed in with another "
                "account. Sign out, then open the link again.",
                email=invitation.email,
            ),
        )
    account = find_user_by_email(invitation.email)
    if account is not None and account.role != Role.VIP_ADMIN:
        _refuse(
            invitation=invitation,
            reason="email_of_reseller_user",
            actor=None,
            message=_l(
                "%(email)s is the email of a reseller user's account, which cannot be a "
                "customer's VIP admin. Ask %(reseller)s to invite another email address.",
                email=invitation.email,
                reseller=invitation.customer.reseller.name,
            ),
        )
    return account


def _claim(invitation: Invitation, now) -> None:
    """Single-shot (S23): only one request can claim the link."""
    claimed = db.session.execute(
        db.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationUnusable(_l("This invitation has already been accepted."))


def _accepted(*, invitation: Invitation, admin: User, existing_account: bool) -> None:
    """The customer's status once its VIP admin is in place, the audit event, the commit.

    Accepting gives the customer the status with access it would have had; it never
    restores access removed after a missed anniversary: a renewal does that."""
    customer = invitation.customer
    if customer.status == CustomerStatus.INVITED:
        customer.status = CustomerStatus.ACTIVE
        events.customer_status_changed(
            customer,
            previous=CustomerStatus.INVITED,
            status=CustomerStatus.ACTIVE,
            reason=events.INVITATION_ACCEPTED,
        )
    elif customer.status_before_delay == CustomerStatus.INVITED:
        customer.status_before_delay = CustomerStatus.ACTIVE
    audit.record(
        actor=admin,
        action="invitation.accepted",
        customer=customer,
        object_type="invitation",
        object_id=invitation.id,
        details={"status": customer.status.value, "existing_account": existing_account},
    )
    db.session.commit()


def accept_invitation(
    *, token: str, password: str, today: date, now, signed_in: User | None = None
) -> User:
    """Accepts with a new VIP admin account: the invited email and a password chosen now."""
    invitation = check_usable(find_by_token(token), today=today)
    if account_for(invitation=invitation, signed_in=signed_in) is not None:
        raise DomainError(
            _l(
                "%(email)s has an account already: sign in with its password.",
                email=invitation.email,
            ),
            field="password",
        )
    _claim(invitation, now)
    try:
        admin = new_user(
            email=invitation.email,
            name=invitation.customer.admin_name,
            password=password,
            role=Role.VIP_ADMIN,
            language=invitation.customer.admin_language,
            customer=invitation.customer,
            actor=None,
        )
    except DomainError:
        db.session.rollback()
        raise
    _accepted(invitation=invitation, admin=admin, existing_account=False)
    return admin


def accept_with_account(
    *,
    token: str,
    password: str,
    today: date,
    now,
    code: str = "",
    signed_in: User | None = None,
) -> User:
    """Accepts with the VIP admin account the invited email already has (S55): once the
    person signs in with its password and, when the account has one, its second factor
    (a code or a recovery code: `two_factor.sign_in_with_code`, with the lock-out, the
    replay check and the audit of a sign-in: S3, S40), the customer is added to the
    account, which then administers it beside its other customers."""
    invitation = check_usable(find_by_token(token), today=today)
    account = account_for(invitation=invitation, signed_in=signed_in)
    if account is None:
        raise DomainError(_l("Choose a password for your new account."), field="password")
    invitation_id, account_id = invitation.id, account.id
    try:
        admin = authenticate(email=invitation.email, password=password, now=now)
        if admin.two_factor_enabled:
            if not code.strip():
                raise SecondFactorRefused(
                    _l("Enter the code your authenticator app shows now, or a recovery code."),
                    field="code",
                )
            admin = two_factor.sign_in_with_code(
                user_id=admin.id, session_version=admin.session_version, code=code, now=now
            )
    except DomainError as refused:
        db.session.rollback()
        invitation = db.session.get(Invitation, invitation_id)
        audit.record(
            actor=db.session.get(User, account_id),
            action="invitation.refused",
            customer=invitation.customer,
            object_type="invitation",
            object_id=invitation.id,
            details={
                "reason": "second_factor_refused"
                if isinstance(refused, SecondFactorRefused)
                else "sign_in_refused"
            },
        )
        db.session.commit()
        raise
    invitation = check_usable(db.session.get(Invitation, invitation_id), today=today)
    _claim(invitation, now)
    already = db.session.get(VipAdminCustomer, (admin.id, invitation.customer_id))
    if already is None:
        db.session.add(VipAdminCustomer(user_id=admin.id, customer_id=invitation.customer_id))
    _accepted(invitation=invitation, admin=admin, existing_account=True)
    return admin
