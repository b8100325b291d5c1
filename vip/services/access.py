"""The one place that decides what a user may do and see (S9-S11).

Roles are checked against a table declared once; objects are looked up only through
queries scoped to the user's tenant, so another reseller's id is simply not found.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from vip.extensions import db
from vip.models import Customer, Role, User, administered_customer_ids
from vip.services.errors import NotVisible, PermissionDenied

RESELLER_ROLES = frozenset({Role.RESELLER_ADMIN, Role.RESELLER_SALES})

#: action -> roles allowed. Tested table-driven; extend it, never bypass it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "customers.view": RESELLER_ROLES,
    "customers.create": RESELLER_ROLES,
    "customers.invite": RESELLER_ROLES,
    "authorizations.manage": RESELLER_ROLES,
    "orders.record": RESELLER_ROLES,
    "commitments.manage": RESELLER_ROLES,
    "returns.request": RESELLER_ROLES,
    "returns.approve": frozenset({Role.RESELLER_ADMIN}),
    "team.manage": frozenset({Role.RESELLER_ADMIN}),
    "reseller.manage": frozenset({Role.RESELLER_ADMIN}),
    "customers.import": frozenset({Role.RESELLER_ADMIN}),
    "outbox.view": frozenset({Role.RESELLER_ADMIN}),
    "admin_console.use": frozenset({Role.VIP_ADMIN}),
    "calendar.subscribe": RESELLER_ROLES,
    "webhooks.manage": frozenset({Role.RESELLER_ADMIN}),
    "api_keys.manage": frozenset({Role.RESELLER_ADMIN}),
}


def can(user: User, action: str) -> bool:
    return user.role in PERMISSIONS[action]


def require(user: User, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied(action)


def visible_customers(user: User) -> Select:
    """Customers this user may see: the reseller's, or those a VIP admin administers
    (through `vip_admin_customers` only: a VIP admin has no reseller)."""
    query = select(Customer)
    if user.role in RESELLER_ROLES:
        return query.where(Customer.reseller_id == user.reseller_id)
    if user.role == Role.VIP_ADMIN:
        return query.where(Customer.id.in_(administered_customer_ids(user.id)))
    return query.where(False)


def administered_customers(user: User) -> list[Customer]:
    """The customers of a VIP admin's Admin Console, by company name (its switcher)."""
    require(user, "admin_console.use")
    return list(
        db.session.scalars(visible_customers(user).order_by(Customer.company_name, Customer.vip_id))
    )


def get_customer_for(*, user: User, customer_id: int, action: str = "customers.view") -> Customer:
    require(user, action)
    customer = db.session.scalar(visible_customers(user).where(Customer.id == customer_id))
    if customer is None:
        raise NotVisible(f"customer {customer_id}")
    return customer


def get_team_member_for(*, user: User, user_id: int) -> User:
    require(user, "team.manage")
    member = db.session.scalar(
        select(User).where(User.id == user_id, User.reseller_id == user.reseller_id)
    )
    if member is None:
        raise NotVisible(f"user {user_id}")
    return member
