"""The customer's status as deadlines pass (R4): Försenad while a pending authorization is
overdue, back to the previous status as soon as none is. The job and the actions share it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, select

from vip.models import AuthorizationStatus, Customer, CustomerStatus, PurchaseAuthorization, User
from vip.services import audit


def overdue_authorization_exists(*, customer: Customer, today: date):
    return exists().where(
        PurchaseAuthorization.customer_id == customer.id,
        PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        PurchaseAuthorization.order_due_on < today,
    )


def clear_delay_if_resolved(*, customer: Customer, today: date, actor: User | None) -> bool:
    """Returns the customer to its status before the delay when nothing is overdue any more.
    Runs inside the caller's transaction; returns whether it changed anything."""
    from vip.extensions import db

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
