"""/api/v1/.../orders: recording the vendor order of an authorization with the proposed
duration, the Orders tab's list, and requesting a return."""

from __future__ import annotations

from vip.services import authorizations, customers, orders
from vip.web.api import schemas
from vip.web.api.base import (
    READ_ERRORS,
    WRITE_ERRORS,
    acting,
    api_blueprint,
    api_user,
    documented,
    field_names,
    idempotent,
    today,
)

bp = api_blueprint("Orders", description="Vendor orders and their returns.")


def order(row) -> dict:
    return {
        "vendor_order_number": row.vendor_order_number,
        "customer": row.customer,
        "authorization_number": row.authorization.number if row.authorization else None,
        "order_type": row.order_type,
        "order_date": row.order_date,
        "duration_months": row.duration_months,
        "term_ends_on": row.term_ends_on,
        "status": row.status,
        "return_window_closes_on": (
            orders.return_window_closes_on(row) if row.has_return_window else None
        ),
        "lines": row.lines,
    }


@bp.route("/purchase-authorizations/<number>/order", methods=["POST"])
@idempotent
@bp.arguments(schemas.OrderCreate, as_kwargs=True)
@bp.response(201, schemas.OrderRecorded)
@documented(bp, WRITE_ERRORS)
def record_order(number: str, vendor_order_number, order_date, duration_months):
    """Records the vendor order of a pending authorization. Without
    `duration_months` the proposed duration is recorded; the answer carries the proposal
    and its calculation either way."""
    with acting() as user:
        pa_id = authorizations.id_for_number(user=user, number=number)
        day = today()
        proposal = orders.proposal_for_authorization(
            user=user, pa_id=pa_id, order_date=order_date, today=day
        )
        recorded = orders.record_order(
            user=user,
            pa_id=pa_id,
            today=day,
            vendor_order_number=vendor_order_number,
            order_date=order_date,
            duration_months=(
                proposal.months if duration_months is None and proposal else duration_months
            ),
        )
    return {"order": order(recorded), "proposal": proposal}, 201


@bp.route("/customers/<vip_id>/orders", methods=["GET"])
@bp.response(200, schemas.OrderList)
@documented(bp, READ_ERRORS)
def list_orders(vip_id: str):
    """The customer's orders, newest first, with their return windows."""
    customer = customers.customer_by_vip_id(user=api_user(), vip_id=vip_id)
    return {"items": [order(row) for row in orders.orders_of(customer=customer)]}


@bp.route("/orders/<vendor_order_number>/returns", methods=["POST"])
@idempotent
@bp.arguments(schemas.ReturnCreate, as_kwargs=True)
@bp.response(201, schemas.Return)
@documented(bp, WRITE_ERRORS)
def request_return(vendor_order_number: str, lines, reason):
    """Asks to return unassigned licenses of an order within its 14-day window; a
    partner admin decides it on the Returns page."""
    with acting() as user:
        order_id = orders.order_id_for_number(user=user, vendor_order_number=vendor_order_number)
        quantities, names = orders.quantities_by_sku(
            user=user, order_id=order_id, lines=[(row["sku"], row["quantity"]) for row in lines]
        )
        with field_names(names):
            requested = orders.request_return(
                user=user, order_id=order_id, today=today(), quantities=quantities, reason=reason
            )
    return requested, 201
