"""/api/v1/.../purchase-authorizations: the Plans tab's list, the dialog's creation
and cancelling."""

from __future__ import annotations

from flask import url_for

from vip import clock
from vip.services import authorizations, customers
from vip.services.authorizations import LineInput
from vip.web.api import schemas
from vip.web.api.base import (
    READ_ERRORS,
    WRITE_ERRORS,
    acting,
    api_blueprint,
    api_user,
    documented,
    idempotent,
    today,
)

bp = api_blueprint("Authorizations", description="Purchase authorizations: list, create, cancel.")


def authorization(pa, day) -> dict:
    return {
        "number": pa.number,
        "customer": pa.customer,
        "license_type": pa.license_type,
        "status": pa.status,
        "overdue": pa.is_overdue(day),
        "created_on": pa.created_on,
        "order_due_on": pa.order_due_on,
        "deployment_date": pa.deployment_date,
        "customer_po_number": pa.customer_po_number,
        "lines": pa.lines,
    }


def line_inputs(lines: list[dict]) -> list[LineInput]:
    """The body's rows as the service's: a SKU the catalog lacks is no product (the
    service says so at the row)."""
    ids = authorizations.products_for_skus([line["sku"] for line in lines])
    return [
        LineInput(
            product_id=None if line["sku"] is None else ids.get(line["sku"], 0),
            quantity=line["quantity"],
        )
        for line in lines
    ]


@bp.route("/customers/<vip_id>/purchase-authorizations", methods=["GET"])
@bp.response(200, schemas.AuthorizationList)
@documented(bp, READ_ERRORS)
def list_authorizations(vip_id: str):
    """The customer's purchase authorizations, newest first."""
    customer = customers.customer_by_vip_id(user=api_user(), vip_id=vip_id)
    day = today()
    rows = authorizations.authorizations_of(customer=customer)
    return {"items": [authorization(pa, day) for pa in rows]}


@bp.route("/customers/<vip_id>/purchase-authorizations", methods=["POST"])
@idempotent
@bp.arguments(schemas.AuthorizationCreate, as_kwargs=True)
@bp.response(201, schemas.Authorization)
@documented(bp, WRITE_ERRORS)
def create_authorization(vip_id: str, license_type, lines, deployment_date, customer_po_number):
    """Creates a purchase authorization: license type, product rows (by SKU), numbers of
    licenses, PO number and deployment date, checked as in the dialog."""
    with acting() as user:
        customer = customers.customer_by_vip_id(
            user=user, vip_id=vip_id, action="authorizations.manage"
        )
        day = today()
        pa = authorizations.create_purchase_authorization(
            user=user,
            customer_id=customer.id,
            today=day,
            license_type=license_type or "",
            lines=line_inputs(lines),
            deployment_date=deployment_date,
            customer_po_number=customer_po_number,
        )
    return authorization(pa, day), 201, {"Location": _location(vip_id)}


def _location(vip_id: str) -> str:
    return url_for("Authorizations.list_authorizations", vip_id=vip_id, _external=True)


@bp.route("/purchase-authorizations/<number>/cancel", methods=["POST"])
@idempotent
@bp.response(200, schemas.Authorization)
@documented(bp, WRITE_ERRORS)
def cancel_authorization(number: str):
    """Cancels a pending authorization whose licenses nobody uses; 409 otherwise."""
    with acting() as user:
        pa_id = authorizations.id_for_number(user=user, number=number)
        day = today()
        pa = authorizations.cancel_purchase_authorization(
            user=user, pa_id=pa_id, today=day, now=clock.now()
        )
    return authorization(pa, day)
