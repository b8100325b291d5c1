"""The renewal pipeline (vip/services/pipeline.py): the 12 month buckets (the current month
and the next 11, by the anniversary's calendar month), the status of each anniversary at
its boundary dates, renewed anniversaries found from the renewal orders, licenses of the
current term net of returns, tenancy, and a constant number of statements."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from tests.conftest import TODAY
from tests.support import pid
from vip.extensions import db
from vip.models import Customer, CustomerStatus, Order, OrderLine, OrderStatus, OrderType, User
from vip.services.customers import create_customer
from vip.services.orders import decide_return, record_order, request_return
from vip.services.pipeline import PipelineStatus, Tally, renewal_pipeline
from vip.services.renewals import record_renewal
from vip.services.terms import add_months

RENEWED, OVERDUE, WINDOW_OPEN, UPCOMING = (
    PipelineStatus.RENEWED,
    PipelineStatus.OVERDUE,
    PipelineStatus.WINDOW_OPEN,
    PipelineStatus.UPCOMING,
)
_serial = itertools.count(1)


def add_customer(
    tenant,
    anniversary: date | None,
    lines: dict[str, int] | None = None,
    *,
    name: str | None = None,
    order_type: OrderType = OrderType.NEW,
) -> int:
    """A customer of `tenant` whose current term runs to `anniversary`, holding `lines`
    (product name -> quantity) from one order."""
    serial = next(_serial)
    customer = create_customer(
        user=db.session.get(User, tenant.admin.id),
        today=TODAY,
        company_name=name or f"Pipeline {serial:03d} AB",
        country="SE",
        market_segment="commercial",
        admin_name="Kund Admin",
        admin_email=f"it{serial}@pipeline.example",
        admin_language="sv",
    )
    if anniversary is not None:
        give_order(customer.id, anniversary, lines or {"Photoshop": 5}, order_type=order_type)
        customer.anniversary_date = anniversary
        customer.status = CustomerStatus.ACTIVE
    db.session.commit()
    return customer.id


def give_order(
    customer_id: int,
    term_ends_on: date,
    lines: dict[str, int],
    *,
    order_type: OrderType = OrderType.NEW,
    returned: dict[str, int] | None = None,
) -> Order:
    order = Order(
        customer_id=customer_id,
        vendor_order_number=f"PL{next(_serial):08d}",
        order_type=order_type,
        order_date=add_months(term_ends_on, -12),
        duration_months=12,
        term_ends_on=term_ends_on,
        status=OrderStatus.PLACED,
    )
    db.session.add(order)
    for product, quantity in lines.items():
        back = (returned or {}).get(product, 0)
        db.session.add(
            OrderLine(
                order=order,
                product_id=pid(product),
                sku="SKU-" + product[:10],
                quantity=quantity,
                returned_quantity=back if back < quantity else 0,
                status=OrderStatus.RETURNED if back >= quantity else OrderStatus.PLACED,
            )
        )
    db.session.commit()
    return order


def cells(pipeline) -> dict[tuple[date, PipelineStatus], Tally]:
    """The non-empty (month, status) cells."""
    return {
        (month.month, status): tally
        for month in pipeline.months
        for status, tally in month.by_status.items()
        if tally != Tally()
    }


def months_of(pipeline) -> list[date]:
    return [month.month for month in pipeline.months]


# --- buckets and statuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anniversary", "today", "status"),
    [
        pytest.param(date(2027, 3, 15), date(2027, 2, 12), UPCOMING, id="AD-31 upcoming"),
        pytest.param(date(2027, 3, 15), date(2027, 2, 13), WINDOW_OPEN, id="AD-30 window open"),
        pytest.param(date(2027, 3, 15), date(2027, 3, 14), WINDOW_OPEN, id="AD-1 window open"),
        pytest.param(date(2027, 3, 15), date(2027, 3, 15), OVERDUE, id="AD overdue"),
        pytest.param(date(2027, 3, 1), date(2027, 3, 30), OVERDUE, id="AD+29 in grace"),
        pytest.param(date(2027, 1, 1), date(2027, 1, 31), OVERDUE, id="AD+30 access removed"),
        pytest.param(date(2027, 3, 15), date(2026, 5, 1), UPCOMING, id="long before"),
    ],
)
def test_status_at_the_boundary_dates(tenants, ctx, anniversary, today, status):
    customer_id = add_customer(tenants.a, anniversary, {"Photoshop": 4})
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)

    assert cells(pipeline) == {(anniversary.replace(day=1), status): Tally(1, 4)}
    assert pipeline.total == Tally(1, 4)
    assert db.session.get(Customer, customer_id).anniversary_date == anniversary


def test_anniversary_in_the_next_month_with_the_window_open(tenants, ctx):
    add_customer(tenants.a, date(2027, 3, 10), {"Photoshop": 2})
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 2, 20))

    assert months_of(pipeline)[:2] == [date(2027, 2, 1), date(2027, 3, 1)]
    assert pipeline.months[0].total == Tally()
    assert pipeline.months[1].by_status == {WINDOW_OPEN: Tally(1, 2)}


def test_twelve_months_the_twelfth_included_the_thirteenth_not(tenants, ctx):
    today = date(2026, 4, 30)
    add_customer(tenants.a, date(2026, 4, 1), {"Photoshop": 1})  # month 1 (first day)
    add_customer(tenants.a, date(2027, 3, 31), {"Photoshop": 2})  # month 12 (last day)
    add_customer(tenants.a, date(2027, 4, 1), {"Photoshop": 4})  # month 13
    add_customer(tenants.a, date(2026, 3, 31), {"Photoshop": 8})  # the month before
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)

    assert months_of(pipeline) == [add_months(date(2026, 4, 1), n) for n in range(12)]
    assert cells(pipeline) == {
        (date(2026, 4, 1), OVERDUE): Tally(1, 1),
        (date(2027, 3, 1), UPCOMING): Tally(1, 2),
    }


def test_december_wraps_into_january_of_the_next_year(tenants, ctx):
    add_customer(tenants.a, date(2026, 12, 31), {"Photoshop": 1})
    add_customer(tenants.a, date(2027, 1, 5), {"Photoshop": 3})
    add_customer(tenants.a, date(2027, 11, 30), {"Photoshop": 5})
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2026, 12, 15))

    assert months_of(pipeline)[0] == date(2026, 12, 1)
    assert months_of(pipeline)[1] == date(2027, 1, 1)
    assert months_of(pipeline)[-1] == date(2027, 11, 1)
    assert cells(pipeline) == {
        (date(2026, 12, 1), WINDOW_OPEN): Tally(1, 1),
        (date(2027, 1, 1), WINDOW_OPEN): Tally(1, 3),
        (date(2027, 11, 1), UPCOMING): Tally(1, 5),
    }


def test_one_month_splits_by_status_and_sums_customers_and_licenses(tenants, ctx):
    today = date(2027, 5, 15)
    add_customer(tenants.a, date(2027, 5, 2), {"Photoshop": 3, "Illustrator": 2})  # overdue
    add_customer(tenants.a, date(2027, 5, 15), {"Photoshop": 1})  # overdue (AD today)
    add_customer(tenants.a, date(2027, 5, 31), {"InDesign": 7})  # window open
    add_customer(tenants.a, date(2027, 5, 31), {"Photoshop": 6})  # window open, same day
    add_customer(tenants.a, None)  # no anniversary: no order yet
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)

    assert pipeline.months[0].by_status == {OVERDUE: Tally(2, 6), WINDOW_OPEN: Tally(2, 13)}
    assert pipeline.months[0].total == Tally(4, 19)
    assert pipeline.total == Tally(4, 19)


def test_licenses_are_of_the_current_term_add_ons_included(tenants, ctx):
    anniversary = date(2027, 6, 20)
    customer_id = add_customer(tenants.a, anniversary, {"Photoshop": 5})
    give_order(customer_id, anniversary, {"Illustrator": 2}, order_type=OrderType.ADD_ON)
    give_order(customer_id, add_months(anniversary, -12), {"Photoshop": 40})  # last term
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 1, 10))

    assert cells(pipeline) == {(date(2027, 6, 1), UPCOMING): Tally(1, 7)}


# --- returns -------------------------------------------------------------------------------


def test_returns_reduce_the_licenses(tenants, ctx):
    anniversary = date(2027, 6, 20)
    customer_id = add_customer(tenants.a, anniversary, {"Photoshop": 10})
    give_order(
        customer_id,
        anniversary,
        {"Illustrator": 4, "InDesign": 3},
        order_type=OrderType.ADD_ON,
        returned={"Illustrator": 1, "InDesign": 3},  # part of a line, and a whole line
    )
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 6, 1))

    assert cells(pipeline) == {(date(2027, 6, 1), WINDOW_OPEN): Tally(1, 13)}


def test_an_approved_return_reduces_the_licenses_a_requested_one_not(tenants, ctx):
    """Through the real services: the tenant's Photoshop × 5 ordered on TODAY (anniversary
    a year on), 2 asked back, then approved."""
    sales = db.session.get(User, tenants.a.sales.id)
    order = record_order(
        user=sales,
        pa_id=tenants.a.authorization.id,
        today=TODAY,
        vendor_order_number="PLRETURN01",
        order_date=TODAY,
        duration_months=12,
    )
    anniversary = add_months(TODAY, 12)
    today = date(2026, 12, 10)  # so that the anniversary's month is the twelfth
    request = request_return(
        user=sales,
        order_id=order.id,
        today=TODAY,
        quantities={order.lines[0].id: 2},
        reason="Too many",
    )
    requested = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)
    decide_return(
        user=db.session.get(User, tenants.a.admin.id),
        return_id=request.id,
        approve=True,
        comment="",
        now=datetime.now(UTC),
    )
    approved = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)

    month = anniversary.replace(day=1)
    assert months_of(approved)[-1] == month
    assert cells(requested) == {(month, UPCOMING): Tally(1, 5)}
    assert cells(approved) == {(month, UPCOMING): Tally(1, 3)}


def test_a_customer_whose_licenses_were_all_returned_still_counts(tenants, ctx):
    add_customer(tenants.a, date(2027, 2, 14), {"Photoshop": 5})
    customer_id = add_customer(tenants.a, None)
    give_order(customer_id, date(2027, 2, 14), {"Photoshop": 3}, returned={"Photoshop": 3})
    db.session.get(Customer, customer_id).anniversary_date = date(2027, 2, 14)
    db.session.commit()
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 1, 1))

    assert cells(pipeline) == {(date(2027, 2, 1), UPCOMING): Tally(2, 5)}


# --- renewed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "renewed_on",
    [
        pytest.param(date(2027, 1, 5), id="in the window"),
        pytest.param(date(2027, 1, 25), id="in grace"),
    ],
)
def test_a_renewed_customer_counts_as_renewed_in_its_old_anniversarys_month_only(
    tenants, ctx, renewed_on
):
    old = date(2027, 1, 10)
    customer_id = add_customer(tenants.a, old, {"Photoshop": 5, "Illustrator": 2})
    other_id = add_customer(tenants.a, date(2027, 1, 20), {"Photoshop": 1})  # not renewed
    before = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=renewed_on)
    record_renewal(
        user=db.session.get(User, tenants.a.sales.id),
        customer_id=customer_id,
        today=renewed_on,
        vendor_order_number=f"RN{renewed_on:%m%d}0001",
        order_date=renewed_on,
        quantities={pid("Photoshop"): 4, pid("Illustrator"): 2},
    )
    renewed = db.session.get(Customer, customer_id)
    db.session.refresh(renewed)
    assert renewed.anniversary_date == date(2028, 1, 10)

    after = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=renewed_on)
    # Both anniversaries stand alike: in the window on 5 January, in grace on the 25th.
    other_status = WINDOW_OPEN if renewed_on < old else OVERDUE
    assert before.months[0].by_status == {other_status: Tally(2, 8)}
    # The renewal's licenses, in the old anniversary's month; nothing anywhere else.
    assert after.months[0].by_status[RENEWED] == Tally(1, 6)
    assert after.months[0].by_status[other_status] == Tally(1, 1)
    assert after.total == Tally(2, 7)
    assert db.session.get(Customer, other_id).anniversary_date == date(2027, 1, 20)

    # A month later, the renewed anniversary has left the range; the new one is in month
    # 12, as upcoming, and not renewed.
    later = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 2, 3))
    assert cells(later) == {(date(2028, 1, 1), UPCOMING): Tally(1, 6)}


def test_a_renewal_of_an_anniversary_beyond_the_range_is_not_counted(tenants, ctx):
    """Renewed on 1 February for 10 February: seen from January the renewed anniversary is
    in month 2; seen from March it has left the range, and only the new anniversary (month
    12, upcoming) is counted."""
    customer_id = add_customer(tenants.a, date(2027, 2, 10), {"Photoshop": 3})
    record_renewal(
        user=db.session.get(User, tenants.a.sales.id),
        customer_id=customer_id,
        today=date(2027, 2, 1),
        vendor_order_number="RN00000777",
        order_date=date(2027, 2, 1),
        quantities={pid("Photoshop"): 3},
    )
    seen_before = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 1, 31))
    seen_after = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 3, 1))

    assert cells(seen_before) == {(date(2027, 2, 1), RENEWED): Tally(1, 3)}
    assert cells(seen_after) == {(date(2028, 2, 1), UPCOMING): Tally(1, 3)}


def test_a_renewed_customer_with_later_add_ons_counts_the_new_terms_licenses(tenants, ctx):
    customer_id = add_customer(tenants.a, date(2027, 4, 8), {"Photoshop": 5})
    record_renewal(
        user=db.session.get(User, tenants.a.sales.id),
        customer_id=customer_id,
        today=date(2027, 4, 1),
        vendor_order_number="RN00000888",
        order_date=date(2027, 4, 1),
        quantities={pid("Photoshop"): 5},
    )
    give_order(customer_id, date(2028, 4, 8), {"Illustrator": 2}, order_type=OrderType.ADD_ON)
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 4, 20))

    assert cells(pipeline) == {(date(2027, 4, 1), RENEWED): Tally(1, 7)}


# --- tenancy and statements ----------------------------------------------------------------


def test_another_resellers_customers_are_never_counted(tenants, ctx):
    add_customer(tenants.a, date(2027, 3, 3), {"Photoshop": 1})
    other_id = add_customer(tenants.b, date(2027, 3, 3), {"Photoshop": 9})
    record_renewal(
        user=db.session.get(User, tenants.b.sales.id),
        customer_id=other_id,
        today=date(2027, 3, 1),
        vendor_order_number="RN00000999",
        order_date=date(2027, 3, 1),
        quantities={pid("Photoshop"): 9},
    )
    add_customer(tenants.b, date(2027, 4, 3), {"Photoshop": 20})
    today = date(2027, 3, 2)

    mine = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=today)
    theirs = renewal_pipeline(reseller_id=tenants.b.reseller.id, today=today)

    assert cells(mine) == {(date(2027, 3, 1), WINDOW_OPEN): Tally(1, 1)}
    assert cells(theirs) == {
        (date(2027, 3, 1), RENEWED): Tally(1, 9),
        (date(2027, 4, 1), UPCOMING): Tally(1, 20),
    }


def test_an_empty_pipeline_has_twelve_empty_months(tenants, ctx):
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=TODAY)

    assert len(pipeline.months) == 12
    assert pipeline.total == Tally()
    assert pipeline.largest("customers") == 0


def test_a_constant_number_of_statements(tenants, ctx):
    def statements() -> int:
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 1, 1))
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    add_customer(tenants.a, date(2027, 2, 1), {"Photoshop": 1})
    one = statements()
    for n in range(20):
        customer_id = add_customer(
            tenants.a, date(2027, 1, 1) + timedelta(days=17 * n), {"Photoshop": n + 1}
        )
        if n % 3 == 0:
            give_order(customer_id, date(2028, 1, 2) + timedelta(days=n), {"Illustrator": 1})
            db.session.add(
                Order(
                    customer_id=customer_id,
                    vendor_order_number=f"RNX{n:07d}",
                    order_type=OrderType.RENEWAL,
                    order_date=date(2027, 1, 1),
                    duration_months=12,
                    term_ends_on=date(2028, 1, 2) + timedelta(days=n),
                    status=OrderStatus.PLACED,
                )
            )
            db.session.commit()
    many = statements()
    assert one == many == 1
    pipeline = renewal_pipeline(reseller_id=tenants.a.reseller.id, today=date(2027, 1, 1))
    assert pipeline.status_total(RENEWED).customers == 7
    assert db.session.scalar(select(Order.id).limit(1)) is not None
