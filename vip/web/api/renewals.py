"""/api/v1/renewals: the renewals overview's rows and filters, and recording a
renewal order."""

from __future__ import annotations

from flask import url_for

from vip.services import customers, renewals
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
from vip.web.api.orders import order

bp = api_blueprint("Renewals", description="The renewals overview and renewal orders.")


@bp.route("/renewals", methods=["GET"])
@bp.arguments(schemas.RenewalQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.RenewalPage)
@documented(bp, READ_ERRORS)
def list_renewals(window, stage, q, sort, page, limit):
    """Customers from 90 days before their anniversary to the end of their grace period,
    each with its products' renewal lines: the overview's filters, sorts and pages."""
    day = today()
    chosen = renewals.OverviewFilter(window=window or "", stage=stage or "", search=q, sort=sort)
    found = renewals.renewals_overview(
        user=api_user(), today=day, chosen=chosen, page=page, page_size=limit
    )
    lines = renewals.lines_by_customer([customer.id for customer in found.items])
    items = []
    for customer in found.items:
        dates = renewals.dates_for(customer, day)
        items.append(
            {
                "customer_vip_id": customer.vip_id,
                "company_name": customer.company_name,
                "customer_status": customer.status.value,
                "anniversary_date": dates.anniversary,
                "stage": dates.stage.value,
                "window_opens_on": dates.window_opens_on,
                "access_removed_on": dates.access_removed_on,
                "lines": lines.get(customer.id, []),
            }
        )
    next_url = None
    if found.has_next:
        chosen = chosen.normalized()
        next_url = url_for(
            "Renewals.list_renewals",
            window=chosen.window or None,
            stage=chosen.stage or None,
            q=chosen.search or None,
            sort=chosen.sort,
            page=found.page + 1,
            limit=limit,
            _external=True,
        )
    return {"items": items, "total": found.total, "next": next_url}


@bp.route("/customers/<vip_id>/renewals", methods=["POST"])
@idempotent
@bp.arguments(schemas.RenewalCreate, as_kwargs=True)
@bp.response(201, schemas.Order)
@documented(bp, WRITE_ERRORS)
def record_renewal(vip_id: str, vendor_order_number, order_date, lines):
    """Records the renewal order: every product of the term with its quantity (0 leaves it
    out); the anniversary moves one year on."""
    with acting() as user:
        customer = customers.customer_by_vip_id(user=user, vip_id=vip_id, action="orders.record")
        quantities, names = renewals.quantities_by_sku(
            user=user,
            customer_id=customer.id,
            lines=[(row["sku"], row["quantity"]) for row in lines],
        )
        with field_names(names):
            recorded = renewals.record_renewal(
                user=user,
                customer_id=customer.id,
                today=today(),
                vendor_order_number=vendor_order_number,
                order_date=order_date,
                quantities=quantities,
            )
    return order(recorded), 201
