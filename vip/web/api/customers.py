"""/api/v1/customers: the customers list's search and filters, a customer, creating one
with its VIP invitation, and its licenses."""

from __future__ import annotations

from flask import url_for
from flask_smorest import abort

from vip.services import customers, orders
from vip.web.api import schemas
from vip.web.api.base import (
    READ_ERRORS,
    WRITE_ERRORS,
    acting,
    api_blueprint,
    api_user,
    decode_cursor,
    documented,
    encode_cursor,
    idempotent,
    today,
)

bp = api_blueprint("Customers", description="The reseller's customers and their licenses.")


@bp.route("/customers", methods=["GET"])
@bp.arguments(schemas.CustomerQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.CustomerPage)
@documented(bp, READ_ERRORS)
def list_customers(q, status, anniversary_from, anniversary_to, limit, cursor):
    """Customers, in the order they were created; `next` is the following page."""
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except ValueError:
            abort(422, messages={"query": {"cursor": ["Use the cursor of a `next` link."]}})
    found = customers.customers_after(
        user=api_user(),
        search=q,
        status=status or "",
        anniversary_from=anniversary_from,
        anniversary_to=anniversary_to,
        after=after,
        limit=limit,
    )
    next_url = None
    if found.next_after is not None:
        next_url = url_for(
            "Customers.list_customers",
            q=q or None,
            status=status or None,
            anniversary_from=anniversary_from,
            anniversary_to=anniversary_to,
            limit=limit,
            cursor=encode_cursor(found.next_after),
            _external=True,
        )
    return {"items": found.items, "next": next_url}


@bp.route("/customers/<vip_id>", methods=["GET"])
@bp.response(200, schemas.Customer)
@documented(bp, READ_ERRORS)
def get_customer(vip_id: str):
    """One customer, by VIP ID."""
    return customers.customer_by_vip_id(user=api_user(), vip_id=vip_id)


@bp.route("/customers", methods=["POST"])
@idempotent
@bp.arguments(schemas.CustomerCreate, as_kwargs=True)
@bp.response(201, schemas.Customer)
@documented(bp, WRITE_ERRORS)
def create_customer(market_segment, **fields):
    """Creates the customer, issues its VIP ID and sends the VIP invitation."""
    with acting() as user:
        customer = customers.create_customer(
            user=user, today=today(), market_segment=market_segment or "", **fields
        )
    location = url_for("Customers.get_customer", vip_id=customer.vip_id, _external=True)
    return customer, 201, {"Location": location}


@bp.route("/customers/<vip_id>/licenses", methods=["GET"])
@bp.response(200, schemas.LicenseList)
@documented(bp, READ_ERRORS)
def list_licenses(vip_id: str):
    """Per product of the current term: purchased, returned, assigned, available."""
    customer = customers.customer_by_vip_id(user=api_user(), vip_id=vip_id)
    return {"items": orders.license_inventory(customer=customer)}
