"""Purchase authorizations: R2 eligibility, R3 creating, R6 cancelling, R4 on the action,
and S23 (two concurrent cancels give one success and one refusal)."""

from __future__ import annotations

import contextlib
import csv
import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import TODAY
from tests.support import english, pid, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    LicenseType,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    User,
)
from vip.services import authorizations as service
from vip.services.authorizations import (
    AuthorizationInvalid,
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
    eligible_products,
)
from vip.services.catalog import CATALOG_CSV
from vip.services.customers import create_customer
from vip.services.errors import DomainError, NotVisible, PermissionDenied
from vip.services.terms import add_months

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
YESTERDAY = TODAY - timedelta(days=1)


# --- helpers -------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (PurchaseAuthorization, PurchaseAuthorizationLine, AuditEvent)
    )


def events(action: str, *, object_id: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def create(
    actor,
    customer_id,
    *,
    license_type="team",
    lines=None,
    deployment_date=TODAY,
    po=None,
    today=TODAY,
):
    if lines is None:
        lines = [(pid("Photoshop"), 1)]
    return create_purchase_authorization(
        user=actor,
        customer_id=customer_id,
        today=today,
        license_type=license_type,
        lines=[LineInput(product_id=p, quantity=q) for p, q in lines],
        deployment_date=deployment_date,
        customer_po_number=po,
    )


def refused(actor, customer_id, **kwargs) -> dict[str, list]:
    """Creates with invalid input: returns the errors, having checked nothing was written."""
    pid("Photoshop")  # the catalog is loaded before counting
    before = counts()
    with pytest.raises(AuthorizationInvalid) as caught:
        create(actor, customer_id, **kwargs)
    db.session.rollback()
    assert counts() == before, "a refused authorization must write nothing"
    return caught.value.errors


def new_customer(actor: User, segment: str, name: str | None = None) -> Customer:
    return create_customer(
        user=actor,
        today=TODAY,
        company_name=name or f"Kund {segment} AB",
        country="SE",
        market_segment=segment,
        admin_name="Maja Berg",
        admin_email=f"it-{segment}@kund.example",
        admin_language="sv",
    )


def catalog_rows() -> list[dict]:
    with CATALOG_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def reload_pa(pa_id: int) -> PurchaseAuthorization:
    db.session.expire_all()
    return db.session.get(PurchaseAuthorization, pa_id)


def pa_lines(authorization: PurchaseAuthorization) -> dict[str, int]:
    return {line.product.sku: line.quantity for line in authorization.lines}


# --- R2 eligibility --------------------------------------------------------------------


@pytest.mark.parametrize("license_type", ["team", "enterprise"])
@pytest.mark.parametrize("segment", ["commercial", "government", "education"])
def test_r2_eligible_products_are_active_of_that_type_and_segment_never_device(
    tenants, ctx, segment, license_type
):
    pid("Photoshop")
    customer = new_customer(user(tenants.a.admin), segment)
    offered = eligible_products(customer=customer, license_type=license_type)
    expected = {
        row["sku"]
        for row in catalog_rows()
        if row["license_type"] == license_type
        and row["market_segment"] == segment
        and row["active"] == "1"
        and row["education_device"] == "0"
    }
    assert expected, "the catalog must have products for every segment and type"
    assert {p.sku for p in offered} == expected
    for product in offered:
        assert product.active and not product.education_device
        assert product.license_type == license_type and product.market_segment == segment
    # The string form and the enum give the same list.
    assert eligible_products(customer=customer, license_type=LicenseType(license_type)) == offered


def test_r2_education_customer_never_gets_device_products(tenants, ctx):
    pid("Photoshop")
    customer = new_customer(user(tenants.a.admin), "education")
    devices = list(
        db.session.scalars(
            select(Product).where(
                Product.education_device.is_(True), Product.market_segment == "education"
            )
        )
    )
    assert len(devices) >= 4  # the catalog really has device licenses to leave out
    for license_type in ("team", "enterprise"):
        offered = eligible_products(customer=customer, license_type=license_type)
        assert offered
        assert not any(p.education_device for p in offered)
        assert not any("shared device" in p.name for p in offered)
        assert not {p.id for p in devices} & {p.id for p in offered}


@pytest.mark.parametrize("license_type", ["team", "enterprise"])
def test_r2_education_device_product_is_refused_directly_from_the_vendor(
    tenants, ctx, license_type
):
    customer = new_customer(user(tenants.a.admin), "education")
    device = pid("Photoshop (shared device)", license_type, "education", education_device=True)
    regular = pid("Photoshop", license_type, "education")
    errors = refused(
        user(tenants.a.sales),
        customer.id,
        license_type=license_type,
        lines=[(regular, 2), (device, 3)],
    )
    assert set(errors) == {"lines-1-product"}
    assert "directly from the vendor" in english(errors["lines-1-product"][0])


@pytest.mark.parametrize(
    ("case", "license_type"),
    [
        ("other license type", "team"),
        ("another segment", "team"),
        ("inactive", "enterprise"),
        ("non-existent", "team"),
        ("education device", "team"),
    ],
)
def test_r2_ineligible_product_is_refused_at_its_row(tenants, ctx, case, license_type):
    admin = user(tenants.a.admin)
    segment = "government" if case == "inactive" else "commercial"
    customer = (
        new_customer(admin, segment)
        if segment != "commercial"
        else db.session.get(Customer, tenants.a.customer.id)
    )
    bad = {
        "other license type": lambda: pid("Photoshop", "enterprise", "commercial"),
        "another segment": lambda: pid("Photoshop", "team", "government"),
        "inactive": lambda: pid("Acrobat Standard", "enterprise", "government"),
        "non-existent": lambda: 999_999,
        "education device": lambda: pid(
            "Photoshop (shared device)", "team", "education", education_device=True
        ),
    }[case]()
    if case == "inactive":
        assert not db.session.get(Product, bad).active
    good = pid("Illustrator", license_type, segment)
    errors = refused(
        user(tenants.a.sales),
        customer.id,
        license_type=license_type,
        lines=[(good, 1), (bad, 1), (good, 1)],
    )
    assert set(errors) == {"lines-1-product"}, errors
    assert english(errors["lines-1-product"][0])


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        2**31 - 1,
        2**31,
        2**63,
    ],
    ids=["zero", "negative", "int4-max", "above-int4", "above-int8"],
)
def test_r2_a_product_id_no_database_integer_holds_is_refused(tenants, ctx, value):
    errors = refused(
        user(tenants.a.sales), tenants.a.customer.id, lines=[(pid("Photoshop"), 1), (value, 1)]
    )
    assert set(errors) == {"lines-1-product"}
    assert english(errors["lines-1-product"][0]) == "Choose a product from the list."


# --- R3 limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("license_type", "quantity", "ok"),
    [
        ("team", 1, True),
        ("team", 0, False),
        ("team", -1, False),
        ("team", 10_000, True),
        ("team", 10_001, False),
        ("enterprise", 1, True),
        ("enterprise", 0, False),
        ("enterprise", 599_000, True),
        ("enterprise", 599_001, False),
    ],
)
def test_r3_quantity_limits_per_license_type(tenants, ctx, license_type, quantity, ok):
    sales = user(tenants.a.sales)
    product = pid("Creative Cloud All Apps", license_type, "commercial")
    lines = [(pid("Photoshop", license_type, "commercial"), 1), (product, quantity)]
    if ok:
        pa = create(sales, tenants.a.customer.id, license_type=license_type, lines=lines)
        sku = db.session.get(Product, product).sku
        assert pa_lines(reload_pa(pa.id))[sku] == quantity
    else:
        errors = refused(sales, tenants.a.customer.id, license_type=license_type, lines=lines)
        assert set(errors) == {"lines-1-quantity"}
        limit = "10\u00a0000" if license_type == "team" else "599\u00a0000"
        assert limit in english(errors["lines-1-quantity"][0])


@pytest.mark.parametrize(
    ("po", "stored"),
    [
        ("P" * 35, "P" * 35),
        ("  PO 2026/17-Å  ", "PO 2026/17-Å"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_r3_po_number_accepted_and_stored(tenants, ctx, po, stored):
    pa = create(user(tenants.a.sales), tenants.a.customer.id, po=po)
    assert reload_pa(pa.id).customer_po_number == stored


@pytest.mark.parametrize("po", ["P" * 36, "PO\t17", "PO\x0017", "PO\u200b17", "PO\n17"])
def test_r3_po_number_too_long_or_not_printable_is_refused(tenants, ctx, po):
    errors = refused(user(tenants.a.sales), tenants.a.customer.id, po=po)
    assert set(errors) == {"customer_po_number"}


def test_r3_deployment_date_today_or_later_is_accepted(tenants, ctx):
    sales = user(tenants.a.sales)
    for day in (TODAY, TODAY + timedelta(days=400)):
        pa = create(sales, tenants.a.customer.id, deployment_date=day)
        assert reload_pa(pa.id).deployment_date == day


@pytest.mark.parametrize("day", [YESTERDAY, date(2000, 1, 1), None])
def test_r3_deployment_date_in_the_past_or_missing_is_refused(tenants, ctx, day):
    errors = refused(user(tenants.a.sales), tenants.a.customer.id, deployment_date=day)
    assert set(errors) == {"deployment_date"}


@pytest.mark.parametrize(
    "lines", [[], [(None, None)], [(None, None), (None, None)]], ids=["none", "blank", "blanks"]
)
def test_r3_no_product_rows_is_refused_at_lines(tenants, ctx, lines):
    errors = refused(user(tenants.a.sales), tenants.a.customer.id, lines=lines)
    assert set(errors) == {"lines"}


def test_r3_blank_rows_between_products_are_ignored(tenants, ctx):
    photoshop = pid("Photoshop")
    pa = create(
        user(tenants.a.sales),
        tenants.a.customer.id,
        lines=[(None, None), (photoshop, 4), (None, None)],
    )
    assert pa_lines(reload_pa(pa.id)) == {db.session.get(Product, photoshop).sku: 4}


def test_r3_more_rows_than_the_maximum_are_refused(tenants, ctx):
    photoshop = pid("Photoshop")
    errors = refused(
        user(tenants.a.sales),
        tenants.a.customer.id,
        lines=[(photoshop, 1)] * (service.MAX_ROWS + 1),
    )
    assert set(errors) == {"lines"}


def test_r3_two_rows_of_one_product_are_merged(tenants, ctx):
    sales = user(tenants.a.sales)
    photoshop, illustrator = pid("Photoshop"), pid("Illustrator")
    pa = create(
        sales,
        tenants.a.customer.id,
        lines=[(photoshop, 3), (illustrator, 2), (photoshop, 4)],
    )
    pa = reload_pa(pa.id)
    sku = {p: db.session.get(Product, p).sku for p in (photoshop, illustrator)}
    assert [(line.product_id, line.quantity) for line in pa.lines] == [
        (photoshop, 7),
        (illustrator, 2),
    ]
    (event,) = events("authorization.created", object_id=pa.number)
    assert event.details["lines"] == [[sku[photoshop], 7], [sku[illustrator], 2]]


@pytest.mark.parametrize(
    ("license_type", "quantities", "ok"),
    [
        ("team", (6_000, 4_000), True),
        ("team", (6_000, 4_001), False),
        ("enterprise", (300_000, 299_000), True),
        ("enterprise", (300_000, 299_001), False),
    ],
)
def test_r3_merged_rows_above_the_limit_are_refused(tenants, ctx, license_type, quantities, ok):
    sales = user(tenants.a.sales)
    product = pid("Creative Cloud All Apps", license_type, "commercial")
    lines = [(product, quantities[0]), (product, quantities[1])]
    if ok:
        pa = create(sales, tenants.a.customer.id, license_type=license_type, lines=lines)
        assert [line.quantity for line in reload_pa(pa.id).lines] == [sum(quantities)]
    else:
        errors = refused(sales, tenants.a.customer.id, license_type=license_type, lines=lines)
        assert set(errors) == {"lines-0-quantity"}
        assert "exceed" in english(errors["lines-0-quantity"][0])


def test_r3_a_row_with_quantity_but_no_product_is_refused(tenants, ctx):
    errors = refused(
        user(tenants.a.sales),
        tenants.a.customer.id,
        lines=[(pid("Photoshop"), 2), (None, 5)],
    )
    assert set(errors) == {"lines-1-product"}


def test_r3_a_row_with_product_but_no_quantity_is_refused(tenants, ctx):
    errors = refused(user(tenants.a.sales), tenants.a.customer.id, lines=[(pid("Photoshop"), None)])
    assert set(errors) == {"lines-0-quantity"}


def test_r3_every_error_is_reported_at_once_and_nothing_is_written(tenants, ctx):
    errors = refused(
        user(tenants.a.sales),
        tenants.a.customer.id,
        lines=[(999_999, 2), (pid("Photoshop"), 0)],
        deployment_date=YESTERDAY,
    )
    assert set(errors) == {"lines-0-product", "lines-1-quantity", "deployment_date"}


def test_r3_every_error_including_po_and_a_device_row(tenants, ctx):
    errors = refused(
        user(tenants.a.sales),
        tenants.a.customer.id,
        lines=[
            (pid("Photoshop", "enterprise"), 10_001),
            (None, 1),
            (pid("Photoshop (shared device)", "team", "education", education_device=True), 1),
        ],
        deployment_date=YESTERDAY,
        po="x" * 36,
    )
    assert set(errors) == {
        "lines-0-product",
        "lines-0-quantity",
        "lines-1-product",
        "lines-2-product",
        "deployment_date",
        "customer_po_number",
    }
    first = AuthorizationInvalid(errors)
    assert isinstance(first, DomainError) and first.field in errors


def test_r3_unknown_license_type_is_refused(tenants, ctx):
    errors = refused(user(tenants.a.sales), tenants.a.customer.id, license_type="premium")
    assert "license_type" in errors


# --- R3 success --------------------------------------------------------------------------


def test_r3_created_pending_with_number_dates_and_lines(tenants, ctx):
    sales = user(tenants.a.sales)
    photoshop = pid("Photoshop")
    pa = create(
        sales,
        tenants.a.customer.id,
        lines=[(photoshop, 12)],
        deployment_date=TODAY + timedelta(days=3),
        po="PO-4711",
    )
    pa = reload_pa(pa.id)
    assert re.fullmatch(r"PA-\d{6}", pa.number)
    assert pa.status == AuthorizationStatus.PENDING
    assert pa.customer_id == tenants.a.customer.id
    assert pa.license_type == "team"
    assert pa.created_on == TODAY
    assert pa.order_due_on == TODAY + timedelta(days=14)
    assert pa.deployment_date == TODAY + timedelta(days=3)
    assert pa.customer_po_number == "PO-4711"
    assert pa.created_by_id == sales.id
    assert pa.cancelled_at is None and pa.cancelled_by_id is None
    assert pa_lines(pa) == {db.session.get(Product, photoshop).sku: 12}
    assert not pa.is_overdue(TODAY + timedelta(days=14))
    assert pa.is_overdue(TODAY + timedelta(days=15))


def test_r3_dates_follow_the_given_today(tenants, ctx):
    day = date(2027, 2, 20)
    pa = create(user(tenants.a.sales), tenants.a.customer.id, today=day, deployment_date=day)
    pa = reload_pa(pa.id)
    assert pa.created_on == day
    assert pa.order_due_on == date(2027, 3, 6)


def test_r3_numbers_are_unique(tenants, ctx):
    sales = user(tenants.a.sales)
    numbers = {create(sales, tenants.a.customer.id).number for _ in range(25)}
    numbers |= {tenants.a.authorization.number, tenants.b.authorization.number}
    assert len(numbers) == 27
    assert all(re.fullmatch(r"PA-\d{6}", n) for n in numbers)


def test_r3_created_is_audited_with_its_lines(tenants, ctx):
    sales = user(tenants.a.sales)
    photoshop, acrobat = pid("Photoshop"), pid("Acrobat Pro")
    before = counts()
    pa = create(sales, tenants.a.customer.id, lines=[(photoshop, 5), (acrobat, 2)], po="PO-1")
    assert counts() == (before[0] + 1, before[1] + 2, before[2] + 1)
    (event,) = events("authorization.created", object_id=pa.number)
    assert event.actor_id == sales.id
    assert event.customer_id == tenants.a.customer.id
    assert event.reseller_id == tenants.a.reseller.id
    assert event.object_type == "purchase_authorization"
    sku = {p: db.session.get(Product, p).sku for p in (photoshop, acrobat)}
    assert event.details["lines"] == [[sku[photoshop], 5], [sku[acrobat], 2]]
    assert event.details["number"] == pa.number
    assert event.details["license_type"] == "team"
    assert event.details["order_due_on"] == (TODAY + timedelta(days=14)).isoformat()
    assert event.details["po_number"] == "PO-1"


class TestR3OrderWindowSetting:
    @pytest.fixture
    def app_config(self):
        return {"VIP_PA_ORDER_WINDOW_DAYS": 7}

    def test_r3_order_due_date_follows_the_window_setting(self, tenants, ctx):
        pa = create(user(tenants.a.sales), tenants.a.customer.id)
        pa = reload_pa(pa.id)
        assert pa.created_on == TODAY
        assert pa.order_due_on == TODAY + timedelta(days=7)
        (event,) = events("authorization.created", object_id=pa.number)
        assert event.details["order_due_on"] == (TODAY + timedelta(days=7)).isoformat()


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r3_reseller_users_can_create(tenants, ctx, role):
    actor = user(getattr(tenants.a, role))
    pa = create(actor, tenants.a.customer.id)
    assert reload_pa(pa.id).created_by_id == actor.id


def test_r3_vip_admin_cannot_create(tenants, ctx):
    pid("Photoshop")
    before = counts()
    with pytest.raises(PermissionDenied):
        create(user(tenants.a.vip_admin), tenants.a.customer.id)
    db.session.rollback()
    assert counts() == before


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r3_another_resellers_customer_is_not_visible(tenants, ctx, role):
    pid("Photoshop")
    before = counts()
    with pytest.raises(NotVisible):
        create(user(getattr(tenants.a, role)), tenants.b.customer.id)
    db.session.rollback()
    assert counts() == before


# --- R6 cancelling -----------------------------------------------------------------------


def cancel(actor, pa_id, today=TODAY):
    return cancel_purchase_authorization(user=actor, pa_id=pa_id, today=today, now=NOW)


def test_r6_cancel_a_pending_authorization(tenants, ctx):
    sales = user(tenants.a.sales)
    pa_id = tenants.a.authorization.id
    result = cancel(sales, pa_id)
    assert result.id == pa_id
    pa = reload_pa(pa_id)
    assert pa.status == AuthorizationStatus.CANCELLED
    assert pa.cancelled_by_id == sales.id
    assert pa.cancelled_at == NOW
    (event,) = events("authorization.cancelled")
    assert event.object_id == pa.number
    assert event.actor_id == sales.id
    assert event.customer_id == tenants.a.customer.id
    # Tenant B's authorization is untouched.
    assert reload_pa(tenants.b.authorization.id).status == AuthorizationStatus.PENDING


def test_r6_cancel_twice_is_refused_already_cancelled(tenants, ctx):
    sales = user(tenants.a.sales)
    pa_id = tenants.a.authorization.id
    cancel(sales, pa_id)
    before = counts()
    with pytest.raises(DomainError) as caught:
        cancel(user(tenants.a.admin), pa_id)
    db.session.rollback()
    assert "already cancelled" in english(caught.value)
    assert tenants.a.authorization.number in english(caught.value)
    assert counts() == before
    pa = reload_pa(pa_id)
    assert pa.cancelled_by_id == sales.id  # the first cancel's actor stays
    assert len(events("authorization.cancelled")) == 1


def test_r6_an_ordered_authorization_cannot_be_cancelled(tenants, ctx):
    pa_id = tenants.a.authorization.id
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa_id)
        .values(status=AuthorizationStatus.ORDERED)
    )
    db.session.commit()
    before = counts()
    with pytest.raises(DomainError) as caught:
        cancel(user(tenants.a.sales), pa_id)
    db.session.rollback()
    assert "return authorization" in english(caught.value)
    assert reload_pa(pa_id).status == AuthorizationStatus.ORDERED
    assert counts() == before


def assign(customer_id: int, product: int, count: int) -> None:
    for n in range(count):
        db.session.add(
            LicenseAssignment(
                customer_id=customer_id, product_id=product, user_email=f"user{n}@kund.example"
            )
        )
    db.session.commit()


def place_order(
    customer_id: int,
    product: int,
    quantity: int,
    returned: int = 0,
    status: OrderStatus = OrderStatus.PLACED,
) -> None:
    customer = db.session.get(Customer, customer_id)
    if customer.anniversary_date is None:
        customer.anniversary_date = add_months(TODAY - timedelta(days=30), 12)
    order = Order(
        customer_id=customer_id,
        vendor_order_number="ORD-1",
        order_type=OrderType.NEW,
        order_date=TODAY - timedelta(days=30),
        duration_months=12,
        term_ends_on=customer.anniversary_date,
        status=status,
    )
    db.session.add(order)
    db.session.add(
        OrderLine(
            order=order,
            product_id=product,
            sku=db.session.get(Product, product).sku,
            quantity=quantity,
            returned_quantity=returned,
            status=status,
        )
    )
    db.session.commit()


def test_r6_assigned_licenses_block_the_cancel(tenants, ctx):
    pa_id = tenants.a.authorization.id
    assign(tenants.a.customer.id, pid("Photoshop"), 1)
    before = counts()
    with pytest.raises(DomainError) as caught:
        cancel(user(tenants.a.sales), pa_id)
    db.session.rollback()
    message = english(caught.value)
    assert "assigned" in message and "Photoshop" in message
    assert reload_pa(pa_id).status == AuthorizationStatus.PENDING
    assert counts() == before
    assert not service.can_cancel(reload_pa(pa_id))
    assert service.cancellable_ids([reload_pa(pa_id)]) == set()


@pytest.mark.parametrize(
    ("assigned", "ordered", "returned", "order_status", "blocked"),
    [
        (2, 2, 0, OrderStatus.PLACED, False),
        (2, 5, 0, OrderStatus.PLACED, False),
        (2, 1, 0, OrderStatus.PLACED, True),
        (2, 3, 2, OrderStatus.PLACED, True),  # only one of three is still owned
        (1, 3, 0, OrderStatus.RETURNED, True),  # a returned order owns nothing
    ],
)
def test_r6_licenses_owned_from_placed_orders_do_not_block(
    tenants, ctx, assigned, ordered, returned, order_status, blocked
):
    pa_id = tenants.a.authorization.id
    photoshop = pid("Photoshop")
    place_order(tenants.a.customer.id, photoshop, ordered, returned, order_status)
    assign(tenants.a.customer.id, photoshop, assigned)
    pa = reload_pa(pa_id)
    assert service.can_cancel(pa) is not blocked
    assert (service.cancellable_ids([pa]) == {pa_id}) is not blocked
    if blocked:
        with pytest.raises(DomainError) as caught:
            cancel(user(tenants.a.sales), pa_id)
        db.session.rollback()
        assert "assigned" in english(caught.value)
        assert reload_pa(pa_id).status == AuthorizationStatus.PENDING
    else:
        cancel(user(tenants.a.sales), pa_id)
        assert reload_pa(pa_id).status == AuthorizationStatus.CANCELLED


def test_r6_assignments_of_another_product_or_customer_do_not_block(tenants, ctx):
    assign(tenants.a.customer.id, pid("Illustrator"), 3)
    assign(tenants.b.customer.id, pid("Photoshop"), 3)
    cancel(user(tenants.a.sales), tenants.a.authorization.id)
    assert reload_pa(tenants.a.authorization.id).status == AuthorizationStatus.CANCELLED


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r6_another_tenants_authorization_is_not_visible(tenants, ctx, role):
    before = counts()
    with pytest.raises(NotVisible):
        cancel(user(getattr(tenants.a, role)), tenants.b.authorization.id)
    db.session.rollback()
    assert reload_pa(tenants.b.authorization.id).status == AuthorizationStatus.PENDING
    assert counts() == before
    with pytest.raises(NotVisible):
        cancel(user(tenants.a.sales), 999_999)


def test_r6_vip_admin_cannot_cancel(tenants, ctx):
    with pytest.raises(PermissionDenied):
        cancel(user(tenants.a.vip_admin), tenants.a.authorization.id)
    db.session.rollback()
    assert reload_pa(tenants.a.authorization.id).status == AuthorizationStatus.PENDING


# --- R4 on the action -------------------------------------------------------------------


def make_overdue(pa_id: int, days_late: int = 1) -> None:
    due = TODAY - timedelta(days=days_late)
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa_id)
        .values(created_on=due - timedelta(days=14), order_due_on=due)
    )
    db.session.commit()


def set_delayed(customer_id: int, before: CustomerStatus) -> None:
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(status=CustomerStatus.DELAYED, status_before_delay=before)
    )
    db.session.commit()


def reload_customer(customer_id: int) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


@pytest.mark.parametrize("previous", [CustomerStatus.ACTIVE, CustomerStatus.INVITED])
def test_r4_cancelling_the_only_overdue_authorization_clears_the_delay_at_once(
    tenants, ctx, previous
):
    customer_id = tenants.a.customer.id
    make_overdue(tenants.a.authorization.id)
    set_delayed(customer_id, previous)
    # A pending authorization that is not overdue yet does not keep the customer delayed.
    create(user(tenants.a.sales), customer_id)
    sales = user(tenants.a.sales)
    cancel(sales, tenants.a.authorization.id)
    customer = reload_customer(customer_id)
    assert customer.status == previous
    assert customer.status_before_delay is None
    (event,) = events("customer.delay_cleared")
    assert event.customer_id == customer_id
    assert event.actor_id == sales.id
    assert event.details == {"status": previous.value}


def test_r4_another_overdue_authorization_keeps_the_customer_delayed(tenants, ctx):
    customer_id = tenants.a.customer.id
    second = create(user(tenants.a.sales), customer_id)
    make_overdue(tenants.a.authorization.id, days_late=3)
    make_overdue(second.id, days_late=1)
    set_delayed(customer_id, CustomerStatus.ACTIVE)
    cancel(user(tenants.a.sales), tenants.a.authorization.id)
    customer = reload_customer(customer_id)
    assert customer.status == CustomerStatus.DELAYED
    assert customer.status_before_delay == CustomerStatus.ACTIVE
    assert events("customer.delay_cleared") == []
    # Cancelling the last overdue one clears it.
    cancel(user(tenants.a.sales), second.id)
    customer = reload_customer(customer_id)
    assert customer.status == CustomerStatus.ACTIVE
    assert len(events("customer.delay_cleared")) == 1


def test_r4_due_today_is_not_overdue(tenants, ctx):
    """Day 14 is still in time: an authorization due today does not keep the delay."""
    customer_id = tenants.a.customer.id
    second = create(
        user(tenants.a.sales), customer_id, today=TODAY - timedelta(days=14), deployment_date=TODAY
    )
    assert second.order_due_on == TODAY
    make_overdue(tenants.a.authorization.id)
    set_delayed(customer_id, CustomerStatus.ACTIVE)
    cancel(user(tenants.a.sales), tenants.a.authorization.id)
    assert reload_customer(customer_id).status == CustomerStatus.ACTIVE


def test_r4_cancel_of_a_customer_not_delayed_changes_no_status(tenants, ctx):
    customer_id = tenants.a.customer.id
    status = reload_customer(customer_id).status
    cancel(user(tenants.a.sales), tenants.a.authorization.id)
    assert reload_customer(customer_id).status == status
    assert events("customer.delay_cleared") == []


# --- S23 two concurrent cancels ----------------------------------------------------------


@pytest.mark.parametrize("interleave", [False, True], ids=["barrier", "both-past-the-check"])
def test_s23_two_concurrent_cancels_one_success_one_refusal(app, tenants, monkeypatch, interleave):
    """Two users cancel the same authorization at the same moment. With `interleave`, each
    thread waits (briefly) after its status check for the other, so on PostgreSQL both read
    `pending` before either writes: only the conditional UPDATE keeps it single-shot. On
    SQLite the second thread's BEGIN IMMEDIATE waits for the first to commit instead."""
    pa_id = tenants.a.authorization.id
    actors = [tenants.a.sales.id, tenants.a.admin.id]
    start = threading.Barrier(2)
    if interleave:
        after_check = threading.Barrier(2)
        original = service.assigned_beyond_ordered

        def meet_then_check(authorization):
            # On SQLite the other thread waits for our write lock: the barrier breaks.
            with contextlib.suppress(threading.BrokenBarrierError):
                after_check.wait(timeout=1.5)
            return original(authorization)

        monkeypatch.setattr(service, "assigned_beyond_ordered", meet_then_check)

    outcomes: list = [None, None]

    def worker(index: int) -> None:
        with app.test_request_context():
            try:
                actor = db.session.get(User, actors[index])
                db.session.commit()  # no transaction held while waiting at the barrier
                start.wait(timeout=10)
                cancel_purchase_authorization(user=actor, pa_id=pa_id, today=TODAY, now=NOW)
                outcomes[index] = "ok"
            except DomainError as error:
                outcomes[index] = english(error)
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcomes[index] = error
            finally:
                db.session.remove()

    with app.app_context():
        db.session.remove()  # the test thread holds no transaction while the threads run
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refusal, str) and "already cancelled" in refusal, outcomes
    with app.app_context():
        try:
            pa = db.session.get(PurchaseAuthorization, pa_id)
            assert pa.status == AuthorizationStatus.CANCELLED
            winner = actors[outcomes.index("ok")]
            assert pa.cancelled_by_id == winner
            cancelled = events("authorization.cancelled", object_id=pa.number)
            assert len(cancelled) == 1
            assert cancelled[0].actor_id == winner
        finally:
            db.session.remove()
