"""The API's bodies and query strings (marshmallow schemas, which flask-smorest turns into
the OpenAPI document). They parse; the rules are the services'. Fields a service checks
(with its translated message) are optional here, so the service's message is the one a
client gets. Dates are ISO 8601, amounts integers, statuses stable English codes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from vip.models import (
    AuthorizationStatus,
    CustomerStatus,
    LicenseType,
    MarketSegment,
    OrderStatus,
    OrderType,
    ReturnStatus,
)
from vip.services.calendar_feed import DeadlineKind
from vip.services.renewals import RenewalStage


def _codes(enum) -> list[str]:
    return [member.value for member in enum]


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"description": "Stable; switch on this."})
    title = fields.String(required=True, metadata={"description": "In the Accept-Language."})
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Messages by field: `lines.0.quantity`, `order_date`, ..."},
    )
    incident = fields.String()


# -- Customers -------------------------------------------------------------------------------


class Customer(Schema):
    vip_id = fields.String(required=True)
    company_name = fields.String(required=True)
    country = fields.String(required=True)
    market_segment = fields.String(
        required=True, metadata={"enum": _codes(MarketSegment)}, attribute="market_segment.value"
    )
    status = fields.String(
        required=True, metadata={"enum": _codes(CustomerStatus)}, attribute="status.value"
    )
    admin_name = fields.String(required=True)
    admin_email = fields.String(required=True)
    admin_language = fields.String(required=True)
    anniversary_date = fields.Date(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class CustomerQuery(Schema):
    q = fields.String(validate=validate.Length(max=100), load_default="")
    status = fields.String(validate=validate.OneOf(_codes(CustomerStatus)), load_default=None)
    anniversary_from = fields.Date(load_default=None)
    anniversary_to = fields.Date(load_default=None)
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=50)
    cursor = fields.String(
        load_default=None, metadata={"description": "The `next` link's cursor; opaque."}
    )


class CustomerPage(Schema):
    items = fields.List(fields.Nested(Customer), required=True)
    next = fields.String(
        required=True, allow_none=True, metadata={"description": "The next page's URL, or null."}
    )


class CustomerCreate(Schema):
    company_name = fields.String(load_default="")
    # Parsed only: `customers.create_customer` checks every value, as for the page's form,
    # and answers each problem at its field in the reader's language.
    country = fields.String(
        required=True, metadata={"description": "ISO 3166 alpha-2, for example SE."}
    )
    market_segment = fields.String(
        load_default=None, metadata={"enum": [*_codes(MarketSegment), None]}
    )
    admin_name = fields.String(required=True, metadata={"description": "2 to 120 characters."})
    admin_email = fields.String(required=True, metadata={"format": "email"})
    admin_language = fields.String(required=True, metadata={"enum": ["sv", "en"]})


# -- Purchase authorizations -----------------------------------------------------------------


class AuthorizationLine(Schema):
    sku = fields.String(required=True, attribute="product.sku")
    product_name = fields.String(required=True, attribute="product.name")
    quantity = fields.Integer(required=True)


class Authorization(Schema):
    number = fields.String(required=True)
    customer_vip_id = fields.String(required=True, attribute="customer.vip_id")
    license_type = fields.String(
        required=True, metadata={"enum": _codes(LicenseType)}, attribute="license_type.value"
    )
    status = fields.String(
        required=True, metadata={"enum": _codes(AuthorizationStatus)}, attribute="status.value"
    )
    overdue = fields.Boolean(required=True, metadata={"description": "Försenad: past due."})
    created_on = fields.Date(required=True)
    order_due_on = fields.Date(required=True)
    deployment_date = fields.Date(required=True)
    customer_po_number = fields.String(required=True, allow_none=True)
    lines = fields.List(fields.Nested(AuthorizationLine), required=True)


class AuthorizationList(Schema):
    items = fields.List(fields.Nested(Authorization), required=True)


class LineInput(Schema):
    sku = fields.String(load_default=None, allow_none=True)
    quantity = fields.Integer(load_default=None, allow_none=True, strict=True)


class AuthorizationCreate(Schema):
    license_type = fields.String(load_default=None, metadata={"enum": [*_codes(LicenseType), None]})
    lines = fields.List(fields.Nested(LineInput), load_default=list)
    deployment_date = fields.Date(load_default=None, allow_none=True)
    customer_po_number = fields.String(load_default=None, allow_none=True)


# -- Orders and returns ------------------------------------------------------------------------


class OrderLine(Schema):
    sku = fields.String(required=True)
    product_name = fields.String(required=True, attribute="product.name")
    quantity = fields.Integer(required=True)
    returned_quantity = fields.Integer(required=True)


class Order(Schema):
    vendor_order_number = fields.String(required=True)
    customer_vip_id = fields.String(required=True, attribute="customer.vip_id")
    purchase_authorization = fields.String(
        required=True, allow_none=True, attribute="authorization_number"
    )
    order_type = fields.String(
        required=True, metadata={"enum": _codes(OrderType)}, attribute="order_type.value"
    )
    order_date = fields.Date(required=True)
    duration_months = fields.Integer(required=True)
    term_ends_on = fields.Date(required=True)
    status = fields.String(
        required=True, metadata={"enum": _codes(OrderStatus)}, attribute="status.value"
    )
    return_window_closes_on = fields.Date(
        required=True, allow_none=True, metadata={"description": "null: an imported order."}
    )
    lines = fields.List(fields.Nested(OrderLine), required=True)


class OrderList(Schema):
    items = fields.List(fields.Nested(Order), required=True)


class OrderCreate(Schema):
    vendor_order_number = fields.String(load_default="")
    order_date = fields.Date(load_default=None, allow_none=True)
    duration_months = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "Omitted: the proposed duration."},
    )


class DurationProposal(Schema):
    order_type = fields.String(
        required=True, metadata={"enum": _codes(OrderType)}, attribute="order_type.value"
    )
    months = fields.Integer(required=True)
    anniversary_date = fields.Date(required=True, attribute="anniversary")
    period_start = fields.Date(
        required=True,
        allow_none=True,
        metadata={"description": "Add-on: the monthly period the order date falls in."},
    )
    period_end = fields.Date(required=True, allow_none=True)


class OrderRecorded(Schema):
    order = fields.Nested(Order, required=True)
    proposal = fields.Nested(
        DurationProposal,
        required=True,
        metadata={"description": "What the console proposed for the order date, and why."},
    )


class ReturnLine(Schema):
    sku = fields.String(required=True, attribute="order_line.sku")
    quantity = fields.Integer(required=True)


class Return(Schema):
    id = fields.Integer(required=True)
    vendor_order_number = fields.String(required=True, attribute="order.vendor_order_number")
    status = fields.String(
        required=True, metadata={"enum": _codes(ReturnStatus)}, attribute="status.value"
    )
    reason = fields.String(required=True)
    requested_at = fields.DateTime(required=True)
    lines = fields.List(fields.Nested(ReturnLine), required=True)


class ReturnCreate(Schema):
    lines = fields.List(fields.Nested(LineInput), load_default=list)
    reason = fields.String(load_default="")


# -- Renewals ----------------------------------------------------------------------------------


class RenewalLine(Schema):
    sku = fields.String(required=True, attribute="product.sku")
    renewal_sku = fields.String(required=True)
    product_name = fields.String(required=True, attribute="product.name")
    purchased = fields.Integer(required=True)
    returned = fields.Integer(required=True)
    assigned = fields.Integer(required=True)
    current = fields.Integer(required=True)
    suggested = fields.Integer(required=True)


class RenewalRow(Schema):
    customer_vip_id = fields.String(required=True)
    company_name = fields.String(required=True)
    customer_status = fields.String(required=True, metadata={"enum": _codes(CustomerStatus)})
    anniversary_date = fields.Date(required=True)
    stage = fields.String(required=True, metadata={"enum": _codes(RenewalStage)})
    window_opens_on = fields.Date(required=True)
    access_removed_on = fields.Date(required=True)
    lines = fields.List(fields.Nested(RenewalLine), required=True)


class RenewalQuery(Schema):
    window = fields.String(validate=validate.OneOf(["30", "60", "90"]), load_default=None)
    stage = fields.String(validate=validate.OneOf(_codes(RenewalStage)), load_default=None)
    q = fields.String(validate=validate.Length(max=100), load_default="")
    sort = fields.String(
        validate=validate.OneOf(
            ["anniversary", "-anniversary", "name", "-name", "vip_id", "-vip_id"]
        ),
        load_default="anniversary",
    )
    page = fields.Integer(validate=validate.Range(min=1), load_default=1)
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=50)


class RenewalPage(Schema):
    items = fields.List(fields.Nested(RenewalRow), required=True)
    total = fields.Integer(required=True, metadata={"description": "Counted up to 1,001."})
    next = fields.String(required=True, allow_none=True)


class RenewalCreate(Schema):
    vendor_order_number = fields.String(load_default="")
    order_date = fields.Date(load_default=None, allow_none=True)
    lines = fields.List(
        fields.Nested(LineInput),
        load_default=list,
        metadata={
            "description": "Every product of the term (SKU or renewal SKU); 0 leaves it out."
        },
    )


# -- Licenses and deadlines ----------------------------------------------------------------------


class License(Schema):
    sku = fields.String(required=True, attribute="product.sku")
    product_name = fields.String(required=True, attribute="product.name")
    purchased = fields.Integer(required=True)
    returned = fields.Integer(required=True)
    assigned = fields.Integer(required=True)
    available = fields.Integer(required=True)


class LicenseList(Schema):
    items = fields.List(fields.Nested(License), required=True)


class DeadlineQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)


class Deadline(Schema):
    uid = fields.String(required=True)
    kind = fields.String(
        required=True, metadata={"enum": _codes(DeadlineKind)}, attribute="kind.value"
    )
    date = fields.Date(required=True, attribute="day")
    customer_vip_id = fields.String(required=True, attribute="vip_id")
    company_name = fields.String(required=True)
    reference = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The authorization's or order's number."},
    )
    related_date = fields.Date(
        required=True,
        allow_none=True,
        attribute="related",
        metadata={"description": "The order date, or the anniversary."},
    )


class DeadlineList(Schema):
    items = fields.List(fields.Nested(Deadline), required=True)
