"""Purchase authorizations (inköpsauktoriseringar): eligibility, creating, cancelling."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import selectinload

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    LicenseType,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    User,
)
from vip.models.types import ID_MAX
from vip.services import audit, change_count, events
from vip.services.access import get_customer_for, require, visible_customers
from vip.services.customer_status import clear_delay_if_resolved
from vip.services.errors import DomainError, NotVisible, StateConflict
from vip.services.free_text import check_free_text
from vip.services.licenses import assigned_by_product, lock_customer, owned_by_product

#: The most licenses one row may carry, per license type.
LICENSE_LIMITS = {LicenseType.TEAM: 10_000, LicenseType.ENTERPRISE: 599_000}
PO_NUMBER_MAX = 35
MAX_ROWS = 20


class AuthorizationInvalid(DomainError):
    """Several field errors at once: {"lines-0-quantity": [message], ...}."""

    def __init__(self, errors: dict[str, list]):
        first = next(iter(errors.values()))[0]
        super().__init__(first, field=next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True)
class LineInput:
    product_id: int | None
    quantity: int | None


def grouped(number: int) -> str:
    """10000 as "10 000": digit groups that read right in Swedish and English alike."""
    return f"{number:,}".replace(",", "\u00a0")


def issue_authorization_number() -> str:
    """`PA-` and six digits, unique."""
    while True:
        candidate = f"PA-{secrets.randbelow(900_000) + 100_000}"
        taken = db.session.scalar(
            select(PurchaseAuthorization.id).where(PurchaseAuthorization.number == candidate)
        )
        if taken is None:
            return candidate


def order_window_days() -> int:
    return int(current_app.config["VIP_PA_ORDER_WINDOW_DAYS"])


def eligible_products(*, customer: Customer, license_type: LicenseType | str) -> list[Product]:
    """R2: active products of this license type and the customer's segment, never
    education device licenses."""
    return list(
        db.session.scalars(
            select(Product)
            .where(
                Product.active.is_(True),
                Product.license_type == LicenseType(license_type),
                Product.market_segment == customer.market_segment,
                Product.education_device.is_(False),
            )
            .order_by(Product.name, Product.sku)
        )
    )


def equivalent_products(
    *, customer: Customer, license_type: LicenseType | str, product_ids: set[int]
) -> dict[int, int]:
    """For a license type change: each product's namesake among the products now eligible."""
    product_ids = {pid for pid in product_ids if 0 < pid <= ID_MAX}
    if not product_ids:
        return {}
    names = dict(
        db.session.execute(
            select(Product.id, Product.name).where(Product.id.in_(product_ids))
        ).all()
    )
    by_name = {
        p.name: p.id for p in eligible_products(customer=customer, license_type=license_type)
    }
    return {pid: by_name[name] for pid, name in names.items() if name in by_name}


def product_refusal(product: Product | None, *, customer: Customer, license_type: LicenseType):
    if product is None:
        return _l("Choose a product from the list.")
    if product.education_device:
        return _l(
            "Education device licenses cannot be ordered with a purchase authorization; "
            "they are ordered directly from the vendor."
        )
    if not product.active:
        return _l("%(product)s is no longer sold.", product=product.name)
    if product.license_type != license_type:
        return _l(
            "%(product)s is not a %(license_type)s product.",
            product=product.name,
            license_type=license_type.value.capitalize(),
        )
    if product.market_segment != customer.market_segment:
        return _l(
            "%(product)s is not offered in this customer's market segment.", product=product.name
        )
    return None


def create_purchase_authorization(
    *,
    user: User,
    customer_id: int,
    today: date,
    license_type: str,
    lines: list[LineInput],
    deployment_date: date | None,
    customer_po_number: str | None,
    check_only: bool = False,
) -> PurchaseAuthorization | None:
    """R3: validates everything, reports every problem at its field, and writes all or
    nothing. `check_only` validates and writes nothing (the form had unparsable fields)."""
    customer = get_customer_for(user=user, customer_id=customer_id, action="authorizations.manage")
    errors: dict[str, list] = {}

    def refuse(field: str, message) -> None:
        errors.setdefault(field, []).append(message)

    try:
        kind = LicenseType(license_type)
    except ValueError:
        raise AuthorizationInvalid({"license_type": [_l("Choose Enterprise or Team.")]}) from None
    limit = LICENSE_LIMITS[kind]

    if deployment_date is None:
        refuse("deployment_date", _l("Enter the deployment date."))
    elif deployment_date < today:
        refuse("deployment_date", _l("The deployment date cannot be in the past."))

    po_number = check_free_text(customer_po_number, length=(0, PO_NUMBER_MAX), printable=True)
    if po_number.problem is not None:
        refuse("customer_po_number", po_number.problem)
    po_number = po_number.text or None

    rows = [
        (index, line)
        for index, line in enumerate(lines)
        if line.product_id is not None or line.quantity is not None
    ]
    if not rows:
        refuse("lines", _l("Add at least one product."))
    if len(lines) > MAX_ROWS:
        refuse("lines", _l("Use at most %(count)d product rows.", count=MAX_ROWS))
    wanted_ids = {
        line.product_id
        for _, line in rows
        if line.product_id is not None and 0 < line.product_id <= ID_MAX
    }
    products = (
        {
            product.id: product
            for product in db.session.scalars(select(Product).where(Product.id.in_(wanted_ids)))
        }
        if wanted_ids
        else {}
    )

    merged: OrderedDict[int, tuple[int, int]] = OrderedDict()  # product -> (first row, total)
    for index, line in rows:
        if line.product_id is None:
            refuse(f"lines-{index}-product", _l("Choose a product."))
        else:
            refusal = product_refusal(
                products.get(line.product_id), customer=customer, license_type=kind
            )
            if refusal is not None:
                refuse(f"lines-{index}-product", refusal)
        if line.quantity is None:
            refuse(f"lines-{index}-quantity", _l("Enter the number of licenses."))
        elif not 1 <= line.quantity <= limit:
            refuse(
                f"lines-{index}-quantity",
                _l(
                    "Enter a whole number from 1 to %(limit)s.",
                    limit=grouped(limit),
                ),
            )
        if line.product_id is not None and line.quantity is not None:
            first, total = merged.get(line.product_id, (index, 0))
            merged[line.product_id] = (first, total + line.quantity)
    for first, total in merged.values():
        if total > limit and f"lines-{first}-quantity" not in errors:
            refuse(
                f"lines-{first}-quantity",
                _l(
                    "Together the rows of this product exceed %(limit)s licenses.",
                    limit=grouped(limit),
                ),
            )
    if errors:
        raise AuthorizationInvalid(errors)
    if check_only:
        return None

    authorization = PurchaseAuthorization(
        number=issue_authorization_number(),
        customer=customer,
        license_type=kind,
        deployment_date=deployment_date,
        customer_po_number=po_number,
        status=AuthorizationStatus.PENDING,
        created_on=today,
        created_by=user,
        order_due_on=today + timedelta(days=order_window_days()),
    )
    db.session.add(authorization)
    for product_id, (_, total) in merged.items():
        db.session.add(
            PurchaseAuthorizationLine(
                authorization=authorization, product=products[product_id], quantity=total
            )
        )
    db.session.flush()
    audit.record(
        actor=user,
        action="authorization.created",
        customer=customer,
        object_type="purchase_authorization",
        object_id=authorization.number,
        details={
            "number": authorization.number,
            "license_type": kind.value,
            "lines": [[products[pid].sku, total] for pid, (_, total) in merged.items()],
            "deployment_date": deployment_date.isoformat(),
            "po_number": po_number,
            "order_due_on": authorization.order_due_on.isoformat(),
        },
    )
    events.authorization_event(events.AUTHORIZATION_CREATED, authorization)
    db.session.commit()
    return authorization


def get_for(*, user: User, pa_id: int) -> PurchaseAuthorization:
    """An authorization of a customer this user may see, or NotVisible (404)."""
    require(user, "authorizations.manage")
    visible = visible_customers(user).with_only_columns(Customer.id)
    authorization = db.session.scalar(
        select(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa_id, PurchaseAuthorization.customer_id.in_(visible))
        .options(
            selectinload(PurchaseAuthorization.lines).selectinload(
                PurchaseAuthorizationLine.product
            )
        )
    )
    if authorization is None:
        raise NotVisible(f"purchase authorization {pa_id}")
    return authorization


def id_for_number(*, user: User, number: str) -> int:
    """The id of the authorization with this number among those the user may see, or
    NotVisible (404): the API names authorizations by number."""
    require(user, "authorizations.manage")
    visible = visible_customers(user).with_only_columns(Customer.id)
    found = db.session.scalar(
        select(PurchaseAuthorization.id).where(
            PurchaseAuthorization.number == number,
            PurchaseAuthorization.customer_id.in_(visible),
        )
    )
    if found is None:
        raise NotVisible(f"purchase authorization {number}")
    return found


def products_for_skus(skus: list[str]) -> dict[str, int]:
    """Catalog product ids by SKU, for the SKUs that exist (the API names products by SKU;
    whether one may be ordered is the authorization's rule)."""
    wanted = {sku for sku in skus if sku}
    if not wanted:
        return {}
    return dict(
        db.session.execute(select(Product.sku, Product.id).where(Product.sku.in_(wanted))).all()
    )


def products_used_beyond_orders(*, customer: Customer, product_ids: set[int]) -> set[int]:
    """Products whose assigned licenses exceed the current term's licenses (less returns):
    those assignments use licenses of a pending authorization. Two queries, any size."""
    if not product_ids:
        return set()
    owned = owned_by_product(customer=customer, product_ids=product_ids)
    assigned = assigned_by_product(customer_id=customer.id, product_ids=product_ids)
    return {
        pid
        for pid, count in assigned.items()
        if count > owned.get(pid, (0, 0))[0] - owned.get(pid, (0, 0))[1]
    }


def assigned_beyond_ordered(authorization: PurchaseAuthorization) -> list[str]:
    """Names of this authorization's products whose licenses are in use."""
    used = products_used_beyond_orders(
        customer=authorization.customer,
        product_ids={line.product_id for line in authorization.lines},
    )
    return [line.product.name for line in authorization.lines if line.product_id in used]


def cancellable_ids(authorizations: list[PurchaseAuthorization]) -> set[int]:
    """Which of one customer's authorizations may be cancelled now, in two queries."""
    pending = [pa for pa in authorizations if pa.status == AuthorizationStatus.PENDING]
    if not pending:
        return set()
    used = products_used_beyond_orders(
        customer=pending[0].customer,
        product_ids={line.product_id for pa in pending for line in pa.lines},
    )
    return {pa.id for pa in pending if not any(line.product_id in used for line in pa.lines)}


def can_cancel(authorization: PurchaseAuthorization) -> bool:
    return authorization.status == AuthorizationStatus.PENDING and not assigned_beyond_ordered(
        authorization
    )


def cancel_purchase_authorization(
    *, user: User, pa_id: int, today: date, now: datetime
) -> PurchaseAuthorization:
    """R6: only a pending authorization whose licenses nobody uses; single-shot (S23)."""
    authorization = get_for(user=user, pa_id=pa_id)
    if authorization.status == AuthorizationStatus.ORDERED:
        raise StateConflict(
            _l(
                "%(number)s is already ordered and cannot be cancelled. "
                "Request a return authorization for its order instead.",
                number=authorization.number,
            )
        )
    if authorization.status == AuthorizationStatus.CANCELLED:
        raise StateConflict(_l("%(number)s is already cancelled.", number=authorization.number))
    lock_customer(authorization.customer_id)  # an assignment may be under way
    in_use = assigned_beyond_ordered(authorization)
    if in_use:
        raise StateConflict(
            _l(
                "%(number)s cannot be cancelled: licenses of %(products)s are assigned to users. "
                "Ask the VIP admin to unassign them first.",
                number=authorization.number,
                products=", ".join(in_use),
            )
        )
    changed = db.session.execute(
        update(PurchaseAuthorization)
        .where(
            PurchaseAuthorization.id == authorization.id,
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        )
        .values(status=AuthorizationStatus.CANCELLED, cancelled_at=now, cancelled_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise StateConflict(_l("%(number)s is already cancelled.", number=authorization.number))
    change_count.note_customers([authorization.customer_id])
    db.session.refresh(authorization)
    customer = authorization.customer
    audit.record(
        actor=user,
        action="authorization.cancelled",
        customer=customer,
        object_type="purchase_authorization",
        object_id=authorization.number,
        details={"number": authorization.number},
    )
    events.authorization_event(events.AUTHORIZATION_CANCELLED, authorization)
    clear_delay_if_resolved(customer=customer, today=today, actor=user)
    db.session.commit()
    return authorization


def authorizations_of(*, customer: Customer) -> list[PurchaseAuthorization]:
    """The Plans tab's rows, newest first, with lines and creators in a fixed number of queries."""
    return list(
        db.session.scalars(
            select(PurchaseAuthorization)
            .where(PurchaseAuthorization.customer_id == customer.id)
            .order_by(PurchaseAuthorization.created_at.desc(), PurchaseAuthorization.id.desc())
            .options(
                selectinload(PurchaseAuthorization.lines).selectinload(
                    PurchaseAuthorizationLine.product
                ),
                selectinload(PurchaseAuthorization.created_by),
            )
        )
    )


@dataclass(frozen=True)
class AuthorizationCounts:
    pending: int = 0
    overdue: int = 0


def counts_by_customer(*, customer_ids: list[int], today: date) -> dict[int, AuthorizationCounts]:
    """Pending and overdue authorizations per customer, in one query."""
    if not customer_ids:
        return {}
    rows = db.session.execute(
        select(
            PurchaseAuthorization.customer_id,
            func.count(),
            func.sum(case((PurchaseAuthorization.is_overdue(today), 1), else_=0)),
        )
        .where(
            PurchaseAuthorization.customer_id.in_(customer_ids),
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        )
        .group_by(PurchaseAuthorization.customer_id)
    )
    return {cid: AuthorizationCounts(int(p), int(o or 0)) for cid, p, o in rows}
