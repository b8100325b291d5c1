"""A customer's licenses: what the current term's orders give it, what pending purchase
authorizations add until they are ordered, and what the VIP admin assigns to users in the
Admin Console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import IntegrityError

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    User,
)
from vip.services import audit, change_count
from vip.services.access import get_customer_for
from vip.services.deadlines import access_removed_on
from vip.services.errors import DomainError, LocalizedDate, NotVisible

EMAIL_MAX = 254


def in_current_term(customer_id, anniversary):
    """Orders whose licenses the customer holds now: those running to its anniversary.
    A renewal moves the anniversary, so the previous term's orders drop out."""
    return (Order.customer_id == customer_id) & (Order.term_ends_on == anniversary)


@dataclass(frozen=True)
class LicenseStock:
    product: Product
    purchased: int  # ordered in the current term
    returned: int
    assigned: int
    pending: int = 0  # on pending purchase authorizations, usable until they are ordered

    @property
    def owned(self) -> int:
        return self.purchased - self.returned

    @property
    def available(self) -> int:
        """Owned licenses nobody uses (what a return or a smaller renewal may take)."""
        return self.owned - self.assigned

    @property
    def assignable(self) -> int:
        """What the VIP admin may still assign: owned plus pending, less assigned."""
        return max(0, self.owned + self.pending - self.assigned)


def returned_licenses():
    """Sum of the licenses given back; a line marked returned gave back all of them."""
    return func.sum(
        case(
            (OrderLine.status == OrderStatus.RETURNED, OrderLine.quantity),
            else_=OrderLine.returned_quantity,
        )
    )


def owned_by_product(*, customer: Customer, product_ids: set[int] | None = None):
    """Product id -> (purchased, returned) of the current term, in one query."""
    if customer.anniversary_date is None:
        return {}
    query = (
        select(
            OrderLine.product_id,
            func.sum(OrderLine.quantity),
            returned_licenses(),
        )
        .join(Order)
        .where(in_current_term(customer.id, customer.anniversary_date))
        .group_by(OrderLine.product_id)
    )
    if product_ids is not None:
        query = query.where(OrderLine.product_id.in_(product_ids))
    rows = db.session.execute(query)
    return {pid: (int(bought or 0), int(back or 0)) for pid, bought, back in rows}


def assigned_by_product(*, customer_id: int, product_ids: set[int] | None = None) -> dict[int, int]:
    query = (
        select(LicenseAssignment.product_id, func.count())
        .where(LicenseAssignment.customer_id == customer_id)
        .group_by(LicenseAssignment.product_id)
    )
    if product_ids is not None:
        query = query.where(LicenseAssignment.product_id.in_(product_ids))
    return dict(db.session.execute(query).all())


def pending_by_product(*, customer_id: int) -> dict[int, int]:
    line = PurchaseAuthorizationLine
    return {
        pid: int(quantity or 0)
        for pid, quantity in db.session.execute(
            select(line.product_id, func.sum(line.quantity))
            .join(PurchaseAuthorization)
            .where(
                PurchaseAuthorization.customer_id == customer_id,
                PurchaseAuthorization.status == AuthorizationStatus.PENDING,
            )
            .group_by(line.product_id)
        )
    }


def license_inventory(*, customer: Customer, with_pending: bool = False) -> list[LicenseStock]:
    """Per product: purchased, returned, assigned (and pending). A fixed number of queries."""
    owned = owned_by_product(customer=customer)
    assigned = assigned_by_product(customer_id=customer.id)
    pending = pending_by_product(customer_id=customer.id) if with_pending else {}
    ids = set(owned) | set(assigned) | set(pending)
    if not ids:
        return []
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}
    stock = [
        LicenseStock(
            product=products[pid],
            purchased=owned.get(pid, (0, 0))[0],
            returned=owned.get(pid, (0, 0))[1],
            assigned=assigned.get(pid, 0),
            pending=pending.get(pid, 0),
        )
        for pid in ids
    ]
    return sorted(stock, key=lambda item: (item.product.name, item.product.sku))


# -- Qualifying licenses: what a discount level counts ---------------------------------------


def _qualifying_quantity():
    """Licenses a line gives, less those returned: what counts towards a level."""
    return OrderLine.quantity - case(
        (OrderLine.status == OrderStatus.RETURNED, OrderLine.quantity),
        else_=OrderLine.returned_quantity,
    )


def qualifying_licenses_column():
    """The qualifying licenses of the current term of each row's customer, as a correlated
    subquery: consumables (Product.consumable) never count."""
    return (
        select(func.coalesce(func.sum(_qualifying_quantity()), 0))
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.customer_id == Customer.id,
            Order.term_ends_on == Customer.anniversary_date,
            Product.consumable.is_(False),
        )
        .correlate(Customer)
        .scalar_subquery()
    )


def qualifying_licenses_by_customer(customer_ids: list[int]) -> dict[int, int]:
    """Customer id -> the qualifying licenses of its current term, in one query."""
    if not customer_ids:
        return {}
    rows = db.session.execute(
        select(Customer.id, qualifying_licenses_column()).where(Customer.id.in_(customer_ids))
    )
    return {customer_id: int(count or 0) for customer_id, count in rows}


def qualifying_licenses(*, customer: Customer) -> int:
    return qualifying_licenses_by_customer([customer.id]).get(customer.id, 0)


# -- Assignment in the Admin Console ------------------------------------------------------------


def console_customer(*, user: User, customer_id: int) -> Customer:
    """The customer a VIP admin's Admin Console shows: one it administers, or NotVisible."""
    return get_customer_for(user=user, customer_id=customer_id, action="admin_console.use")


def assignments_of(*, customer: Customer) -> dict[int, list[LicenseAssignment]]:
    """Product id -> its assignments, by email, in one query."""
    grouped: dict[int, list[LicenseAssignment]] = {}
    for item in db.session.scalars(
        select(LicenseAssignment)
        .where(LicenseAssignment.customer_id == customer.id)
        .order_by(LicenseAssignment.user_email, LicenseAssignment.id)
    ):
        grouped.setdefault(item.product_id, []).append(item)
    return grouped


def normalized_email(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Enter the user's email address."), field="email")
    if len(text) > EMAIL_MAX:
        raise DomainError(_l("Use at most %(count)d characters.", count=EMAIL_MAX), field="email")
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(
            _l("Enter a valid email address, such as name@company.example."), field="email"
        ) from None
    return valid.normalized.lower()


def lock_customer(customer_id: int) -> None:
    """Serializes assignments of one customer: a PostgreSQL row lock (SQLite's write
    transactions begin IMMEDIATE, so they are serial already)."""
    db.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def assignment_closed(customer: Customer, today: date) -> bool:
    """Licenses cannot be assigned once access is removed: by the job's status, or
    already on the removal date when the job has not run yet."""
    removed = customer.anniversary_date is not None and today >= access_removed_on(
        customer.anniversary_date
    )
    return customer.status == CustomerStatus.INACTIVE or removed


def assign_license(
    *, user: User, customer_id: int, product_id: int, email: str, today: date
) -> LicenseAssignment:
    """The VIP admin gives one license of a product of one of its customers to a user:
    never beyond what the customer owns or has pending, once per user and product."""
    customer = console_customer(user=user, customer_id=customer_id)
    lock_customer(customer.id)
    db.session.refresh(customer)
    inventory = license_inventory(customer=customer, with_pending=True)
    item = next((each for each in inventory if each.product.id == product_id), None)
    if item is None or item.owned + item.pending <= 0:
        raise NotVisible(f"product {product_id} of customer {customer.id}")
    if assignment_closed(customer, today):
        raise DomainError(
            _l(
                "Access was removed after the anniversary date %(date)s passed without a "
                "renewal. Contact %(reseller)s to renew before assigning licenses.",
                date=LocalizedDate(customer.anniversary_date),
                reseller=customer.reseller.name,
            )
        )
    address = normalized_email(email)
    already = db.session.scalar(
        select(LicenseAssignment.id).where(
            LicenseAssignment.customer_id == customer.id,
            LicenseAssignment.product_id == product_id,
            LicenseAssignment.user_email == address,
        )
    )
    if already is not None:
        raise DomainError(
            _l(
                "%(email)s already has a license of %(product)s.",
                email=address,
                product=item.product.name,
            ),
            field="email",
        )
    if item.assignable <= 0:
        raise DomainError(
            _l(
                "All %(count)d licenses of %(product)s are assigned. Unassign one, or ask "
                "%(reseller)s for more.",
                count=item.owned + item.pending,
                product=item.product.name,
                reseller=customer.reseller.name,
            ),
            field="email",
        )
    assignment = LicenseAssignment(
        customer_id=customer.id, product_id=product_id, user_email=address, assigned_by=user
    )
    db.session.add(assignment)
    try:
        db.session.flush()
    except IntegrityError:  # the same user, assigned by a concurrent request
        db.session.rollback()
        raise DomainError(
            _l(
                "%(email)s already has a license of %(product)s.",
                email=address,
                product=item.product.name,
            ),
            field="email",
        ) from None
    audit.record(
        actor=user,
        action="license.assigned",
        customer=customer,
        object_type="license_assignment",
        object_id=assignment.id,
        details={"product": item.product.sku, "email": address},
    )
    db.session.commit()
    return assignment


def unassign_license(*, user: User, customer_id: int, assignment_id: int) -> LicenseAssignment:
    """Takes a license of one of the VIP admin's customers back; a second, concurrent
    unassign finds nothing to do."""
    customer = console_customer(user=user, customer_id=customer_id)
    assignment = db.session.scalar(
        select(LicenseAssignment).where(
            LicenseAssignment.id == assignment_id,
            LicenseAssignment.customer_id == customer.id,
        )
    )
    if assignment is None:
        raise NotVisible(f"license assignment {assignment_id}")
    product, address = assignment.product, assignment.user_email
    removed = db.session.execute(
        delete(LicenseAssignment)
        .where(LicenseAssignment.id == assignment.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if removed != 1:
        db.session.rollback()
        raise DomainError(_l("This license was already unassigned."))
    change_count.note_customers([customer.id])
    db.session.expunge(assignment)
    audit.record(
        actor=user,
        action="license.unassigned",
        customer=customer,
        object_type="license_assignment",
        object_id=assignment_id,
        details={"product": product.sku, "email": address},
    )
    db.session.commit()
    return assignment
