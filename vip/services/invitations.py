"""The VIP invitation: a single-use link, valid 30 days, that makes the VIP admin.

The link is bound to the invited email (S56, S57): accepting it makes a new VIP admin
account with that email, or adds the customer to the VIP admin account that already has
it, once that person signs in with the account's password (S55). An email of a reseller
user's account never becomes a VIP admin, and no signed-in reseller user can accept.

One live invitation mail per customer (S30): a new link cancels the unsent mail of the
one it replaces, accepting cancels any other, and the outbox checks again before sending
(`vip.services.outbox.stale_reason`); one resend a minute per customer (S31)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select, update

from vip import clock
from vip.extensions import db
from vip.links import external_url
from vip.mail import render_mail
from vip.models import (
    Customer,
    CustomerStatus,
    Invitation,
    Notification,
    NotificationStatus,
    Role,
    User,
    VipAdminCustomer,
)
from vip.models.customers import (
    INVITATION_ACCEPTED,
    INVITATION_MAIL_PREFIX,
    INVITATION_SUPERSEDED,
    invitation_mail_key,
)
from vip.services import audit, change_count, events, outbox, two_factor
from vip.services.access import get_customer_for
from vip.services.accounts import authenticate, find_user_by_email, new_user
from vip.services.customer_status import invitation_accepted
from vip.services.errors import DomainError
from vip.services.two_factor import SecondFactorRefused

#: The least time between two resends of one customer's invitation (S31).
RESEND_INTERVAL = timedelta(minutes=1)


class InvitationUnusable(DomainError):
    pass


class InvitationRefused(DomainError):
    """The link is valid, but the person or account in front of it may not accept it."""


class ResendTooSoon(DomainError):
    def __init__(self):
        super().__init__(
            _l(
                "An invitation was sent to this customer less than a minute ago. Wait a "
                "minute before sending another; the latest link works."
            )
        )


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
    replaced = []
    for previous in customer.invitations:
        if previous.accepted_at is None and previous.revoked_at is None:
            previous.revoked_at = clock.now()
            replaced.append(previous.id)
    if replaced:
        cancel_invitation_mail(
            customer_id=customer.id, invitation_ids=replaced, reason=INVITATION_SUPERSEDED
        )
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
        cycle_key=invitation_mail_key(invitation.id),
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


def cancel_invitation_mail(
    *, customer_id: int, reason: str, invitation_ids: list[int] | None = None
) -> int:
    """Cancels the unsent (queued or failed) invitation mail of a customer, of the given
    invitations or of all, with `reason` (S30). The caller commits. Returns how many."""
    keys = (
        Notification.cycle_key.in_([invitation_mail_key(i) for i in invitation_ids])
        if invitation_ids is not None
        else Notification.cycle_key.startswith(INVITATION_MAIL_PREFIX)
    )
    change_count.note_customers([customer_id])
    return db.session.execute(
        update(Notification)
        .where(
            Notification.customer_id == customer_id,
            Notification.kind == "invitation",
            keys,
            Notification.status.in_([NotificationStatus.QUEUED, NotificationStatus.FAILED]),
        )
        .values(status=NotificationStatus.CANCELLED, cancel_reason=reason, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def current_invitation(customer: Customer) -> Invitation | None:
    return customer.invitations[0] if customer.invitations else None


def _claim_resend(customer_id: int, now: datetime) -> bool:
    """S31, single-shot: of resends of one customer within RESEND_INTERVAL, one claims it
    (a conditional UPDATE: PostgreSQL re-checks it once the row lock is free; SQLite's
    write transactions run one at a time)."""
    change_count.note_customers([customer_id])
    return (
        db.session.execute(
            update(Customer)
            .where(
                Customer.id == customer_id,
                or_(
                    Customer.invitation_resent_at.is_(None),
                    Customer.invitation_resent_at <= now - RESEND_INTERVAL,
                ),
            )
            .values(invitation_resent_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def resend_invitation(*, user: User, customer_id: int, today: date, now: datetime) -> Invitation:
    """A new link, the old one revoked and its unsent mail cancelled (S30); at most one
    resend a minute per customer (S31)."""
    customer = get_customer_for(user=user, customer_id=customer_id, action="customers.invite")
    if invitation_accepted(customer):
        raise DomainError(_l("The VIP admin has already accepted the invitation."))
    if not _claim_resend(customer.id, now):
        db.session.rollback()
        raise ResendTooSoon()
    # The claim waited for any acceptance that held the row: judge what it left.
    db.session.refresh(customer)
    db.session.expire(customer, ["invitations"])
    if invitation_accepted(customer):
        db.session.rollback()
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
    cancel_invitation_mail(customer_id=customer.id, reason=INVITATION_ACCEPTED)
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
