"""Orders recorded against purchase authorizations and return authorizations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnStatus,
    User,
)
from vip.services import audit, change_count, discount_levels, events
from vip.services.access import require, visible_customers
from vip.services.authorizations import AuthorizationInvalid, get_for
from vip.services.customer_status import clear_delay_if_resolved, status_with_access
from vip.services.deadlines import access_removed_on
from vip.services.errors import DomainError, LocalizedDate, NotVisible, StateConflict
from vip.services.free_text import check_free_text, free_text
from vip.services.licenses import license_inventory, lock_customer
from vip.services.terms import add_months, months_to_anniversary, period_containing

VENDOR_ORDER_NUMBER = re.compile(r"[A-Za-z0-9]{6,20}")
RETURN_WINDOW_DAYS = 14
REASON_MAX = 500


class AuthorizationNotPending(AuthorizationInvalid, StateConflict):
    """Its order was recorded, or it was cancelled: the form shows it at the field, the
    API answers 409."""


# -- Recording the order ------------------------------------------------------------


ALREADY_RECORDED = _l("This vendor order number is already recorded.")


def flush_new_order() -> None:
    """Writes a new order; a vendor order number recorded by someone else at this very moment
    (the unique index says so) is refused at its field, like one recorded earlier."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AuthorizationInvalid({"vendor_order_number": [ALREADY_RECORDED]}) from None


def vendor_order_number_problem(number: str):
    """Why a vendor order number cannot be recorded, or None."""
    if not VENDOR_ORDER_NUMBER.fullmatch(number):
        return _l("Use 6 to 20 letters and digits.")
    if db.session.scalar(
        select(Order.id).where(func.upper(Order.vendor_order_number) == number.upper())
    ):
        return ALREADY_RECORDED
    return None


@dataclass(frozen=True)
class DurationProposal:
    """What the console proposes for an order date, and how it got there."""

    order_type: OrderType
    months: int
    anniversary: date  # the anniversary the order runs to (new: order date + 12 months)
    period_start: date | None = None  # the monthly period the order date falls in (add-on)
    period_end: date | None = None

    @property
    def is_first_order(self) -> bool:
        return self.order_type == OrderType.NEW


ORDER_DATE_IN_THE_FUTURE = _l("The order date cannot be in the future.")


def propose_duration(
    *, customer: Customer, order_date: date, today: date | None = None
) -> DurationProposal:
    """R5: the order type and duration the console proposes for an order on `order_date`
    (not after `today`, when given)."""
    if today is not None and order_date > today:
        raise DomainError(ORDER_DATE_IN_THE_FUTURE, field="order_date")
    if customer.anniversary_date is None:
        return DurationProposal(OrderType.NEW, 12, add_months(order_date, 12))
    anniversary = customer.anniversary_date
    if order_date > access_removed_on(anniversary):
        # Access was removed after a missed renewal: the customer starts a new term.
        return DurationProposal(OrderType.NEW, 12, add_months(order_date, 12))
    if order_date >= anniversary:
        raise DomainError(
            _l(
                "The order date is on or after the anniversary date %(date)s: record the "
                "renewal first.",
                date=LocalizedDate(anniversary),
            ),
            field="order_date",
        )
    start, end = period_containing(order_date, anniversary)
    return DurationProposal(
        OrderType.ADD_ON, months_to_anniversary(order_date, anniversary), anniversary, start, end
    )


def proposal_for_authorization(
    *, user: User, pa_id: int, order_date: date | None, today: date
) -> DurationProposal | None:
    """What the console proposes for the order of this authorization on `order_date` (the
    dialog's calculation), or None when the date has none (`record_order` says why)."""
    authorization = get_for(user=user, pa_id=pa_id)
    if order_date is None:
        return None
    try:
        return propose_duration(customer=authorization.customer, order_date=order_date, today=today)
    except DomainError:
        return None


def record_order(
    *,
    user: User,
    pa_id: int,
    today: date,
    vendor_order_number: str,
    order_date: date | None,
    duration_months: int | None,
) -> Order:
    """Records the vendor order of a pending authorization: all or nothing, single-shot."""
    require(user, "orders.record")
    authorization = get_for(user=user, pa_id=pa_id)
    customer = authorization.customer
    errors: dict[str, list] = {}
    number = (vendor_order_number or "").strip()
    if problem := vendor_order_number_problem(number):
        errors["vendor_order_number"] = [problem]
    proposal = None
    if order_date is None:
        errors["order_date"] = [_l("Enter the order date.")]
    elif order_date > today:
        errors["order_date"] = [ORDER_DATE_IN_THE_FUTURE]
    elif order_date < authorization.created_on:
        errors["order_date"] = [
            _l(
                "The order date cannot be before the purchase authorization "
                "was created (%(date)s).",
                date=LocalizedDate(authorization.created_on),
            )
        ]
    else:
        try:
            proposal = propose_duration(customer=customer, order_date=order_date)
        except DomainError as error:
            errors["order_date"] = [error.message]
    if duration_months is None or not 1 <= duration_months <= 12:
        errors["duration_months"] = [_l("Enter a whole number of months from 1 to 12.")]
    if authorization.status != AuthorizationStatus.PENDING:
        raise AuthorizationNotPending(
            {
                "vendor_order_number": [
                    _l("%(number)s is no longer pending.", number=authorization.number)
                ]
            }
        )
    if errors:
        raise AuthorizationInvalid(errors)

    claimed = db.session.execute(
        update(PurchaseAuthorization)
        .where(
            PurchaseAuthorization.id == authorization.id,
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        )
        .values(status=AuthorizationStatus.ORDERED)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise StateConflict(_l("%(number)s is no longer pending.", number=authorization.number))
    change_count.note_customers([authorization.customer_id])
    order = Order(
        customer=customer,
        vendor_order_number=number,
        order_type=proposal.order_type,
        authorization_id=authorization.id,
        order_date=order_date,
        duration_months=duration_months,
        term_ends_on=proposal.anniversary,
        status=OrderStatus.PLACED,
        created_by=user,
    )
    db.session.add(order)
    for line in authorization.lines:
        db.session.add(
            OrderLine(
                order=order,
                product_id=line.product_id,
                sku=line.product.sku,
                quantity=line.quantity,
                status=OrderStatus.PLACED,
            )
        )
    reactivated = False
    if proposal.order_type == OrderType.NEW:
        customer.anniversary_date = proposal.anniversary
        if customer.status == CustomerStatus.INACTIVE:  # a lapsed customer starts over
            reactivated = True
            customer.status = status_with_access(customer)
            audit.record(
                actor=user,
                action="customer.reactivated",
                customer=customer,
                object_type="customer",
                object_id=customer.id,
                details={
                    "status": customer.status.value,
                    "anniversary_date": proposal.anniversary.isoformat(),
                },
            )
    discount_levels.apply_order(
        customer=customer,
        quantities={line.product_id: line.quantity for line in authorization.lines},
        new_term=proposal.order_type == OrderType.NEW,
        user=user,
    )
    flush_new_order()
    db.session.refresh(authorization)
    audit.record(
        actor=user,
        action="order.recorded",
        customer=customer,
        object_type="order",
        object_id=order.id,
        details={
            "authorization": authorization.number,
            "vendor_order_number": number,
            "order_type": proposal.order_type.value,
            "order_date": order_date.isoformat(),
            "proposed_months": proposal.months,
            "chosen_months": duration_months,
            "anniversary_date": customer.anniversary_date.isoformat(),
        },
    )
    events.order_recorded(order)
    if reactivated:
        events.customer_status_changed(
            customer,
            previous=CustomerStatus.INACTIVE,
            status=customer.status,
            reason=events.NEW_TERM,
        )
    clear_delay_if_resolved(customer=customer, today=today, actor=user)
    db.session.commit()
    return order


# -- Reading orders and inventory ----------------------------------------------------------


def return_window_closes_on(order: Order) -> date:
    return return_window_closes_after(order.order_date)


def return_window_closes_after(order_date: date) -> date:
    """The last day to request a return of an order placed on `order_date`."""
    return order_date + timedelta(days=RETURN_WINDOW_DAYS)


def return_window_open(order: Order, today: date) -> bool:
    return (
        order.has_return_window
        and order.status == OrderStatus.PLACED
        and today <= return_window_closes_on(order)
    )


def ordered_on_for_window_closing(day: date) -> date:
    """The order date whose return window closes on `day` (the inverse of
    return_window_closes_on, for date-range queries)."""
    return day - timedelta(days=RETURN_WINDOW_DAYS)


def orders_of(*, customer: Customer) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.order_date.desc(), Order.id.desc())
            .options(
                selectinload(Order.lines).selectinload(OrderLine.product),
                selectinload(Order.authorization),
                selectinload(Order.created_by),
            )
        )
    )


def returns_by_order(*, orders: list[Order]) -> dict[int, list[ReturnAuthorization]]:
    if not orders:
        return {}
    rows = db.session.scalars(
        select(ReturnAuthorization)
        .where(ReturnAuthorization.order_id.in_([order.id for order in orders]))
        .order_by(ReturnAuthorization.requested_at.desc())
        .options(
            selectinload(ReturnAuthorization.lines)
            .selectinload(ReturnAuthorizationLine.order_line)
            .selectinload(OrderLine.product),
            selectinload(ReturnAuthorization.requested_by),
            selectinload(ReturnAuthorization.decided_by),
        )
    )
    grouped: dict[int, list[ReturnAuthorization]] = {}
    for item in rows:
        grouped.setdefault(item.order_id, []).append(item)
    return grouped


def order_id_for_authorization(authorization: PurchaseAuthorization) -> int | None:
    return db.session.scalar(select(Order.id).where(Order.authorization_id == authorization.id))


def order_id_for_number(*, user: User, vendor_order_number: str) -> int:
    """The id of the order with this vendor order number (whatever its case) among those
    the user may see, or NotVisible (404): the API names orders by that number."""
    require(user, "customers.view")
    visible = visible_customers(user).with_only_columns(Customer.id)
    found = db.session.scalar(
        select(Order.id).where(
            func.upper(Order.vendor_order_number) == vendor_order_number.upper(),
            Order.customer_id.in_(visible),
        )
    )
    if found is None:
        raise NotVisible(f"order {vendor_order_number}")
    return found


def get_order_for(*, user: User, order_id: int) -> Order:
    require(user, "customers.view")
    visible = visible_customers(user).with_only_columns(Customer.id)
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.customer_id.in_(visible))
        .options(selectinload(Order.lines).selectinload(OrderLine.product))
    )
    if order is None:
        raise NotVisible(f"order {order_id}")
    return order


# -- Return authorizations (R7) -------------------------------------------------------------


def _open_return_quantities(order_line_ids: list[int]) -> dict[int, int]:
    if not order_line_ids:
        return {}
    return dict(
        db.session.execute(
            select(
                ReturnAuthorizationLine.order_line_id, func.sum(ReturnAuthorizationLine.quantity)
            )
            .join(ReturnAuthorization)
            .where(
                ReturnAuthorizationLine.order_line_id.in_(order_line_ids),
                ReturnAuthorization.status == ReturnStatus.REQUESTED,
            )
            .group_by(ReturnAuthorizationLine.order_line_id)
        ).all()
    )


def _open_return_quantities_by_product(customer_id: int) -> dict[int, int]:
    """Licenses already asked back by open requests, per product of the customer."""
    return dict(
        db.session.execute(
            select(OrderLine.product_id, func.sum(ReturnAuthorizationLine.quantity))
            .select_from(ReturnAuthorizationLine)
            .join(OrderLine, ReturnAuthorizationLine.order_line_id == OrderLine.id)
            .join(
                ReturnAuthorization,
                ReturnAuthorizationLine.return_authorization_id == ReturnAuthorization.id,
            )
            .join(Order, OrderLine.order_id == Order.id)
            .where(
                Order.customer_id == customer_id,
                ReturnAuthorization.status == ReturnStatus.REQUESTED,
            )
            .group_by(OrderLine.product_id)
        ).all()
    )


def _lock_order(order_id: int) -> None:
    """Serializes changes to one order's quantities (PostgreSQL row lock; SQLite's write
    transactions are serial already)."""
    db.session.execute(select(Order.id).where(Order.id == order_id).with_for_update())


@dataclass(frozen=True)
class ReturnableLine:
    line: OrderLine
    remaining: int  # not yet returned nor asked back by an open request
    unassigned: int  # licenses of this product nobody uses

    @property
    def returnable(self) -> int:
        return max(0, min(self.remaining, self.unassigned))


def returnable_lines(*, order: Order) -> list[ReturnableLine]:
    pending = _open_return_quantities([line.id for line in order.lines])
    asked_back = _open_return_quantities_by_product(order.customer_id)
    stock = {item.product.id: item for item in license_inventory(customer=order.customer)}
    result = []
    for line in order.lines:
        item = stock.get(line.product_id)
        unassigned = (item.available if item else 0) - int(asked_back.get(line.product_id) or 0)
        remaining = line.quantity - line.returned_quantity - int(pending.get(line.id) or 0)
        result.append(ReturnableLine(line, remaining, unassigned))
    return result


NOT_IN_ORDER = _l("This line is not part of the order.")


def quantities_by_sku(
    *, user: User, order_id: int, lines: list[tuple[str | None, int | None]]
) -> tuple[dict[int, int | None], dict[str, str]]:
    """The API's rows of a return (SKU, quantity) as `request_return` takes them (by order
    line), and the field name of each order line's row ("line-7" -> "lines.0.quantity").
    A SKU the order lacks is refused at its row."""
    order = get_order_for(user=user, order_id=order_id)
    by_sku = {line.sku.upper(): line.id for line in order.lines}
    quantities: dict[int, int | None] = {}
    names: dict[str, str] = {}
    unknown: dict[str, list] = {}
    for index, (sku, quantity) in enumerate(lines):
        line_id = by_sku.get((sku or "").upper())
        if line_id is None:
            unknown[f"lines.{index}.sku"] = [NOT_IN_ORDER]
            continue
        quantities[line_id] = quantity
        names[f"line-{line_id}"] = f"lines.{index}.quantity"
    if unknown:
        raise AuthorizationInvalid(unknown)
    return quantities, names


def request_return(
    *, user: User, order_id: int, today: date, quantities: dict[int, int | None], reason: str
) -> ReturnAuthorization:
    """A reseller user asks to return some or all of an order within 14 days."""
    require(user, "returns.request")
    order = get_order_for(user=user, order_id=order_id)
    lock_customer(order.customer_id)  # assignments change the free licenses
    _lock_order(order.id)
    if order.status != OrderStatus.PLACED:
        raise StateConflict(_l("This order is already fully returned."))
    if not order.has_return_window:
        raise StateConflict(
            _l(
                "An imported order has no return window: its licenses were bought before the "
                "customer came to this console."
            )
        )
    if not return_window_open(order, today):
        raise StateConflict(
            _l(
                "The return window of this order closed on %(date)s (14 days after the order "
                "date). Contact the vendor's support if licenses must still be returned.",
                date=LocalizedDate(return_window_closes_on(order)),
            )
        )
    errors: dict[str, list] = {}
    lines = {item.line.id: item for item in returnable_lines(order=order)}
    chosen = {}
    for line_id, quantity in quantities.items():
        item = lines.get(line_id)
        field = f"line-{line_id}"
        if item is None:
            errors[field] = [NOT_IN_ORDER]
            continue
        if quantity in (None, 0):
            continue
        if quantity < 0:
            errors[field] = [_l("Enter 0 or more.")]
        elif quantity > item.remaining:
            errors[field] = [
                _l(
                    "At most %(count)d can still be returned from this line.",
                    count=max(0, item.remaining),
                )
            ]
        elif quantity > item.unassigned:
            errors[field] = [
                _l(
                    "Only %(count)d licenses of %(product)s are unassigned. Ask the VIP admin to "
                    "unassign licenses first.",
                    count=max(0, item.unassigned),
                    product=item.line.product.name,
                )
            ]
        else:
            chosen[line_id] = quantity
    checked = check_free_text(reason, length=(0, REASON_MAX))
    reason = checked.text
    if checked.problem is not None:
        errors["reason"] = [checked.problem]
    elif not reason:
        errors["reason"] = [_l("Give a reason for the return.")]
    if not chosen and not errors:
        errors["lines"] = [_l("Enter a quantity to return on at least one line.")]
    if errors:
        raise AuthorizationInvalid(errors)
    request = ReturnAuthorization(
        order=order, reason=reason, status=ReturnStatus.REQUESTED, requested_by=user
    )
    db.session.add(request)
    for line_id, quantity in chosen.items():
        db.session.add(
            ReturnAuthorizationLine(
                return_authorization=request, order_line_id=line_id, quantity=quantity
            )
        )
    db.session.flush()
    audit.record(
        actor=user,
        action="return.requested",
        customer=order.customer,
        object_type="return_authorization",
        object_id=request.id,
        details={
            "order": order.vendor_order_number,
            "reason": reason,
            "lines": [[lines[i].line.product.sku, q] for i, q in chosen.items()],
        },
    )
    events.return_event(events.RETURN_REQUESTED, request)
    db.session.commit()
    return request


def get_return_for(*, user: User, return_id: int) -> ReturnAuthorization:
    require(user, "customers.view")
    visible = visible_customers(user).with_only_columns(Customer.id)
    item = db.session.scalar(
        select(ReturnAuthorization)
        .join(Order)
        .where(ReturnAuthorization.id == return_id, Order.customer_id.in_(visible))
    )
    if item is None:
        raise NotVisible(f"return authorization {return_id}")
    return item


def decide_return(
    *, user: User, return_id: int, approve: bool, comment: str, now: datetime
) -> ReturnAuthorization:
    """A reseller admin approves (licenses go back) or rejects a requested return, once."""
    item = get_return_for(user=user, return_id=return_id)
    require(user, "returns.approve")
    lock_customer(item.order.customer_id)  # assignments change the free licenses
    _lock_order(item.order_id)
    db.session.refresh(item)
    comment = free_text(comment, field="comment", length=(0, REASON_MAX))
    if item.status != ReturnStatus.REQUESTED:
        raise StateConflict(_l("This return authorization was already decided."))
    order = item.order
    if approve:
        # Licenses may have been assigned since the request: check again.
        stock = {s.product.id: s for s in license_inventory(customer=order.customer)}
        for line in item.lines:
            available = stock[line.order_line.product_id].available
            if line.quantity > available:
                raise DomainError(
                    _l(
                        "Only %(count)d licenses of %(product)s are unassigned now. Ask the VIP "
                        "admin to unassign licenses, or reject the return.",
                        count=available,
                        product=line.order_line.product.name,
                    )
                )
    decided = db.session.execute(
        update(ReturnAuthorization)
        .where(
            ReturnAuthorization.id == item.id, ReturnAuthorization.status == ReturnStatus.REQUESTED
        )
        .values(
            status=ReturnStatus.APPROVED if approve else ReturnStatus.REJECTED,
            decided_at=now,
            decided_by_id=user.id,
            decision_comment=comment or None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if decided != 1:
        db.session.rollback()
        raise StateConflict(_l("This return authorization was already decided."))
    if approve:
        for line in item.lines:
            order_line = line.order_line
            order_line.returned_quantity += line.quantity
            if order_line.returned_quantity >= order_line.quantity:
                order_line.status = OrderStatus.RETURNED
        if all(line.status == OrderStatus.RETURNED for line in order.lines):
            order.status = OrderStatus.RETURNED
    db.session.flush()
    db.session.refresh(item)
    audit.record(
        actor=user,
        action="return.approved" if approve else "return.rejected",
        customer=order.customer,
        object_type="return_authorization",
        object_id=item.id,
        details={
            "order": order.vendor_order_number,
            "comment": comment or None,
            "lines": [[line.order_line.product.sku, line.quantity] for line in item.lines],
        },
    )
    events.return_event(events.RETURN_DECIDED, item)
    db.session.commit()
    return item


def return_queue(*, user: User, status: str = "requested", limit: int = 100):
    """Return authorizations of the user's reseller, newest first."""
    require(user, "returns.request")
    visible = visible_customers(user).with_only_columns(Customer.id)
    query = (
        select(ReturnAuthorization)
        .join(Order)
        .where(Order.customer_id.in_(visible))
        .order_by(ReturnAuthorization.requested_at.desc())
        .limit(limit)
        .options(
            selectinload(ReturnAuthorization.order).selectinload(Order.customer),
            selectinload(ReturnAuthorization.lines)
            .selectinload(ReturnAuthorizationLine.order_line)
            .selectinload(OrderLine.product),
            selectinload(ReturnAuthorization.requested_by),
            selectinload(ReturnAuthorization.decided_by),
        )
    )
    if status in {s.value for s in ReturnStatus}:
        query = query.where(ReturnAuthorization.status == ReturnStatus(status))
    return list(db.session.scalars(query))
