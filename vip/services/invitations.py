"""The VIP invitation: a single-use link, valid 30 days, that makes the VIP admin."""

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
)
from vip.services import audit, events, outbox
from vip.services.access import get_customer_for
from vip.services.accounts import new_user
from vip.services.customer_status import invitation_accepted
from vip.services.errors import DomainError


class InvitationUnusable(DomainError):
    pass


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


def accept_invitation(*, token: str, password: str, today: date, now) -> User:
    invitation = check_usable(find_by_token(token), today=today)
    customer = invitation.customer
    # Single-shot (S23): only one request can claim the link.
    claimed = db.session.execute(
        db.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationUnusable(_l("This invitation has already been accepted."))
    try:
        admin = new_user(
            email=invitation.email,
            name=customer.admin_name,
            password=password,
            role=Role.VIP_ADMIN,
            language=customer.admin_language,
            customer=customer,
            actor=None,
        )
    except DomainError:
        db.session.rollback()
        raise
    # Accepting gives the customer the status with access it would have had; it never
    # restores access removed after a missed anniversary: a renewal does that.
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
        details={"status": customer.status.value},
    )
    db.session.commit()
    return admin
