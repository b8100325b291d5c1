"""Orders and return authorizations: R5 recording the order (with R4 on the action), R7
return authorizations, S11 (only reseller_admin approves), S10 (another tenant's ids) and
S23 (two concurrent approvals of one return happen once)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD, TODAY
from tests.support import count, english, pid, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    Reseller,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnStatus,
    Role,
    User,
)
from vip.services import orders as service
from vip.services.accounts import create_user
from vip.services.authorizations import (
    AuthorizationInvalid,
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.errors import DomainError, NotVisible, PermissionDenied
from vip.services.orders import (
    decide_return,
    get_order_for,
    license_inventory,
    propose_duration,
    record_order,
    request_return,
    return_queue,
    return_window_closes_on,
    return_window_open,
    returnable_lines,
)

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
TOMORROW = TODAY + timedelta(days=1)
_numbers = itertools.count(1)


# --- helpers -----------------------------------------------------------------------------


def vendor_number() -> str:
    return f"VN{next(_numbers):08d}"


def snapshot() -> dict:
    """Everything an order or return action may change."""
    db.session.expire_all()
    return {
        "counts": tuple(
            count(model)
            for model in (
                Order,
                OrderLine,
                ReturnAuthorization,
                ReturnAuthorizationLine,
                AuditEvent,
                LicenseAssignment,
            )
        ),
        "pas": sorted(
            db.session.execute(select(PurchaseAuthorization.id, PurchaseAuthorization.status))
        ),
        "customers": sorted(
            db.session.execute(
                select(
                    Customer.id,
                    Customer.status,
                    Customer.status_before_delay,
                    Customer.anniversary_date,
                )
            )
        ),
        "orders": sorted(db.session.execute(select(Order.id, Order.status))),
        "lines": sorted(
            db.session.execute(
                select(
                    OrderLine.id, OrderLine.quantity, OrderLine.returned_quantity, OrderLine.status
                )
            )
        ),
        "returns": sorted(
            db.session.execute(
                select(
                    ReturnAuthorization.id,
                    ReturnAuthorization.status,
                    ReturnAuthorization.decided_by_id,
                    ReturnAuthorization.decision_comment,
                )
            )
        ),
    }


def refused(call, error=AuthorizationInvalid):
    """Runs a call that must be refused, checks it wrote nothing, returns the error."""
    pid("Photoshop")  # the catalog is loaded before the snapshot
    before = snapshot()
    with pytest.raises(error) as caught:
        call()
    db.session.rollback()
    assert snapshot() == before, "a refused action must write nothing"
    return caught.value


def events(action: str, *, object_id=None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def new_pa(tenant, lines=(("Photoshop", 5),), *, created_on: date = TODAY) -> int:
    pa = create_purchase_authorization(
        user=user(tenant.sales),
        customer_id=tenant.customer.id,
        today=created_on,
        license_type="team",
        lines=[LineInput(product_id=pid(name), quantity=q) for name, q in lines],
        deployment_date=created_on,
        customer_po_number=None,
    )
    return pa.id


def record(
    tenant,
    pa_id: int,
    *,
    number: str | None = None,
    order_date: date | None = TODAY,
    duration: int | None = 12,
    today: date = TODAY,
    actor=None,
) -> Order:
    return record_order(
        user=actor or user(tenant.sales),
        pa_id=pa_id,
        today=today,
        vendor_order_number=number if number is not None else vendor_number(),
        order_date=order_date,
        duration_months=duration,
    )


def place(tenant, lines=(("Photoshop", 5),), *, order_date: date = TODAY) -> Order:
    """A recorded order of a fresh authorization (created on the order date)."""
    order = record(tenant, new_pa(tenant, lines, created_on=order_date), order_date=order_date)
    return reload_order(order.id)


def reload_order(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def first_line_id(order_id: int) -> int:
    return db.session.scalar(select(func.min(OrderLine.id)).where(OrderLine.order_id == order_id))


def reload_customer(customer_id: int) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


def line_of(order: Order, name: str) -> OrderLine:
    (line,) = [line for line in order.lines if line.product.name == name]
    return line


def ask(tenant, order_id: int, quantities: dict, *, reason="Ordered too many", today=TODAY):
    return request_return(
        user=user(tenant.sales),
        order_id=order_id,
        today=today,
        quantities=quantities,
        reason=reason,
    )


def decide(tenant, return_id: int, *, approve=True, comment="", actor=None):
    return decide_return(
        user=actor or user(tenant.admin),
        return_id=return_id,
        approve=approve,
        comment=comment,
        now=NOW,
    )


def stock(customer_id: int) -> dict[str, tuple[int, int, int, int]]:
    customer = reload_customer(customer_id)
    return {
        item.product.name: (item.purchased, item.returned, item.assigned, item.available)
        for item in license_inventory(customer=customer)
    }


def returnable(order_id: int) -> dict[str, tuple[int, int, int]]:
    order = reload_order(order_id)
    return {
        item.line.product.name: (item.remaining, item.unassigned, item.returnable)
        for item in returnable_lines(order=order)
    }


def assign(customer_id: int, name: str, how_many: int) -> None:
    for n in range(how_many):
        db.session.add(
            LicenseAssignment(
                customer_id=customer_id, product_id=pid(name), user_email=f"u{n}@kund.example"
            )
        )
    db.session.commit()


def set_pa_dates(pa_id: int, *, created_on: date, order_due_on: date) -> None:
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa_id)
        .values(created_on=created_on, order_due_on=order_due_on)
    )
    db.session.commit()


def set_delayed(customer_id: int, before: CustomerStatus) -> None:
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(status=CustomerStatus.DELAYED, status_before_delay=before)
    )
    db.session.commit()


# --- R5 vendor order number ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        pytest.param("ABC123", "ABC123", id="6"),
        pytest.param("A1B2C3D4E5F6G7H8I9J0", "A1B2C3D4E5F6G7H8I9J0", id="20"),
        pytest.param("1234567890", "1234567890", id="digits"),
        pytest.param("abcdef", "abcdef", id="letters"),
        pytest.param("  ABC123  ", "ABC123", id="trimmed"),
    ],
)
def test_r5_vendor_order_number_of_6_to_20_letters_and_digits(tenants, ctx, number, stored):
    order = record(tenants.a, tenants.a.authorization.id, number=number)
    assert reload_order(order.id).vendor_order_number == stored


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("ABCDE", id="5"),
        pytest.param("A" * 21, id="21"),
        pytest.param("ABC-123", id="hyphen"),
        pytest.param("ABC 123", id="space"),
        pytest.param("ÅÄÖ123", id="non-ascii-letters"),
        pytest.param("１２３４５６", id="fullwidth-digits"),
        pytest.param("", id="empty"),
        pytest.param("      ", id="blank"),
    ],
)
def test_r5_vendor_order_number_outside_the_limits_is_refused(tenants, ctx, number):
    error = refused(lambda: record(tenants.a, tenants.a.authorization.id, number=number))
    assert set(error.errors) == {"vendor_order_number"}
    assert "6 to 20 letters and digits" in english(error.errors["vendor_order_number"][0])


@pytest.mark.parametrize("again", ["ORDER777000", "order777000", " Order777000 "])
def test_r5_duplicate_vendor_order_number_is_refused(tenants, ctx, again):
    record(tenants.a, tenants.a.authorization.id, number="ORDER777000")
    second = new_pa(tenants.a)
    error = refused(lambda: record(tenants.a, second, number=again))
    assert set(error.errors) == {"vendor_order_number"}
    assert "already recorded" in english(error.errors["vendor_order_number"][0])
    assert db.session.get(PurchaseAuthorization, second).status == AuthorizationStatus.PENDING


# --- R5 order date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_date", "message"),
    [
        pytest.param(TOMORROW, "cannot be in the future", id="tomorrow"),
        pytest.param(TODAY + timedelta(days=400), "cannot be in the future", id="next-year"),
        pytest.param(None, "Enter the order date", id="missing"),
        pytest.param(TODAY - timedelta(days=1), "before the purchase authorization", id="past"),
    ],
)
def test_r5_order_date_in_the_future_missing_or_before_the_pa_is_refused(
    tenants, ctx, order_date, message
):
    error = refused(lambda: record(tenants.a, tenants.a.authorization.id, order_date=order_date))
    assert set(error.errors) == {"order_date"}
    assert message in english(error.errors["order_date"][0])


def test_r5_order_date_today_is_accepted(tenants, ctx):
    order = record(tenants.a, tenants.a.authorization.id, order_date=TODAY)
    assert reload_order(order.id).order_date == TODAY


def test_r5_order_date_before_the_authorizations_creation_is_refused(tenants, ctx):
    pa_id = tenants.a.authorization.id
    created = date(2026, 11, 19)
    set_pa_dates(pa_id, created_on=created, order_due_on=created + timedelta(days=14))
    error = refused(lambda: record(tenants.a, pa_id, order_date=date(2026, 11, 18)))
    assert set(error.errors) == {"order_date"}
    message = english(error.errors["order_date"][0])
    assert "before the purchase authorization was created" in message
    assert "November 19, 2026" in message
    # The creation day itself and any day up to today are fine.
    order = record(tenants.a, pa_id, order_date=created)
    assert reload_order(order.id).order_date == created


def test_r5_every_error_is_reported_at_once(tenants, ctx):
    error = refused(
        lambda: record(
            tenants.a, tenants.a.authorization.id, number="X-1", order_date=TOMORROW, duration=0
        )
    )
    assert set(error.errors) == {"vendor_order_number", "order_date", "duration_months"}


# --- R5 new and add-on ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_date", "anniversary"),
    [
        pytest.param(date(2026, 11, 29), date(2027, 11, 29), id="console-today"),
        pytest.param(date(2028, 2, 29), date(2029, 2, 28), id="29-february"),
        pytest.param(date(2027, 1, 31), date(2028, 1, 31), id="31-january"),
        pytest.param(date(2026, 12, 31), date(2027, 12, 31), id="new-years-eve"),
    ],
)
def test_r5_first_order_is_new_and_sets_the_anniversary(tenants, ctx, order_date, anniversary):
    tenant = tenants.a
    pa_id = tenant.authorization.id
    if order_date != TODAY:
        pa_id = new_pa(tenant, created_on=order_date)  # the VIP dates of another "today"
    customer = reload_customer(tenant.customer.id)
    assert customer.anniversary_date is None
    proposal = propose_duration(customer=customer, order_date=order_date)
    assert (proposal.order_type, proposal.months, proposal.anniversary) == (
        OrderType.NEW,
        12,
        anniversary,
    )
    sales = user(tenant.sales)
    order = record(tenant, pa_id, order_date=order_date, today=order_date, number="FIRST000001")
    order = reload_order(order.id)
    assert order.order_type == OrderType.NEW
    assert order.duration_months == 12
    assert order.order_date == order_date
    assert order.status == OrderStatus.PLACED
    assert order.created_by_id == sales.id
    assert reload_customer(tenant.customer.id).anniversary_date == anniversary
    (event,) = events("order.recorded", object_id=order.id)
    assert event.actor_id == sales.id
    assert event.customer_id == tenant.customer.id
    assert event.reseller_id == tenant.reseller.id
    assert event.object_type == "order"
    assert event.details["order_type"] == "new"
    assert event.details["proposed_months"] == 12
    assert event.details["chosen_months"] == 12
    assert event.details["anniversary_date"] == anniversary.isoformat()
    assert event.details["order_date"] == order_date.isoformat()
    assert event.details["vendor_order_number"] == "FIRST000001"
    assert event.details["authorization"] == db.session.get(PurchaseAuthorization, pa_id).number


def test_r5_first_order_duration_can_be_changed_and_both_are_audited(tenants, ctx):
    order = record(tenants.a, tenants.a.authorization.id, duration=9)
    assert reload_order(order.id).duration_months == 9
    # The anniversary is still the order date + 12 months.
    assert reload_customer(tenants.a.customer.id).anniversary_date == date(2027, 11, 29)
    (event,) = events("order.recorded", object_id=order.id)
    assert (event.details["proposed_months"], event.details["chosen_months"]) == (12, 9)


@pytest.mark.parametrize(
    ("order_date", "proposed", "period", "chosen"),
    [
        # Anniversary 29 Nov 2027 (first order on 29 Nov 2026), anchors on the 29th.
        pytest.param(
            date(2027, 4, 20), 8, (date(2027, 3, 29), date(2027, 4, 28)), 8, id="proposal-kept"
        ),
        pytest.param(
            date(2027, 4, 20), 8, (date(2027, 3, 29), date(2027, 4, 28)), 7, id="changed-to-7"
        ),
        pytest.param(
            date(2027, 2, 28), 9, (date(2027, 2, 28), date(2027, 3, 28)), 12, id="feb-anchor"
        ),
        pytest.param(
            date(2027, 11, 28), 1, (date(2027, 10, 29), date(2027, 11, 28)), 1, id="day-before"
        ),
        pytest.param(
            date(2026, 11, 30), 12, (date(2026, 11, 29), date(2026, 12, 28)), 12, id="next-day"
        ),
    ],
)
def test_r5_later_order_is_an_add_on_co_terminous_with_the_anniversary(
    tenants, ctx, order_date, proposed, period, chosen
):
    tenant = tenants.a
    record(tenant, tenant.authorization.id)
    customer = reload_customer(tenant.customer.id)
    assert customer.anniversary_date == date(2027, 11, 29)
    proposal = propose_duration(customer=customer, order_date=order_date)
    assert proposal.order_type == OrderType.ADD_ON
    assert proposal.months == proposed
    assert proposal.anniversary == date(2027, 11, 29)
    assert (proposal.period_start, proposal.period_end) == period

    second = new_pa(tenant, (("Illustrator", 2),), created_on=order_date)
    order = record(tenant, second, order_date=order_date, today=order_date, duration=chosen)
    order = reload_order(order.id)
    assert order.order_type == OrderType.ADD_ON
    assert order.duration_months == chosen
    assert reload_customer(tenant.customer.id).anniversary_date == date(2027, 11, 29)
    (event,) = events("order.recorded", object_id=order.id)
    assert event.details["order_type"] == "add_on"
    assert event.details["proposed_months"] == proposed
    assert event.details["chosen_months"] == chosen
    assert event.details["anniversary_date"] == "2027-11-29"


@pytest.mark.parametrize("duration", [1, 12])
def test_r5_chosen_duration_1_to_12_is_accepted(tenants, ctx, duration):
    order = record(tenants.a, tenants.a.authorization.id, duration=duration)
    assert reload_order(order.id).duration_months == duration


@pytest.mark.parametrize("duration", [0, 13, -1, 120, None])
def test_r5_chosen_duration_outside_1_to_12_is_refused(tenants, ctx, duration):
    record(tenants.a, tenants.a.authorization.id)
    second = new_pa(tenants.a, created_on=date(2027, 4, 20))
    error = refused(
        lambda: record(
            tenants.a,
            second,
            order_date=date(2027, 4, 20),
            today=date(2027, 4, 20),
            duration=duration,
        )
    )
    assert set(error.errors) == {"duration_months"}
    assert "from 1 to 12" in english(error.errors["duration_months"][0])


@pytest.mark.parametrize(
    "order_date",
    [
        pytest.param(date(2027, 11, 29), id="on-the-anniversary"),
        pytest.param(date(2027, 12, 1), id="after-the-anniversary"),
    ],
)
def test_r5_add_on_on_or_after_the_anniversary_is_refused(tenants, ctx, order_date):
    tenant = tenants.a
    record(tenant, tenant.authorization.id)
    second = new_pa(tenant, created_on=order_date)
    with pytest.raises(DomainError) as proposal:
        propose_duration(customer=reload_customer(tenant.customer.id), order_date=order_date)
    assert proposal.value.field == "order_date"
    error = refused(
        lambda: record(tenant, second, order_date=order_date, today=order_date, duration=1)
    )
    assert set(error.errors) == {"order_date"}
    message = english(error.errors["order_date"][0])
    assert "on or after the anniversary date November 29, 2027" in message
    assert "renewal" in message


# --- R5 what recording does ----------------------------------------------------------------


def test_r5_recording_orders_the_pa_creates_the_order_and_adds_the_licenses(tenants, ctx):
    tenant = tenants.a
    pa_id = tenant.authorization.id
    assert stock(tenant.customer.id) == {}
    order = record(tenant, pa_id)
    pa = db.session.get(PurchaseAuthorization, pa_id)
    assert pa.status == AuthorizationStatus.ORDERED
    order = reload_order(order.id)
    assert order.authorization_id == pa_id and order.customer_id == tenant.customer.id
    assert [
        (line.product.name, line.quantity, line.returned_quantity, line.status)
        for line in order.lines
    ] == [("Photoshop", 5, 0, OrderStatus.PLACED)]
    assert stock(tenant.customer.id) == {"Photoshop": (5, 0, 0, 5)}

    second = new_pa(tenant, (("Photoshop", 3), ("Illustrator", 2)))
    assign(tenant.customer.id, "Photoshop", 4)
    record(tenant, second, duration=12)
    # product: (purchased, returned, assigned, available)
    assert stock(tenant.customer.id) == {"Illustrator": (2, 0, 0, 2), "Photoshop": (8, 0, 4, 4)}
    # The other tenant's inventory is untouched.
    assert stock(tenants.b.customer.id) == {}
    assert service.order_id_for_authorization(db.session.get(PurchaseAuthorization, second))


@pytest.mark.parametrize("previous", [CustomerStatus.ACTIVE, CustomerStatus.INVITED])
def test_r5_r4_recording_the_only_overdue_pa_clears_the_delay_at_once(tenants, ctx, previous):
    tenant = tenants.a
    pa_id = tenant.authorization.id
    set_pa_dates(
        pa_id, created_on=TODAY - timedelta(days=20), order_due_on=TODAY - timedelta(days=6)
    )
    set_delayed(tenant.customer.id, previous)
    new_pa(tenant)  # pending but not overdue: does not keep the delay
    sales = user(tenant.sales)
    order = record(tenant, pa_id, order_date=TODAY - timedelta(days=10))
    customer = reload_customer(tenant.customer.id)
    assert customer.status == previous
    assert customer.status_before_delay is None
    (event,) = events("customer.delay_cleared")
    assert event.customer_id == tenant.customer.id
    assert event.actor_id == sales.id
    assert event.details == {"status": previous.value}
    assert len(events("order.recorded", object_id=order.id)) == 1


def test_r5_r4_another_overdue_pa_keeps_the_customer_delayed(tenants, ctx):
    tenant = tenants.a
    other = new_pa(tenant, created_on=TODAY - timedelta(days=16))
    assert db.session.get(PurchaseAuthorization, other).is_overdue(TODAY)
    set_pa_dates(
        tenant.authorization.id,
        created_on=TODAY - timedelta(days=20),
        order_due_on=TODAY - timedelta(days=6),
    )
    set_delayed(tenant.customer.id, CustomerStatus.ACTIVE)
    record(tenant, tenant.authorization.id)
    customer = reload_customer(tenant.customer.id)
    assert customer.status == CustomerStatus.DELAYED
    assert customer.status_before_delay == CustomerStatus.ACTIVE
    assert events("customer.delay_cleared") == []
    record(tenant, other, order_date=TODAY)
    assert reload_customer(tenant.customer.id).status == CustomerStatus.ACTIVE
    assert len(events("customer.delay_cleared")) == 1


def test_r5_recording_twice_is_refused_and_writes_nothing(tenants, ctx):
    tenant = tenants.a
    pa_id = tenant.authorization.id
    first = record(tenant, pa_id, number="ONCE000001")
    error = refused(lambda: record(tenant, pa_id, number="TWICE00002", actor=user(tenant.admin)))
    assert "no longer pending" in english(error)
    assert tenant.authorization.number in english(error)
    assert db.session.scalars(select(Order.id).where(Order.authorization_id == pa_id)).all() == [
        first.id
    ]
    assert len(events("order.recorded")) == 1


def test_r5_a_cancelled_pa_cannot_be_recorded(tenants, ctx):
    pa_id = tenants.a.authorization.id
    cancel_purchase_authorization(user=user(tenants.a.sales), pa_id=pa_id, today=TODAY, now=NOW)
    error = refused(lambda: record(tenants.a, pa_id))
    assert "no longer pending" in english(error)
    assert db.session.get(PurchaseAuthorization, pa_id).status == AuthorizationStatus.CANCELLED


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r5_reseller_users_record_orders(tenants, ctx, role):
    actor = user(getattr(tenants.a, role))
    order = record(tenants.a, tenants.a.authorization.id, actor=actor)
    assert reload_order(order.id).created_by_id == actor.id


def test_r5_vip_admin_cannot_record(tenants, ctx):
    error = refused(
        lambda: record(tenants.a, tenants.a.authorization.id, actor=user(tenants.a.vip_admin)),
        PermissionDenied,
    )
    assert error.action == "orders.record"


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r5_s10_another_tenants_pa_is_not_visible(tenants, ctx, role):
    refused(
        lambda: record(tenants.a, tenants.b.authorization.id, actor=user(getattr(tenants.a, role))),
        NotVisible,
    )
    assert (
        db.session.get(PurchaseAuthorization, tenants.b.authorization.id).status
        == AuthorizationStatus.PENDING
    )
    refused(lambda: record(tenants.a, 999_999), NotVisible)


# --- R7 the return window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_ago", "closes_on", "is_open"),
    [
        pytest.param(0, date(2026, 12, 13), True, id="day-0"),
        pytest.param(13, date(2026, 11, 30), True, id="day-13"),
        pytest.param(14, date(2026, 11, 29), True, id="day-14"),
        pytest.param(15, date(2026, 11, 28), False, id="day-15"),
        pytest.param(40, date(2026, 11, 3), False, id="day-40"),
    ],
)
def test_r7_return_window_is_14_days(tenants, ctx, days_ago, closes_on, is_open):
    order = place(tenants.a, order_date=TODAY - timedelta(days=days_ago))
    assert return_window_closes_on(order) == closes_on
    assert return_window_open(order, TODAY) is is_open
    line = line_of(order, "Photoshop")
    if is_open:
        item = ask(tenants.a, order.id, {line.id: 1})
        assert db.session.get(ReturnAuthorization, item.id).status == ReturnStatus.REQUESTED
    else:
        error = refused(lambda: ask(tenants.a, order.id, {line.id: 1}), DomainError)
        message = english(error)
        # Says why (the window closed, on which date) and what to do.
        assert f"closed on {closes_on:%B} {closes_on.day}, {closes_on.year}" in message
        assert "14 days after the order date" in message
        assert "Contact the vendor's support" in message


def test_r7_window_closed_today_but_open_yesterday(tenants, ctx):
    """The same order: day 14 may still request; on day 15 (tomorrow) it is refused."""
    order = place(tenants.a, order_date=TODAY - timedelta(days=14))
    line = line_of(order, "Photoshop")
    refused(lambda: ask(tenants.a, order.id, {line.id: 1}, today=TOMORROW), DomainError)
    ask(tenants.a, order.id, {line.id: 1}, today=TODAY)


# --- R7 quantities -------------------------------------------------------------------------


def test_r7_partial_returns_70_60_55(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 70),))
    line_id = line_of(order, "Photoshop").id

    first = ask(tenant, order.id, {line_id: 10})
    remaining, _unassigned, can_return = returnable(order.id)["Photoshop"]
    assert (remaining, can_return) == (60, 60)  # the open request holds its 10
    decide(tenant, first.id)
    assert returnable(order.id) == {"Photoshop": (60, 60, 60)}
    assert stock(tenant.customer.id) == {"Photoshop": (70, 10, 0, 60)}

    second = ask(tenant, order.id, {line_id: 5})
    decide(tenant, second.id)
    assert returnable(order.id) == {"Photoshop": (55, 55, 55)}
    assert stock(tenant.customer.id) == {"Photoshop": (70, 15, 0, 55)}
    assert reload_order(order.id).status == OrderStatus.PLACED

    error = refused(lambda: ask(tenant, order.id, {line_id: 56}))
    assert set(error.errors) == {f"line-{line_id}"}
    assert "At most 55 can still be returned" in english(error.errors[f"line-{line_id}"][0])

    last = ask(tenant, order.id, {line_id: 55})
    decide(tenant, last.id)
    order = reload_order(order.id)
    line = line_of(order, "Photoshop")
    assert (line.returned_quantity, line.status) == (70, OrderStatus.RETURNED)
    assert order.status == OrderStatus.RETURNED
    assert stock(tenant.customer.id) == {"Photoshop": (70, 70, 0, 0)}
    assert len(events("return.approved")) == 3
    # Nothing remains: a further request is refused with the reason.
    error = refused(lambda: ask(tenant, order.id, {line_id: 1}), DomainError)
    assert "already fully returned" in english(error)


def test_r7_open_requests_reduce_what_can_be_requested_again(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 70),))
    line_id = line_of(order, "Photoshop").id
    first = ask(tenant, order.id, {line_id: 30})
    assert returnable(order.id)["Photoshop"][0] == 40
    error = refused(lambda: ask(tenant, order.id, {line_id: 41}))
    assert "At most 40" in english(error.errors[f"line-{line_id}"][0])
    ask(tenant, order.id, {line_id: 40})
    error = refused(lambda: ask(tenant, order.id, {line_id: 1}))
    assert "At most 0" in english(error.errors[f"line-{line_id}"][0])
    # A rejected request no longer holds its quantity.
    decide(tenant, first.id, approve=False)
    assert returnable(order.id)["Photoshop"][0] == 30
    ask(tenant, order.id, {line_id: 30})


def test_r7_assigned_licenses_limit_the_return_and_the_refusal_says_to_unassign(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 5), ("Illustrator", 2)))
    line_id = line_of(order, "Photoshop").id
    assign(tenant.customer.id, "Photoshop", 3)
    assert returnable(order.id) == {"Photoshop": (5, 2, 2), "Illustrator": (2, 2, 2)}
    error = refused(lambda: ask(tenant, order.id, {line_id: 3}))
    assert set(error.errors) == {f"line-{line_id}"}
    message = english(error.errors[f"line-{line_id}"][0])
    assert "Only 2 licenses of Photoshop are unassigned" in message
    assert "unassign licenses first" in message
    item = ask(tenant, order.id, {line_id: 2})
    decide(tenant, item.id)
    assert stock(tenant.customer.id)["Photoshop"] == (5, 2, 3, 0)


def test_r7_every_license_assigned_leaves_nothing_to_return(tenants, ctx):
    tenant = tenants.a
    order = place(tenant)
    assign(tenant.customer.id, "Photoshop", 5)
    line_id = line_of(order, "Photoshop").id
    assert returnable(order.id) == {"Photoshop": (5, 0, 0)}
    error = refused(lambda: ask(tenant, order.id, {line_id: 1}))
    assert "unassign" in english(error.errors[f"line-{line_id}"][0])


def test_r7_open_requests_count_against_the_unassigned_licenses(tenants, ctx):
    tenant = tenants.a
    order = place(tenant)
    line_id = line_of(order, "Photoshop").id
    assign(tenant.customer.id, "Photoshop", 3)
    ask(tenant, order.id, {line_id: 2})  # both unassigned licenses are now asked back
    assert returnable(order.id)["Photoshop"][2] == 0
    error = refused(lambda: ask(tenant, order.id, {line_id: 2}))
    assert "unassign" in english(error.errors[f"line-{line_id}"][0])


def test_r7_licenses_assigned_after_the_request_block_the_approval(tenants, ctx):
    tenant = tenants.a
    order = place(tenant)
    line_id = line_of(order, "Photoshop").id
    item = ask(tenant, order.id, {line_id: 4})
    assign(tenant.customer.id, "Photoshop", 2)
    error = refused(lambda: decide(tenant, item.id), DomainError)
    message = english(error)
    assert "Only 3 licenses of Photoshop are unassigned now" in message
    assert "unassign" in message and "reject the return" in message
    assert db.session.get(ReturnAuthorization, item.id).status == ReturnStatus.REQUESTED
    decide(tenant, item.id, approve=False, comment="Licenses in use")
    assert stock(tenant.customer.id)["Photoshop"] == (5, 0, 2, 3)


@pytest.mark.parametrize("reason", ["", "   ", None, "\n\t"])
def test_r7_a_reason_is_required(tenants, ctx, reason):
    order = place(tenants.a)
    line_id = line_of(order, "Photoshop").id
    error = refused(lambda: ask(tenants.a, order.id, {line_id: 1}, reason=reason))
    assert set(error.errors) == {"reason"}
    assert "Give a reason" in english(error.errors["reason"][0])


def test_r7_reason_of_at_most_500_characters(tenants, ctx):
    order = place(tenants.a)
    line_id = line_of(order, "Photoshop").id
    error = refused(lambda: ask(tenants.a, order.id, {line_id: 1}, reason="x" * 501))
    assert set(error.errors) == {"reason"}
    item = ask(tenants.a, order.id, {line_id: 1}, reason="  " + "y" * 500 + "  ")
    assert db.session.get(ReturnAuthorization, item.id).reason == "y" * 500


@pytest.mark.parametrize(
    "quantities",
    [pytest.param({}, id="none"), pytest.param(0, id="zero"), pytest.param(None, id="blank")],
)
def test_r7_no_quantity_to_return_is_refused(tenants, ctx, quantities):
    order = place(tenants.a, (("Photoshop", 5), ("Illustrator", 2)))
    if quantities != {}:
        quantities = {line.id: quantities for line in order.lines}
    error = refused(lambda: ask(tenants.a, order.id, quantities))
    assert set(error.errors) == {"lines"}
    assert "at least one line" in english(error.errors["lines"][0])


def test_r7_negative_quantity_and_foreign_lines_are_refused_at_the_line(tenants, full_tenants, ctx):
    order = place(tenants.a, (("Photoshop", 5), ("Illustrator", 2)))
    photoshop = line_of(order, "Photoshop").id
    other_order = place(tenants.a, (("Acrobat Pro", 1),))
    own_other_line = other_order.lines[0].id
    foreign_line = first_line_id(full_tenants["b"].order.id)
    error = refused(
        lambda: ask(
            tenants.a,
            order.id,
            {photoshop: -1, own_other_line: 1, foreign_line: 1},
        )
    )
    assert set(error.errors) == {
        f"line-{photoshop}",
        f"line-{own_other_line}",
        f"line-{foreign_line}",
    }
    assert "0 or more" in english(error.errors[f"line-{photoshop}"][0])
    assert "not part of the order" in english(error.errors[f"line-{foreign_line}"][0])


def test_r7_request_is_audited_and_listed_in_the_queue(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 5), ("Illustrator", 2)))
    sales = user(tenant.sales)
    item = ask(
        tenant,
        order.id,
        {line_of(order, "Photoshop").id: 2, line_of(order, "Illustrator").id: 0},
        reason="  Wrong product  ",
    )
    item = db.session.get(ReturnAuthorization, item.id)
    assert item.reason == "Wrong product"
    assert item.requested_by_id == sales.id
    assert [(line.order_line.product.name, line.quantity) for line in item.lines] == [
        ("Photoshop", 2)
    ]
    (event,) = events("return.requested", object_id=item.id)
    assert event.actor_id == sales.id and event.customer_id == tenant.customer.id
    assert event.details["reason"] == "Wrong product"
    assert event.details["lines"] == [[line_of(order, "Photoshop").product.sku, 2]]
    assert event.details["order"] == order.vendor_order_number
    for role in ("sales", "admin"):
        queue = return_queue(user=user(getattr(tenant, role)))
        assert [entry.id for entry in queue] == [item.id]
    assert return_queue(user=user(tenant.admin), status="approved") == []
    assert return_queue(user=user(tenants.b.admin)) == []


# --- R7 deciding ---------------------------------------------------------------------------


def test_r7_approval_takes_the_licenses_back_and_marks_returned_lines_and_orders(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 5), ("Illustrator", 3)))
    photoshop, illustrator = line_of(order, "Photoshop").id, line_of(order, "Illustrator").id
    item = ask(tenant, order.id, {photoshop: 5, illustrator: 1})
    admin = user(tenant.admin)
    decide(tenant, item.id, comment="  OK by vendor  ")

    item = db.session.get(ReturnAuthorization, item.id)
    assert item.status == ReturnStatus.APPROVED
    assert item.decided_by_id == admin.id
    assert item.decided_at == NOW
    assert item.decision_comment == "OK by vendor"
    order = reload_order(order.id)
    assert [(line.product.name, line.returned_quantity, line.status) for line in order.lines] == [
        ("Photoshop", 5, OrderStatus.RETURNED),
        ("Illustrator", 1, OrderStatus.PLACED),
    ]
    assert order.status == OrderStatus.PLACED
    assert stock(tenant.customer.id) == {
        "Illustrator": (3, 1, 0, 2),
        "Photoshop": (5, 5, 0, 0),
    }
    (event,) = events("return.approved", object_id=item.id)
    assert event.actor_id == admin.id and event.customer_id == tenant.customer.id
    assert event.details["comment"] == "OK by vendor"
    assert sorted(event.details["lines"]) == sorted(
        [[line.product.sku, n] for line, n in zip(order.lines, (5, 1), strict=True)]
    )

    last = ask(tenant, order.id, {illustrator: 2})
    decide(tenant, last.id)
    order = reload_order(order.id)
    assert {line.status for line in order.lines} == {OrderStatus.RETURNED}
    assert order.status == OrderStatus.RETURNED
    assert not return_window_open(order, TODAY)


def test_r7_rejection_leaves_everything_as_it_was(tenants, ctx):
    tenant = tenants.a
    order = place(tenant, (("Photoshop", 5),))
    line_id = line_of(order, "Photoshop").id
    item = ask(tenant, order.id, {line_id: 5})
    before_lines = snapshot()["lines"]
    before_stock = stock(tenant.customer.id)
    decide(tenant, item.id, approve=False, comment="Keep them")
    item = db.session.get(ReturnAuthorization, item.id)
    assert item.status == ReturnStatus.REJECTED
    assert item.decision_comment == "Keep them"
    assert item.decided_by_id == tenant.admin.id
    assert snapshot()["lines"] == before_lines
    assert stock(tenant.customer.id) == before_stock == {"Photoshop": (5, 0, 0, 5)}
    assert reload_order(order.id).status == OrderStatus.PLACED
    (event,) = events("return.rejected", object_id=item.id)
    assert event.details["comment"] == "Keep them"
    assert events("return.approved") == []
    assert returnable(order.id) == {"Photoshop": (5, 5, 5)}


def test_r7_comment_of_more_than_500_characters_is_refused(tenants, ctx):
    order = place(tenants.a)
    item = ask(tenants.a, order.id, {line_of(order, "Photoshop").id: 1})
    error = refused(lambda: decide(tenants.a, item.id, comment="c" * 501), DomainError)
    assert error.field == "comment"


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize("role", ["sales", "vip_admin"])
def test_r7_s11_only_reseller_admin_decides(tenants, ctx, approve, role):
    order = place(tenants.a)
    item = ask(tenants.a, order.id, {line_of(order, "Photoshop").id: 2})
    error = refused(
        lambda: decide(tenants.a, item.id, approve=approve, actor=user(getattr(tenants.a, role))),
        PermissionDenied,
    )
    assert error.action in {"returns.approve", "customers.view"}
    assert db.session.get(ReturnAuthorization, item.id).status == ReturnStatus.REQUESTED


def test_r7_s11_vip_admin_cannot_request(tenants, ctx):
    order = place(tenants.a)
    refused(
        lambda: request_return(
            user=user(tenants.a.vip_admin),
            order_id=order.id,
            today=TODAY,
            quantities={line_of(order, "Photoshop").id: 1},
            reason="x",
        ),
        PermissionDenied,
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [(True, True), (True, False), (False, True), (False, False)],
    ids=["approve-approve", "approve-reject", "reject-approve", "reject-reject"],
)
def test_r7_deciding_twice_is_refused(tenants, ctx, first, second):
    order = place(tenants.a)
    item = ask(tenants.a, order.id, {line_of(order, "Photoshop").id: 2})
    decide(tenants.a, item.id, approve=first)
    error = refused(lambda: decide(tenants.a, item.id, approve=second), DomainError)
    assert "already decided" in english(error)
    expected = ReturnStatus.APPROVED if first else ReturnStatus.REJECTED
    assert db.session.get(ReturnAuthorization, item.id).status == expected
    assert line_of(reload_order(order.id), "Photoshop").returned_quantity == (2 if first else 0)


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r7_s10_another_tenants_order_and_return_are_not_visible(full_tenants, ctx, role):
    a, b = full_tenants["a"], full_tenants["b"]
    actor = user(getattr(a.tenant, role))
    b_line = first_line_id(b.order.id)
    refused(lambda: get_order_for(user=actor, order_id=b.order.id), NotVisible)
    refused(
        lambda: request_return(
            user=actor, order_id=b.order.id, today=TODAY, quantities={b_line: 1}, reason="x"
        ),
        NotVisible,
    )
    for approve in (True, False):
        refused(
            lambda approve=approve: decide_return(
                user=actor, return_id=b.return_request.id, approve=approve, comment="", now=NOW
            ),
            NotVisible,
        )
    refused(lambda: get_order_for(user=actor, order_id=999_999), NotVisible)
    assert [item.id for item in return_queue(user=actor)] == [a.return_request.id]
    assert db.session.get(ReturnAuthorization, b.return_request.id).status == ReturnStatus.REQUESTED


# --- S23 two concurrent approvals of one return -------------------------------------------


def _second_admin(app, tenant) -> int:
    with app.test_request_context():
        try:
            admin = create_user(
                email="a-admin2@example.com",
                name="a Admin Two",
                password=PASSWORD,
                role=Role.RESELLER_ADMIN,
                reseller=db.session.get(Reseller, tenant.reseller.id),
            )
            return admin.id
        finally:
            db.session.remove()


def _run_concurrently(app, work, actors: list[int]) -> list:
    """Runs `work(actor)` in one thread per actor, all released at once by a barrier."""
    start = threading.Barrier(len(actors))
    outcomes: list = [None] * len(actors)

    def worker(index: int) -> None:
        with app.test_request_context():
            try:
                actor = db.session.get(User, actors[index])
                db.session.commit()  # no transaction held while waiting at the barrier
                start.wait(timeout=10)
                work(actor)
                outcomes[index] = "ok"
            except DomainError as error:
                outcomes[index] = english(error)
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcomes[index] = error
            finally:
                db.session.remove()

    with app.app_context():
        db.session.remove()  # the test thread holds no transaction while the threads run
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(actors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _meet_after_the_check(monkeypatch, parties: int = 2) -> None:
    """Each decision waits (briefly) after its status check for the other, so on PostgreSQL
    both read `requested` before either writes. On SQLite the second thread's BEGIN
    IMMEDIATE waits for the first to commit instead, and the barrier times out."""
    after_check = threading.Barrier(parties)
    original = service.license_inventory

    def meet_then_count(*, customer):
        with contextlib.suppress(threading.BrokenBarrierError):
            after_check.wait(timeout=1.5)
        return original(customer=customer)

    monkeypatch.setattr(service, "license_inventory", meet_then_count)


@pytest.mark.parametrize("interleave", [False, True], ids=["barrier", "both-past-the-check"])
def test_s23_r7_two_concurrent_approvals_of_one_return_happen_once(
    app, tenants, monkeypatch, interleave
):
    with app.test_request_context():
        try:
            order = place(tenants.a, (("Photoshop", 70),))
            line_id = line_of(order, "Photoshop").id
            return_id = ask(tenants.a, order.id, {line_id: 10}).id
        finally:
            db.session.remove()
    actors = [tenants.a.admin.id, _second_admin(app, tenants.a)]
    if interleave:
        _meet_after_the_check(monkeypatch)

    outcomes = _run_concurrently(
        app,
        lambda actor: decide_return(
            user=actor, return_id=return_id, approve=True, comment="", now=NOW
        ),
        actors,
    )

    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refusal, str) and "already decided" in refusal, outcomes
    with app.app_context():
        try:
            item = db.session.get(ReturnAuthorization, return_id)
            assert item.status == ReturnStatus.APPROVED
            assert item.decided_by_id == actors[outcomes.index("ok")]
            line = db.session.get(OrderLine, line_id)
            assert line.returned_quantity == 10  # once, not 20
            (event,) = events("return.approved")
            assert event.actor_id == actors[outcomes.index("ok")]
        finally:
            db.session.remove()


def test_s23_r7_concurrent_approve_and_reject_of_one_return_decide_once(app, tenants):
    with app.test_request_context():
        try:
            order = place(tenants.a, (("Photoshop", 70),))
            line_id = line_of(order, "Photoshop").id
            return_id = ask(tenants.a, order.id, {line_id: 10}).id
        finally:
            db.session.remove()
    actors = [tenants.a.admin.id, _second_admin(app, tenants.a)]

    def work(actor):
        decide_return(
            user=actor, return_id=return_id, approve=actor.id == actors[0], comment="", now=NOW
        )

    outcomes = _run_concurrently(app, work, actors)
    assert outcomes.count("ok") == 1, outcomes
    with app.app_context():
        try:
            item = db.session.get(ReturnAuthorization, return_id)
            approved = outcomes[0] == "ok"
            assert item.status == (ReturnStatus.APPROVED if approved else ReturnStatus.REJECTED)
            returned = db.session.get(OrderLine, line_id).returned_quantity
            assert returned == (10 if approved else 0)
            decisions = events("return.approved") + events("return.rejected")
            assert len(decisions) == 1
        finally:
            db.session.remove()


def test_s23_r7_concurrent_approvals_of_two_returns_of_one_line_add_up(
    app, tenants, monkeypatch, request
):
    """Two admins approve two different requests of the same line at the same moment: the
    line's returned quantity must be the sum (no lost update)."""
    with app.test_request_context():
        try:
            order = place(tenants.a, (("Photoshop", 70),))
            line_id = line_of(order, "Photoshop").id
            returns = [ask(tenants.a, order.id, {line_id: n}).id for n in (10, 5)]
        finally:
            db.session.remove()
    actors = [tenants.a.admin.id, _second_admin(app, tenants.a)]
    _meet_after_the_check(monkeypatch)

    def work(actor):
        decide_return(
            user=actor,
            return_id=returns[actors.index(actor.id)],
            approve=True,
            comment="",
            now=NOW,
        )

    outcomes = _run_concurrently(app, work, actors)
    assert outcomes == ["ok", "ok"], outcomes
    with app.app_context():
        try:
            assert db.session.get(OrderLine, line_id).returned_quantity == 15
            assert len(events("return.approved")) == 2
        finally:
            db.session.remove()
