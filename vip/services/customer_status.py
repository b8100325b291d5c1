"""The customer's status as deadlines pass: Försenad while a pending authorization is
overdue, back to the previous status as soon as none is. The job and the actions share it.

The status of a customer with access is `invited` until its VIP admin accepts the
invitation it was sent, `active` after. The deadlines of a term apply
either way: an invited customer with orders gets its reminders and loses its access like
any other, and a renewal or a new first order gives it back the status with access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select

from vip.extensions import db
from vip.models import (
    Customer,
    CustomerStatus,
    Invitation,
    PurchaseAuthorization,
    Role,
    User,
    VipAdminCustomer,
)
from vip.services import audit, events


@dataclass(frozen=True)
class InvitationState:
    """Where a customer's VIP admin stands, read in one statement."""

    sent: int  # invitations sent
    accepted: int  # of them accepted
    has_admin: bool  # an active VIP admin account exists (accepted, or made by create-user)

    @property
    def awaiting(self) -> bool:
        """An invitation is out and nobody has taken the VIP admin's place yet."""
        return self.sent > 0 and self.accepted == 0 and not self.has_admin

    @property
    def admin_in_place(self) -> bool:
        return self.accepted > 0 or self.has_admin


def invitation_state(customer: Customer) -> InvitationState:
    def of(column):
        return select(column).where(Invitation.customer_id == customer.id).scalar_subquery()

    admin = exists().where(
        VipAdminCustomer.customer_id == customer.id,
        User.id == VipAdminCustomer.user_id,
        User.role == Role.VIP_ADMIN,
        User.active.is_(True),
    )
    sent, accepted, has_admin = db.session.execute(
        select(of(func.count(Invitation.id)), of(func.count(Invitation.accepted_at)), admin)
    ).one()
    return InvitationState(sent, accepted, bool(has_admin))


def awaits_acceptance(customer: Customer) -> bool:
    """True while the customer was sent an invitation, none was accepted, and it has no
    active VIP admin in any other way (one made with `vip create-user --customer`)."""
    return invitation_state(customer).awaiting


def invitation_accepted(customer: Customer) -> bool:
    """The customer has its VIP admin: an invitation was accepted, or an active VIP admin
    account exists."""
    return invitation_state(customer).admin_in_place


def status_with_access(customer: Customer) -> CustomerStatus:
    """The status a customer returns to when it gets access back (a renewal, or a new first
    order after access was removed): invited while its invitation is not accepted."""
    return CustomerStatus.INVITED if awaits_acceptance(customer) else CustomerStatus.ACTIVE


def overdue_authorization_exists(*, customer: Customer, today: date):
    return exists().where(
        PurchaseAuthorization.customer_id == customer.id,
        PurchaseAuthorization.is_overdue(today),
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
    events.customer_status_changed(
        customer, previous=CustomerStatus.DELAYED, status=previous, reason=events.DELAY_CLEARED
    )
    return True
