"""The customer's status as deadlines pass (R4): Försenad while a pending authorization is
overdue, back to the previous status as soon as none is. The job and the actions share it.

The status of a customer with access is `invited` until its VIP admin accepts the
invitation it was sent (R1), `active` after. The deadlines of a term (R10, R11) apply
either way: an invited customer with orders gets its reminders and loses its access like
any other, and a renewal or a new first order gives it back the status with access."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, func, select

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Invitation,
    PurchaseAuthorization,
    User,
)
from vip.services import audit


def awaits_acceptance(customer: Customer) -> bool:
    """True while the customer was sent an invitation and none has been accepted."""
    sent, accepted = db.session.execute(
        select(func.count(Invitation.id), func.count(Invitation.accepted_at)).where(
            Invitation.customer_id == customer.id
        )
    ).one()
    return sent > 0 and accepted == 0


def invitation_accepted(customer: Customer) -> bool:
    return db.session.scalar(
        select(
            exists().where(
                Invitation.customer_id == customer.id, Invitation.accepted_at.is_not(None)
            )
        )
    )


def status_with_access(customer: Customer) -> CustomerStatus:
    """The status a customer returns to when it gets access back (a renewal, or a new first
    order after access was removed): invited while its invitation is not accepted."""
    return CustomerStatus.INVITED if awaits_acceptance(customer) else CustomerStatus.ACTIVE


def overdue_authorization_exists(*, customer: Customer, today: date):
    return exists().where(
        PurchaseAuthorization.customer_id == customer.id,
        PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        PurchaseAuthorization.order_due_on < today,
    )


def clear_delay_if_resolved(*, customer: Customer, today: date, actor: User | None) -> bool:
    """Returns the customer to its status before the delay when nothing is overdue any more.
    Runs inside the caller's transaction; returns whether it changed anything."""
    if customer.status != CustomerStatus.DELAYED:
        return False
    if db.session.scalar(select(overdue_authorization_exists(customer=customer, today=today))):
        return False
    previous = customer.status_before_delay or CustomerStatus.ACTIVE
    customer.status = previous
    customer.status_before_delay = None
    audit.record(
        actor=actor,
        action="customer.delay_cleared",
        customer=customer,
        object_type="customer",
        object_id=customer.id,
        details={"status": previous.value},
    )
    return True
