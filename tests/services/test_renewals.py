"""Renewals: R8 the renewals overview (its 90-day horizon, stage and window filters, search,
sort, pages, tenancy, and the lines to renew), R12 the stage and the Admin Console's banner,
R9 recording the renewal order (its window, validation, all it changes, and the job
afterwards), and S23 (two renewals at once; a renewal racing the job's access removal)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import TODAY
from tests.support import count, english, in_app, pid, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    PurchaseAuthorization,
    User,
)
from vip.services import deadlines, renewals
from vip.services.authorizations import (
    AuthorizationInvalid,
    LineInput,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.deadlines import apply_deadlines
from vip.services.errors import DomainError, NotVisible, PermissionDenied
from vip.services.licenses import license_inventory
from vip.services.orders import record_order
from vip.services.renewals import (
    OverviewFilter,
    RenewalDates,
    RenewalStage,
    banner_for,
    export_rows,
    lines_by_customer,
    record_renewal,
    renewal_history,
    renewal_stage,
    renewals_overview,
)
from vip.services.terms import add_months

AD = date(2027, 11, 29)  # the anniversary of both tenants' customers: first order on TODAY
NEXT_AD = date(2028, 11, 29)
DUE, MISSED, REMOVAL = "renewal_due", "renewal_missed", "access_removal"
UPCOMING, WINDOW_OPEN, IN_GRACE, OVERDUE = (
    RenewalStage.UPCOMING,
    RenewalStage.WINDOW_OPEN,
    RenewalStage.IN_GRACE,
    RenewalStage.OVERDUE,
)
_numbers = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------


def reload_customer(customer_id: int) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


def day(offset: int, anniversary: date = AD) -> date:
    return anniversary + timedelta(days=offset)


def vendor_number() -> str:
    return f"RN{next(_numbers):08d}"


def set_customer(customer_id: int, **values) -> None:
    db.session.execute(update(Customer).where(Customer.id == customer_id).values(**values))
    db.session.commit()


def events(action: str, customer_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    if customer_id is not None:
        query = query.where(AuditEvent.customer_id == customer_id)
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def snapshot() -> dict:
    """Everything recording a renewal may change."""
    db.session.expire_all()
    return {
        "counts": tuple(
            count(model)
            for model in (Order, OrderLine, AuditEvent, Notification, LicenseAssignment)
        ),
        "customers": sorted(
            db.session.execute(
                select(
                    Customer.id,
                    Customer.status,
                    Customer.status_before_delay,
                    Customer.anniversary_date,
                )
            ).all()
        ),
        "notifications": sorted(
            db.session.execute(select(Notification.id, Notification.status)).all()
        ),
    }


def refused(call: Callable, error=AuthorizationInvalid):
    """Runs a call that must be refused, checks it wrote nothing, returns the error."""
    before = snapshot()
    with pytest.raises(error) as caught:
        call()
    db.session.rollback()
    assert snapshot() == before, "a refused renewal must write nothing"
    return caught.value


@dataclass
class Renewing:
    """Both tenants' customers, active, each with Photoshop 5 (new) and Illustrator 2
    (add-on) ordered on TODAY, so both have the anniversary AD."""

    customer_id: int
    reseller_id: int
    sales_id: int
    admin_id: int
    vip_admin_id: int
    other_customer_id: int
    other_reseller_id: int
    other_sales_id: int
    photoshop: int
    illustrator: int


def _first_orders(tenant, prefix: str) -> None:
    sales = db.session.get(User, tenant.sales.id)
    record_order(
        user=sales,
        pa_id=tenant.authorization.id,
        today=TODAY,
        vendor_order_number=f"{prefix}NEW00001",
        order_date=TODAY,
        duration_months=12,
    )
    add_on = create_purchase_authorization(
        user=sales,
        customer_id=tenant.customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=pid("Illustrator"), quantity=2)],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    record_order(
        user=db.session.get(User, tenant.sales.id),
        pa_id=add_on.id,
        today=TODAY,
        vendor_order_number=f"{prefix}ADD00001",
        order_date=TODAY,
        duration_months=12,
    )
    set_customer(tenant.customer.id, status=CustomerStatus.ACTIVE)
    assert db.session.get(Customer, tenant.customer.id).anniversary_date == AD


@pytest.fixture
def renewing(app, tenants) -> Renewing:
    with in_app(app):
        _first_orders(tenants.a, "A")
        _first_orders(tenants.b, "B")
        photoshop, illustrator = pid("Photoshop"), pid("Illustrator")
    return Renewing(
        customer_id=tenants.a.customer.id,
        reseller_id=tenants.a.reseller.id,
        sales_id=tenants.a.sales.id,
        admin_id=tenants.a.admin.id,
        vip_admin_id=tenants.a.vip_admin.id,
        other_customer_id=tenants.b.customer.id,
        other_reseller_id=tenants.b.reseller.id,
        other_sales_id=tenants.b.sales.id,
        photoshop=photoshop,
        illustrator=illustrator,
    )


def renew(
    r: Renewing,
    *,
    today: date,
    order_date=...,
    number: str | None = None,
    quantities: dict | None = None,
    actor_id: int | None = None,
    customer_id: int | None = None,
) -> Order:
    return record_renewal(
        user=user(actor_id or r.sales_id),
        customer_id=customer_id or r.customer_id,
        today=today,
        vendor_order_number=number if number is not None else vendor_number(),
        order_date=today if order_date is ... else order_date,
        quantities=quantities if quantities is not None else {r.photoshop: 5, r.illustrator: 2},
    )


def assign(customer_id: int, name: str, how_many: int, prefix: str = "u") -> None:
    for n in range(how_many):
        db.session.add(
            LicenseAssignment(
                customer_id=customer_id,
                product_id=pid(name),
                user_email=f"{prefix}{n}@kund.example",
            )
        )
    db.session.commit()


def give_order(
    customer_id: int,
    term_ends_on: date,
    quantities: dict[str, int],
    *,
    returned: dict[str, int] | None = None,
    order_type: OrderType = OrderType.NEW,
) -> int:
    """An order row of the term ending on `term_ends_on` (returned quantities included)."""
    order = Order(
        customer_id=customer_id,
        vendor_order_number=vendor_number(),
        order_type=order_type,
        order_date=add_months(term_ends_on, -12),
        duration_months=12,
        term_ends_on=term_ends_on,
        status=OrderStatus.PLACED,
    )
    db.session.add(order)
    for name, quantity in quantities.items():
        back = (returned or {}).get(name, 0)
        db.session.add(
            OrderLine(
                order=order,
                product_id=pid(name),
                sku=db.session.get(Product, pid(name)).sku,
                quantity=quantity,
                returned_quantity=back,
                status=OrderStatus.RETURNED if back >= quantity else OrderStatus.PLACED,
            )
        )
    db.session.commit()
    return order.id


_emails = itertools.count(1)


def listed_customer(admin_id: int, name: str, days_to_anniversary: int | None, lines=None) -> int:
    """A customer of the admin's reseller whose anniversary is that many days after TODAY,
    holding the given licenses (Illustrator 1 and Photoshop 3 unless told)."""
    customer = create_customer(
        user=user(admin_id),
        today=TODAY,
        company_name=name,
        country="SE",
        market_segment="commercial",
        admin_name="Maja Berg",
        admin_email=f"it{next(_emails)}@kund.example",
        admin_language="sv",
    )
    customer_id = customer.id
    if days_to_anniversary is not None:
        anniversary = TODAY + timedelta(days=days_to_anniversary)
        set_customer(customer_id, anniversary_date=anniversary, status=CustomerStatus.ACTIVE)
        give_order(customer_id, anniversary, lines or {"Photoshop": 3, "Illustrator": 1})
    return customer_id


def overview(actor_id: int, *, today: date = TODAY, page_size: int = 100, page=1, **chosen):
    return renewals_overview(
        user=user(actor_id),
        today=today,
        chosen=OverviewFilter(**chosen),
        page=page,
        page_size=page_size,
    )


def names(page) -> list[str]:
    return [customer.company_name for customer in page.items]


def exported(actor_id: int, *, today: date = TODAY, **chosen) -> list[tuple]:
    return [
        (row.customer.company_name, row.line.product.name, row.dates.stage)
        for row in export_rows(user=user(actor_id), today=today, chosen=OverviewFilter(**chosen))
    ]


def reminders(customer_id: int) -> list[tuple[str, str, NotificationStatus]]:
    db.session.expire_all()
    return [
        (n.kind, n.cycle_key, n.status)
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.customer_id == customer_id, Notification.kind != "invitation")
            .order_by(Notification.id)
        )
    ]


def add_notification(customer_id: int, kind: str, cycle_key: str, status) -> int:
    notification = Notification(
        customer_id=customer_id,
        kind=kind,
        cycle_key=cycle_key,
        recipient="it@kund.example",
        language="en",
        subject=f"{kind} {cycle_key}",
        body_text="text",
        body_html="<p>html</p>",
        status=status,
        attempts=1 if status != NotificationStatus.QUEUED else 0,
    )
    db.session.add(notification)
    db.session.commit()
    return notification.id


# --- R8 / R12: the stage around the anniversary ---------------------------------------------


BOUNDARIES = [
    pytest.param(-91, None, id="AD-91-absent"),
    pytest.param(-90, UPCOMING, id="AD-90-upcoming"),
    pytest.param(-31, UPCOMING, id="AD-31-upcoming"),
    pytest.param(-30, WINDOW_OPEN, id="AD-30-window-open"),
    pytest.param(-1, WINDOW_OPEN, id="AD-1-window-open"),
    pytest.param(0, IN_GRACE, id="AD-in-grace"),
    pytest.param(29, IN_GRACE, id="AD+29-in-grace"),
    pytest.param(30, OVERDUE, id="AD+30-overdue-last-day"),
    pytest.param(31, None, id="AD+31-absent"),
]


@pytest.mark.parametrize(("offset", "stage"), BOUNDARIES)
def test_r8_the_overview_lists_a_customer_from_ad_minus_90_to_ad_plus_30(
    renewing, ctx, offset, stage
):
    r = renewing
    today = day(offset)
    customer = reload_customer(r.customer_id)
    if stage is not None:
        assert renewal_stage(customer, today) == stage
        assert RenewalDates(AD, today).stage == stage

    page = overview(r.sales_id, today=today)
    listed = stage is not None
    assert (r.customer_id in [c.id for c in page.items]) is listed
    assert page.total == (1 if listed else 0)  # tenant b's customer (same AD) never shows
    rows = exported(r.sales_id, today=today)
    if listed:
        name = customer.company_name
        assert rows == [(name, "Illustrator", stage), (name, "Photoshop", stage)]
    else:
        assert rows == []
    # The stage filter finds it under its own stage only.
    for each in RenewalStage:
        found = [c.id for c in overview(r.sales_id, today=today, stage=each.value).items]
        assert (r.customer_id in found) is (each == stage), each


@pytest.mark.parametrize(
    ("offset", "stage"),
    [(-200, None), (-91, None), (-90, UPCOMING), (31, OVERDUE), (400, OVERDUE)],
)
def test_r12_renewal_stage_before_and_after_the_overview(renewing, ctx, offset, stage):
    """Outside the overview: nothing yet before AD-90; overdue for good from AD+30."""
    assert renewal_stage(reload_customer(renewing.customer_id), day(offset)) == stage


def test_r12_no_anniversary_no_stage(tenants, ctx):
    customer = reload_customer(tenants.a.customer.id)
    assert customer.anniversary_date is None
    assert renewal_stage(customer, TODAY) is None
    assert renewals.dates_for(customer, TODAY) is None


def test_r8_r12_renewal_dates_of_an_anniversary():
    dates = RenewalDates(AD, day(-40))
    assert dates.listed_from == date(2027, 8, 31)  # AD-90
    assert dates.window_opens_on == date(2027, 10, 30)  # AD-30
    assert dates.access_removed_on == date(2027, 12, 29)  # AD+30
    assert dates.window_closes_on == dates.access_removed_on
    assert dates.days_until(AD) == 40
    assert dates.days_until(dates.window_opens_on) == 10


# --- R12: the Admin Console banner ----------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "stage", "warning"),
    [
        pytest.param(-31, None, None, id="AD-31-none"),
        pytest.param(-30, WINDOW_OPEN, False, id="AD-30-notice"),
        pytest.param(-1, WINDOW_OPEN, False, id="AD-1-notice"),
        pytest.param(0, IN_GRACE, True, id="AD-warning"),
        pytest.param(29, IN_GRACE, True, id="AD+29-warning"),
        pytest.param(30, OVERDUE, True, id="AD+30-access-removed"),
        pytest.param(90, OVERDUE, True, id="AD+90-access-removed"),
    ],
)
def test_r12_banner_from_30_days_before_the_anniversary(renewing, ctx, offset, stage, warning):
    customer = reload_customer(renewing.customer_id)
    banner = banner_for(customer, day(offset))
    if stage is None:
        assert banner is None
        return
    assert banner.stage == stage
    assert banner.is_warning is warning
    assert banner.dates.anniversary == AD
    assert banner.dates.access_removed_on == date(2027, 12, 29)  # the date shown in the warning
    assert banner.reseller_name == "Reseller A AB"


def test_r12_no_banner_without_an_anniversary(tenants, ctx):
    customer = reload_customer(tenants.a.customer.id)
    for today in (TODAY, TODAY + timedelta(days=400)):
        assert banner_for(customer, today) is None


@pytest.mark.parametrize("renewed_on", [-30, -1, 0, 29], ids=lambda o: f"renewed-AD{o:+d}")
def test_r12_r9_the_banner_is_gone_once_the_renewal_is_recorded(renewing, ctx, renewed_on):
    r = renewing
    assert banner_for(reload_customer(r.customer_id), day(renewed_on)) is not None
    renew(r, today=day(renewed_on))
    customer = reload_customer(r.customer_id)
    for offset in (renewed_on, 0, 29, 30, 200):
        if offset >= renewed_on:
            assert banner_for(customer, day(offset)) is None, offset
    # ...and comes back, as a notice, 30 days before the next anniversary.
    assert banner_for(customer, day(-31, NEXT_AD)) is None
    banner = banner_for(customer, day(-30, NEXT_AD))
    assert banner.stage == WINDOW_OPEN and banner.dates.anniversary == NEXT_AD


# --- R8: filters, search, sort, pages, tenancy ----------------------------------------------

# days from TODAY to the anniversary -> company name (names sort differently from dates)
SPREAD = {
    "Juliett AB": 91,
    "Charlie AB": 90,
    "India AB": 60,
    "Alfa AB": 31,
    "Hotel AB": 30,
    "Echo AB": 1,
    "Bravo AB": 0,
    "Lima AB": 0,
    "Golf AB": -29,
    "Delta AB": -30,
    "Foxtrot AB": -31,
    "Kilo AB": None,
}


def expected_stage(days: int | None) -> RenewalStage | None:
    """R8 as specified, written out independently: the stage of an anniversary `days` after
    today, for customers the overview lists."""
    if days is None or not -30 <= days <= 90:
        return None
    if days >= 31:
        return UPCOMING
    if days >= 1:
        return WINDOW_OPEN
    if days >= -29:
        return IN_GRACE
    return OVERDUE


@dataclass
class Spread:
    admin_id: int
    sales_id: int
    other_admin_id: int
    ids: dict[str, int]
    other_ids: dict[str, int]


@pytest.fixture
def spread(app, tenants) -> Spread:
    with in_app(app):
        ids = {
            name: listed_customer(tenants.a.admin.id, name, days) for name, days in SPREAD.items()
        }
        other_ids = {
            f"Other {days} AB": listed_customer(tenants.b.admin.id, f"Other {days} AB", days)
            for days in (90, 10, 0, -30)
        }
    return Spread(tenants.a.admin.id, tenants.a.sales.id, tenants.b.admin.id, ids, other_ids)


def listed_names(predicate=lambda days: True) -> set[str]:
    return {
        name
        for name, days in SPREAD.items()
        if expected_stage(days) is not None and predicate(days)
    }


def test_r8_without_a_filter_the_overview_spans_ad_minus_90_to_ad_plus_30(spread, ctx):
    page = overview(spread.sales_id)
    assert set(names(page)) == listed_names()
    assert page.total == len(listed_names()) == 9
    for customer in page.items:
        assert renewal_stage(customer, TODAY) == expected_stage(SPREAD[customer.company_name])


@pytest.mark.parametrize("stage", list(RenewalStage), ids=str)
def test_r8_the_stage_filter_narrows_the_overview_and_the_export(spread, ctx, stage):
    wanted = listed_names(lambda days: expected_stage(days) == stage)
    assert wanted, "every stage has a customer in the spread"
    assert set(names(overview(spread.sales_id, stage=stage.value))) == wanted
    rows = exported(spread.sales_id, stage=stage.value)
    assert {row[0] for row in rows} == wanted
    assert {row[2] for row in rows} == {stage}


@pytest.mark.parametrize("window", ["30", "60", "90"])
def test_r8_the_window_filter_keeps_anniversaries_within_n_days_grace_included(spread, ctx, window):
    wanted = listed_names(lambda days: days <= int(window))
    assert set(names(overview(spread.sales_id, window=window))) == wanted
    assert {row[0] for row in exported(spread.sales_id, window=window)} == wanted


def test_r8_window_and_stage_filters_combine(spread, ctx):
    assert names(overview(spread.sales_id, window="30", stage="upcoming")) == []
    assert set(names(overview(spread.sales_id, window="60", stage="upcoming"))) == {
        "Alfa AB",
        "India AB",
    }
    assert set(names(overview(spread.sales_id, window="30", stage="in_grace"))) == {
        "Bravo AB",
        "Lima AB",
        "Golf AB",
    }


@pytest.mark.parametrize(
    "chosen",
    [{"window": "45"}, {"window": "1000"}, {"stage": "bogus"}, {"sort": "bogus"}, {"search": "  "}],
    ids=["window-45", "window-1000", "stage-bogus", "sort-bogus", "blank-search"],
)
def test_r8_unknown_filter_values_are_ignored(spread, ctx, chosen):
    page = overview(spread.sales_id, **chosen)
    assert names(page) == names(overview(spread.sales_id))


def test_r8_search_by_company_name_or_vip_id(spread, ctx):
    vip_id = reload_customer(spread.ids["Echo AB"]).vip_id
    assert names(overview(spread.sales_id, search="hotel")) == ["Hotel AB"]
    assert names(overview(spread.sales_id, search="  HOT ")) == ["Hotel AB"]
    assert names(overview(spread.sales_id, search=vip_id)) == ["Echo AB"]
    assert names(overview(spread.sales_id, search=vip_id[1:9])) == ["Echo AB"]
    assert names(overview(spread.sales_id, search="nobody")) == []
    # The search keeps the overview's horizon and filters.
    kilo, juliett = (reload_customer(spread.ids[n]).vip_id for n in ("Kilo AB", "Juliett AB"))
    assert names(overview(spread.sales_id, search=kilo)) == []
    assert names(overview(spread.sales_id, search=juliett)) == []
    assert names(overview(spread.sales_id, search="hotel", stage="in_grace")) == []
    assert exported(spread.sales_id, search=vip_id) == [
        ("Echo AB", "Illustrator", WINDOW_OPEN),
        ("Echo AB", "Photoshop", WINDOW_OPEN),
    ]
    # Another reseller's customer is not found by its VIP ID.
    other = reload_customer(spread.other_ids["Other 10 AB"]).vip_id
    assert names(overview(spread.sales_id, search=other)) == []


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("anniversary", lambda n: (SPREAD[n], n), False),
        ("-anniversary", lambda n: (-SPREAD[n], n), False),
        ("name", lambda n: n, False),
        ("-name", lambda n: n, True),
    ],
)
def test_r8_sort_by_anniversary_or_name_both_ways(spread, ctx, sort, key, reverse):
    expected = sorted(listed_names(), key=key, reverse=reverse)
    assert names(overview(spread.sales_id, sort=sort)) == expected
    # The export follows the same order, each customer's products by name.
    rows = exported(spread.sales_id, sort=sort)
    assert rows[::2] == [(n, "Illustrator", expected_stage(SPREAD[n])) for n in expected]
    assert rows[1::2] == [(n, "Photoshop", expected_stage(SPREAD[n])) for n in expected]


def test_r8_pages(spread, ctx):
    everything = sorted(listed_names())
    pages = [overview(spread.sales_id, sort="name", page_size=4, page=n) for n in (1, 2, 3)]
    assert [names(p) for p in pages] == [everything[0:4], everything[4:8], everything[8:]]
    assert [(p.page, p.pages, p.total) for p in pages] == [(1, 3, 9), (2, 3, 9), (3, 3, 9)]
    assert (pages[0].has_previous, pages[0].has_next) == (False, True)
    assert (pages[2].has_previous, pages[2].has_next) == (True, False)
    beyond = overview(spread.sales_id, sort="name", page_size=4, page=99)
    assert (beyond.page, names(beyond)) == (3, everything[8:])
    before = overview(spread.sales_id, sort="name", page_size=4, page=0)
    assert (before.page, names(before)) == (1, everything[0:4])
    filtered = overview(spread.sales_id, sort="name", page_size=2, page=2, stage="in_grace")
    assert (filtered.total, filtered.pages, names(filtered)) == (3, 2, ["Lima AB"])


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r8_s10_another_resellers_customers_never_appear(spread, tenants, ctx, role):
    actor = getattr(tenants.a, role).id
    for chosen in ({}, {"stage": "in_grace"}, {"window": "30"}, {"search": "Other"}):
        page = overview(actor, **chosen)
        assert not set(names(page)) & set(spread.other_ids), chosen
        assert not {row[0] for row in exported(actor, **chosen)} & set(spread.other_ids)
    # Tenant b sees its own, and none of tenant a's.
    theirs = overview(spread.other_admin_id)
    assert set(names(theirs)) == {"Other 90 AB", "Other 10 AB", "Other 0 AB", "Other -30 AB"}
    assert {row[0] for row in exported(spread.other_admin_id)} == set(names(theirs))


def test_r8_s11_a_vip_admin_has_no_renewals_overview(renewing, ctx):
    with pytest.raises(PermissionDenied):
        overview(renewing.vip_admin_id, today=day(-10))
    with pytest.raises(PermissionDenied):
        list(export_rows(user=user(renewing.vip_admin_id), today=day(-10), chosen=OverviewFilter()))


# --- R8: the lines to renew -----------------------------------------------------------------


def test_r8_lines_are_the_current_terms_licenses_net_of_returns_with_assigned_counts(tenants, ctx):
    anniversary = TODAY + timedelta(days=20)
    first = listed_customer(tenants.a.admin.id, "Rader AB", None)
    second = listed_customer(tenants.a.admin.id, "Andra AB", None)
    for customer_id in (first, second):
        set_customer(customer_id, anniversary_date=anniversary, status=CustomerStatus.ACTIVE)
    give_order(
        first,
        anniversary,
        {"Photoshop": 5, "Illustrator": 4, "InDesign": 2, "Acrobat Pro": 3},
        returned={"Illustrator": 4, "InDesign": 2, "Acrobat Pro": 3},
    )
    give_order(
        first, anniversary, {"Photoshop": 3}, returned={"Photoshop": 2}, order_type=OrderType.ADD_ON
    )
    # The previous term's orders are not renewed again.
    give_order(first, add_months(anniversary, -12), {"Photoshop": 100, "Premiere Pro": 10})
    assign(first, "Photoshop", 7)
    # All returned: nothing of it to renew (a license in use without an order would come
    # from a pending authorization, which brings its own licenses: R6).
    assign(first, "Acrobat Pro", 1)
    give_order(second, anniversary, {"Photoshop": 2})
    assign(second, "Photoshop", 1)
    assign(tenants.b.customer.id, "Photoshop", 4, prefix="b")  # another customer's

    lines = lines_by_customer([first, second, tenants.a.customer.id])
    assert set(lines) == {first, second}  # no anniversary, no lines
    [photoshop] = lines[first]
    assert (photoshop.product.name, photoshop.purchased, photoshop.returned) == ("Photoshop", 8, 2)
    # The suggestion renews what the customer has; the dialog refuses fewer than are in use.
    assert (photoshop.current, photoshop.assigned, photoshop.suggested) == (6, 7, 6)
    product = db.session.get(Product, pid("Photoshop"))
    assert photoshop.renewal_sku == product.renewal_sku != product.sku
    [only] = lines[second]
    assert (only.product.name, only.current, only.assigned, only.suggested) == (
        "Photoshop",
        2,
        1,
        2,
    )
    assert lines_by_customer([]) == {}

    # The export carries the same lines.
    rows = [
        (row.customer.id, row.line.product.name, row.line.current, row.line.assigned)
        for row in export_rows(user=user(tenants.a.sales.id), today=TODAY, chosen=OverviewFilter())
    ]
    assert sorted(rows) == sorted([(first, "Photoshop", 6, 7), (second, "Photoshop", 2, 1)])


def test_r8_a_product_whose_licenses_were_all_returned_is_left_out(tenants, ctx):
    anniversary = TODAY + timedelta(days=45)
    customer_id = listed_customer(
        tenants.a.admin.id, "Retur AB", 45, lines={"Photoshop": 2, "InDesign": 1}
    )
    give_order(customer_id, anniversary, {"Illustrator": 3}, returned={"Illustrator": 3})
    assert [line.product.name for line in lines_by_customer([customer_id])[customer_id]] == [
        "InDesign",
        "Photoshop",
    ]
    # A customer whose every license went back is still listed, with nothing to renew.
    gone = listed_customer(tenants.a.admin.id, "Tom AB", None)
    set_customer(gone, anniversary_date=anniversary)
    give_order(gone, anniversary, {"Photoshop": 2}, returned={"Photoshop": 2})
    assert lines_by_customer([gone]) == {}
    assert "Tom AB" in names(overview(tenants.a.sales.id))
    assert [row for row in exported(tenants.a.sales.id) if row[0] == "Tom AB"] == []


def test_r8_the_overview_follows_the_renewal_to_the_new_term(renewing, ctx):
    """Once renewed, a customer leaves this cycle's overview and returns 90 days before the
    next anniversary with the renewal's quantities."""
    r = renewing
    renew(r, today=day(-10), quantities={r.photoshop: 7, r.illustrator: 0})
    assert r.customer_id not in [c.id for c in overview(r.sales_id, today=day(-10)).items]
    assert [c.id for c in overview(r.sales_id, today=day(-90, NEXT_AD)).items] == [r.customer_id]
    [line] = lines_by_customer([r.customer_id])[r.customer_id]
    assert (line.product.id, line.current, line.assigned) == (r.photoshop, 7, 0)


def test_r8_r9_the_overview_lists_every_product_the_renewal_requires(renewing, ctx):
    r = renewing
    create_purchase_authorization(
        user=user(r.sales_id),
        customer_id=r.customer_id,
        today=day(-20),
        license_type="team",
        lines=[LineInput(product_id=pid("InDesign"), quantity=2)],
        deployment_date=day(-20),
        customer_po_number=None,
    )
    assign(r.customer_id, "InDesign", 1)  # R6: pending licenses may be assigned
    required = {
        line.product.name for line in renewals.renewal_lines_of(reload_customer(r.customer_id))
    }
    listed = {line.product.name for line in lines_by_customer([r.customer_id])[r.customer_id]}
    assert listed == required


# --- R9: the order date ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_offset", "today_offset"),
    [
        pytest.param(-30, -30, id="AD-30-opens"),
        pytest.param(-1, -1, id="AD-1"),
        pytest.param(0, 0, id="AD"),
        pytest.param(30, 30, id="AD+30-last-day"),
        pytest.param(-30, 10, id="AD-30-recorded-later"),
        pytest.param(30, 45, id="AD+30-recorded-on-AD+45"),
    ],
)
def test_r9_order_date_from_ad_minus_30_to_ad_plus_30_is_accepted(
    renewing, ctx, order_offset, today_offset
):
    order = renew(renewing, today=day(today_offset), order_date=day(order_offset))
    assert db.session.get(Order, order.id).order_date == day(order_offset)
    assert reload_customer(renewing.customer_id).anniversary_date == NEXT_AD


@pytest.mark.parametrize(
    ("order_offset", "today_offset", "message"),
    [
        pytest.param(
            -31,
            -31,
            "A renewal of the anniversary date November 29, 2027 is ordered from "
            "October 30, 2027 to December 29, 2027.",
            id="AD-31",
        ),
        pytest.param(31, 31, "is ordered from October 30, 2027 to December 29, 2027", id="AD+31"),
        pytest.param(-200, -10, "is ordered from October 30, 2027", id="long-before"),
        pytest.param(-9, -10, "cannot be in the future", id="tomorrow"),
        pytest.param(0, -10, "cannot be in the future", id="AD-in-the-future"),
        pytest.param(None, -10, "Enter the order date", id="missing"),
    ],
)
def test_r9_order_date_outside_the_window_or_in_the_future_is_refused(
    renewing, ctx, order_offset, today_offset, message
):
    order_date = None if order_offset is None else day(order_offset)
    error = refused(lambda: renew(renewing, today=day(today_offset), order_date=order_date))
    assert set(error.errors) == {"order_date"}
    assert message in english(error.errors["order_date"][0])


# --- R9: the vendor order number ------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["ABCDE", "A" * 21, "ABC-123", "ABC 123", "ÅÄÖ123", "", "      "],
    ids=["5", "21", "hyphen", "space", "non-ascii", "empty", "blank"],
)
def test_r9_vendor_order_number_of_6_to_20_letters_and_digits(renewing, ctx, number):
    error = refused(lambda: renew(renewing, today=day(-10), number=number))
    assert set(error.errors) == {"vendor_order_number"}
    assert "6 to 20 letters and digits" in english(error.errors["vendor_order_number"][0])


@pytest.mark.parametrize("number", ["ANEW00001", "anew00001", "  aNeW00001  ", "BNEW00001"])
def test_r9_a_vendor_order_number_already_recorded_is_refused(renewing, ctx, number):
    """The first orders' numbers, in any case, of this customer or another reseller's."""
    error = refused(lambda: renew(renewing, today=day(-10), number=number))
    assert set(error.errors) == {"vendor_order_number"}
    assert "already recorded" in english(error.errors["vendor_order_number"][0])


def test_r9_the_number_is_stored_trimmed_and_cannot_be_reused(renewing, ctx):
    order = renew(renewing, today=day(-10), number="  RENEW2027X  ")
    assert db.session.get(Order, order.id).vendor_order_number == "RENEW2027X"
    error = refused(
        lambda: renew(
            renewing,
            today=day(-10),
            number="renew2027x",
            customer_id=renewing.other_customer_id,
            actor_id=renewing.other_sales_id,
        )
    )
    assert set(error.errors) == {"vendor_order_number"}


def test_r9_every_error_is_reported_at_once(renewing, ctx):
    r = renewing
    error = refused(
        lambda: renew(
            r,
            today=day(-10),
            number="X-1",
            order_date=day(-40),
            quantities={r.photoshop: -1, r.illustrator: 2},
        )
    )
    assert set(error.errors) == {"vendor_order_number", "order_date", f"quantity-{r.photoshop}"}


# --- R9: the quantities ---------------------------------------------------------------------


def test_r9_quantity_0_leaves_a_product_out(renewing, ctx):
    r = renewing
    order = renew(r, today=day(-10), quantities={r.photoshop: 0, r.illustrator: 3})
    lines = db.session.get(Order, order.id).lines
    assert [(line.product_id, line.quantity) for line in lines] == [(r.illustrator, 3)]


def test_r9_renewing_nothing_is_refused(renewing, ctx):
    r = renewing
    error = refused(lambda: renew(r, today=day(-10), quantities={r.photoshop: 0, r.illustrator: 0}))
    assert set(error.errors) == {"lines"}
    assert "at least one product" in english(error.errors["lines"][0])


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        pytest.param(None, "Enter a whole number", id="blank"),
        pytest.param(-1, "Enter 0 or more", id="negative"),
        pytest.param(10_001, "At most 10\u00a0000 licenses", id="above-the-team-limit"),
    ],
)
def test_r9_a_quantity_blank_negative_or_above_the_limit_is_refused_at_its_field(
    renewing, ctx, quantity, message
):
    r = renewing
    error = refused(
        lambda: renew(r, today=day(-10), quantities={r.photoshop: quantity, r.illustrator: 2})
    )
    assert set(error.errors) == {f"quantity-{r.photoshop}"}
    assert message in english(error.errors[f"quantity-{r.photoshop}"][0])


def test_r9_a_product_left_out_of_the_quantities_is_refused_at_its_field(renewing, ctx):
    r = renewing
    error = refused(lambda: renew(r, today=day(-10), quantities={r.photoshop: 5}))
    assert set(error.errors) == {f"quantity-{r.illustrator}"}


def test_r9_the_team_limit_itself_is_accepted(renewing, ctx):
    r = renewing
    order = renew(r, today=day(-10), quantities={r.photoshop: 10_000, r.illustrator: 0})
    assert [line.quantity for line in db.session.get(Order, order.id).lines] == [10_000]


def test_r9_renewing_fewer_than_are_assigned_is_refused(renewing, ctx):
    r = renewing
    assign(r.customer_id, "Photoshop", 3)
    for quantity in (0, 2):
        error = refused(
            lambda q=quantity: renew(
                r, today=day(-10), quantities={r.photoshop: q, r.illustrator: 2}
            )
        )
        assert set(error.errors) == {f"quantity-{r.photoshop}"}
        message = english(error.errors[f"quantity-{r.photoshop}"][0])
        assert "3 licenses of Photoshop are assigned" in message
        assert "renew at least 3" in message
    order = renew(r, today=day(-10), quantities={r.photoshop: 3, r.illustrator: 2})
    assert sorted(line.quantity for line in db.session.get(Order, order.id).lines) == [2, 3]


def test_r9_a_product_the_customer_does_not_hold_is_refused(renewing, ctx):
    r = renewing
    for unknown in (pid("InDesign"), 999_999):
        error = refused(
            lambda u=unknown: renew(
                r, today=day(-10), quantities={r.photoshop: 5, r.illustrator: 2, u: 1}
            )
        )
        assert set(error.errors) == {"lines"}
        assert "not among the customer's licenses" in english(error.errors["lines"][0])


# --- R9: who may record, and for whom -------------------------------------------------------


def test_r9_s11_a_vip_admin_cannot_record_a_renewal(renewing, ctx):
    error = refused(
        lambda: renew(renewing, today=day(-10), actor_id=renewing.vip_admin_id), PermissionDenied
    )
    assert error.action == "orders.record"


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r9_s10_another_resellers_customer_is_not_visible(renewing, tenants, ctx, role):
    actor = getattr(tenants.a, role).id
    refused(
        lambda: renew(
            renewing, today=day(-10), actor_id=actor, customer_id=renewing.other_customer_id
        ),
        NotVisible,
    )
    refused(
        lambda: renew(renewing, today=day(-10), actor_id=actor, customer_id=999_999), NotVisible
    )


def test_r9_a_customer_without_anniversary_has_nothing_to_renew(tenants, ctx):
    customer_id = listed_customer(tenants.a.admin.id, "Ny Kund AB", None)
    error = refused(
        lambda: record_renewal(
            user=user(tenants.a.sales.id),
            customer_id=customer_id,
            today=TODAY,
            vendor_order_number=vendor_number(),
            order_date=TODAY,
            quantities={pid("Photoshop"): 1},
        ),
        DomainError,
    )
    assert "no anniversary date yet" in english(error)


# --- R9: what recording does ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_r9_the_renewal_order_moves_the_anniversary_one_year(renewing, tenants, ctx, role):
    r = renewing
    actor = getattr(tenants.a, role).id
    order = renew(
        r,
        today=day(-10),
        order_date=day(-12),
        number="REN0000001",
        quantities={r.photoshop: 6, r.illustrator: 2},
        actor_id=actor,
    )
    order = db.session.get(Order, order.id)
    assert order.order_type == OrderType.RENEWAL
    assert order.authorization_id is None
    assert (order.order_date, order.duration_months, order.term_ends_on) == (day(-12), 12, NEXT_AD)
    assert (order.status, order.created_by_id, order.customer_id) == (
        OrderStatus.PLACED,
        actor,
        r.customer_id,
    )
    products = {p: db.session.get(Product, p) for p in (r.photoshop, r.illustrator)}
    assert sorted((line.product_id, line.sku, line.quantity) for line in order.lines) == sorted(
        [
            (r.photoshop, products[r.photoshop].renewal_sku, 6),
            (r.illustrator, products[r.illustrator].renewal_sku, 2),
        ]
    )
    assert all(line.sku != products[line.product_id].sku for line in order.lines)
    assert all(line.status == OrderStatus.PLACED for line in order.lines)
    customer = reload_customer(r.customer_id)
    assert customer.anniversary_date == NEXT_AD
    assert customer.status == CustomerStatus.ACTIVE
    (event,) = events("renewal.recorded")
    assert (event.actor_id, event.customer_id, event.reseller_id) == (
        actor,
        r.customer_id,
        r.reseller_id,
    )
    assert (event.object_type, event.object_id) == ("order", str(order.id))
    assert event.details["vendor_order_number"] == "REN0000001"
    assert event.details["order_date"] == day(-12).isoformat()
    assert event.details["previous_anniversary"] == AD.isoformat()
    assert event.details["anniversary_date"] == NEXT_AD.isoformat()
    assert sorted(event.details["lines"]) == sorted(
        [[products[r.photoshop].renewal_sku, 6], [products[r.illustrator].renewal_sku, 2]]
    )
    assert events("customer.reactivated") == []
    # The other reseller's customer with the same anniversary is untouched.
    assert reload_customer(r.other_customer_id).anniversary_date == AD


@pytest.mark.parametrize(
    ("anniversary", "renewed_to"),
    [
        pytest.param(date(2028, 2, 29), date(2029, 2, 28), id="29-february"),
        pytest.param(date(2027, 1, 31), date(2028, 1, 31), id="31-january"),
        pytest.param(date(2027, 12, 31), date(2028, 12, 31), id="new-years-eve"),
    ],
)
def test_r9_s27_the_anniversary_moves_twelve_months_at_month_ends(
    tenants, ctx, anniversary, renewed_to
):
    customer_id = listed_customer(tenants.a.admin.id, "Månadsslut AB", None)
    set_customer(customer_id, anniversary_date=anniversary, status=CustomerStatus.ACTIVE)
    give_order(customer_id, anniversary, {"Photoshop": 2})
    order = record_renewal(
        user=user(tenants.a.sales.id),
        customer_id=customer_id,
        today=anniversary,
        vendor_order_number=vendor_number(),
        order_date=anniversary,
        quantities={pid("Photoshop"): 2},
    )
    assert reload_customer(customer_id).anniversary_date == renewed_to
    assert db.session.get(Order, order.id).term_ends_on == renewed_to


def test_r9_a_second_renewal_of_the_same_cycle_is_refused(renewing, ctx):
    renew(renewing, today=day(-20))
    error = refused(lambda: renew(renewing, today=day(-10)))
    assert set(error.errors) == {"order_date"}
    assert "anniversary date November 29, 2028" in english(error.errors["order_date"][0])
    assert reload_customer(renewing.customer_id).anniversary_date == NEXT_AD
    assert len(events("renewal.recorded")) == 1


def test_r9_license_inventory_counts_only_the_renewals_quantities(renewing, ctx):
    r = renewing

    def inventory():
        return {
            item.product.name: (item.purchased, item.returned, item.assigned)
            for item in license_inventory(customer=reload_customer(r.customer_id))
        }

    assign(r.customer_id, "Photoshop", 2)
    assert inventory() == {"Illustrator": (2, 0, 0), "Photoshop": (5, 0, 2)}
    renew(r, today=day(-5), quantities={r.photoshop: 7, r.illustrator: 0})
    assert inventory() == {"Photoshop": (7, 0, 2)}
    # The other tenant's licenses are untouched.
    other = {
        item.product.name: item.purchased
        for item in license_inventory(customer=reload_customer(r.other_customer_id))
    }
    assert other == {"Illustrator": 2, "Photoshop": 5}


def test_r9_renewal_history_lists_renewals_newest_first(renewing, ctx):
    r = renewing
    assert renewal_history(customer=reload_customer(r.customer_id)) == []
    first = renew(r, today=day(-3), number="RENEWAL001")
    second = renew(
        r,
        today=day(-1, NEXT_AD),
        number="RENEWAL002",
        quantities={r.photoshop: 4, r.illustrator: 0},
    )
    history = renewal_history(customer=reload_customer(r.customer_id))
    assert [order.id for order in history] == [second.id, first.id]
    assert [o.vendor_order_number for o in history] == ["RENEWAL002", "RENEWAL001"]
    assert all(order.order_type == OrderType.RENEWAL for order in history)  # no new or add-on
    assert [line.quantity for line in history[0].lines] == [4]
    assert history[0].created_by.id == r.sales_id
    assert reload_customer(r.customer_id).anniversary_date == date(2029, 11, 29)
    assert renewal_history(customer=reload_customer(r.other_customer_id)) == []


def test_r9_r11_an_inactive_customer_becomes_active(renewing, ctx):
    r = renewing
    removal_day = day(30)
    report = apply_deadlines(today=removal_day, reseller_ids=[r.reseller_id])
    assert report.access_removed == 1
    assert reload_customer(r.customer_id).status == CustomerStatus.INACTIVE
    renew(r, today=removal_day)
    customer = reload_customer(r.customer_id)
    assert (customer.status, customer.status_before_delay) == (CustomerStatus.ACTIVE, None)
    assert customer.anniversary_date == NEXT_AD
    (event,) = events("customer.reactivated", r.customer_id)
    assert event.actor_id == r.sales_id and event.details == {"status": "active"}
    assert events("renewal.recorded")[0].id < event.id
    # The job the next day leaves it active.
    apply_deadlines(today=day(31), reseller_ids=[r.reseller_id])
    assert reload_customer(r.customer_id).status == CustomerStatus.ACTIVE


def test_r9_r11_a_renewal_ordered_on_the_last_day_and_recorded_later_reactivates(renewing, ctx):
    r = renewing
    apply_deadlines(today=day(30), reseller_ids=[r.reseller_id])
    apply_deadlines(today=day(44), reseller_ids=[r.reseller_id])
    renew(r, today=day(45), order_date=day(30))
    assert reload_customer(r.customer_id).status == CustomerStatus.ACTIVE
    assert len(events("customer.reactivated", r.customer_id)) == 1


def test_r9_r4_an_inactive_customer_with_an_overdue_authorization_becomes_delayed(renewing, ctx):
    r = renewing
    pa = create_purchase_authorization(
        user=user(r.sales_id),
        customer_id=r.customer_id,
        today=day(10),
        license_type="team",
        lines=[LineInput(product_id=pid("Acrobat Pro"), quantity=1)],
        deployment_date=day(10),
        customer_po_number=None,
    )
    assert db.session.get(PurchaseAuthorization, pa.id).is_overdue(day(30))
    set_customer(r.customer_id, status=CustomerStatus.INACTIVE, status_before_delay=None)
    renew(r, today=day(30))
    customer = reload_customer(r.customer_id)
    assert (customer.status, customer.status_before_delay) == (
        CustomerStatus.DELAYED,
        CustomerStatus.ACTIVE,
    )
    (event,) = events("customer.reactivated", r.customer_id)
    assert event.details == {"status": "delayed"}
    # Once the authorization is resolved the job returns it to active.
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa.id)
        .values(status=AuthorizationStatus.CANCELLED)
    )
    db.session.commit()
    apply_deadlines(today=day(31), reseller_ids=[r.reseller_id])
    assert reload_customer(r.customer_id).status == CustomerStatus.ACTIVE


def test_r9_a_delayed_customer_stays_delayed(renewing, ctx):
    r = renewing
    set_customer(
        r.customer_id,
        status=CustomerStatus.DELAYED,
        status_before_delay=CustomerStatus.INVITED,
    )
    renew(r, today=day(-10))
    customer = reload_customer(r.customer_id)
    assert (customer.status, customer.status_before_delay) == (
        CustomerStatus.DELAYED,
        CustomerStatus.INVITED,
    )
    assert events("customer.reactivated") == []


def test_r9_r10_queued_and_failed_reminders_of_the_renewed_cycle_are_cancelled(renewing, ctx):
    r = renewing
    cycle, earlier = AD.isoformat(), add_months(AD, -12).isoformat()
    sent = add_notification(r.customer_id, DUE, cycle, NotificationStatus.SENT)
    failed = add_notification(r.customer_id, MISSED, cycle, NotificationStatus.FAILED)
    queued = add_notification(r.customer_id, REMOVAL, cycle, NotificationStatus.QUEUED)
    stale = add_notification(r.customer_id, DUE, earlier, NotificationStatus.QUEUED)
    other_kind = add_notification(r.customer_id, "note", cycle, NotificationStatus.QUEUED)
    other_customer = add_notification(r.other_customer_id, DUE, cycle, NotificationStatus.QUEUED)
    invitations = db.session.execute(
        select(Notification.id, Notification.status).where(Notification.kind == "invitation")
    ).all()
    assert invitations and all(s == NotificationStatus.QUEUED for _, s in invitations)

    renew(r, today=day(25))

    db.session.expire_all()

    def status(notification_id):
        return db.session.get(Notification, notification_id).status

    assert status(sent) == NotificationStatus.SENT
    assert status(failed) == NotificationStatus.CANCELLED
    assert status(queued) == NotificationStatus.CANCELLED
    assert {db.session.get(Notification, i).cancel_reason for i in (failed, queued)} == {"renewed"}
    assert status(stale) == NotificationStatus.QUEUED
    assert status(other_kind) == NotificationStatus.QUEUED
    assert status(other_customer) == NotificationStatus.QUEUED
    assert (
        db.session.execute(
            select(Notification.id, Notification.status).where(Notification.kind == "invitation")
        ).all()
        == invitations
    )
    (event,) = events("renewal.recorded")
    assert event.details["reminders_cancelled"] == 2


def test_r9_r10_r11_after_a_renewal_in_the_window_the_job_leaves_the_old_cycle_alone(renewing, ctx):
    r = renewing
    both = [r.reseller_id, r.other_reseller_id]
    apply_deadlines(today=day(-30), reseller_ids=both)
    assert reminders(r.customer_id) == [(DUE, AD.isoformat(), NotificationStatus.QUEUED)]
    renew(r, today=day(-10))
    assert reminders(r.customer_id) == [(DUE, AD.isoformat(), NotificationStatus.CANCELLED)]
    for offset in (0, 1, 23, 29, 30, 31, 60):
        report = apply_deadlines(today=day(offset), reseller_ids=[r.reseller_id])
        assert (report.access_removed, report.reminders) == (0, {}), offset
        apply_deadlines(today=day(offset), reseller_ids=[r.other_reseller_id])
    assert reminders(r.customer_id) == [(DUE, AD.isoformat(), NotificationStatus.CANCELLED)]
    assert reload_customer(r.customer_id).status == CustomerStatus.ACTIVE
    assert events("customer.access_removed", r.customer_id) == []
    # The control: the other reseller's customer, not renewed, went through every stage.
    assert [kind for kind, _, _ in reminders(r.other_customer_id)] == [DUE, MISSED, REMOVAL]
    assert reload_customer(r.other_customer_id).status == CustomerStatus.INACTIVE


def test_r9_r10_r11_a_renewal_in_the_grace_period_stops_the_removal(renewing, ctx):
    r = renewing
    apply_deadlines(today=day(0), reseller_ids=[r.reseller_id])
    assert reminders(r.customer_id) == [(MISSED, AD.isoformat(), NotificationStatus.QUEUED)]
    assert banner_for(reload_customer(r.customer_id), day(5)).is_warning
    renew(r, today=day(5))
    assert reminders(r.customer_id) == [(MISSED, AD.isoformat(), NotificationStatus.CANCELLED)]
    for offset in (23, 30):
        report = apply_deadlines(today=day(offset), reseller_ids=[r.reseller_id])
        assert (report.access_removed, report.reminders) == (0, {})
    assert reload_customer(r.customer_id).status == CustomerStatus.ACTIVE
    # The next cycle's reminders come in their time.
    apply_deadlines(today=day(-30, NEXT_AD), reseller_ids=[r.reseller_id])
    assert reminders(r.customer_id)[-1] == (DUE, NEXT_AD.isoformat(), NotificationStatus.QUEUED)


# --- S23: two renewals at once --------------------------------------------------------------


def _at_once(app, calls: list[Callable[[], object]]) -> list:
    """Runs each call in its own thread and app context, all released by one barrier;
    returns "ok" or the error each raised (a DomainError as (type, English message))."""
    start = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index: int) -> None:
        with app.test_request_context():
            try:
                start.wait(timeout=10)
                calls[index]()
                outcomes[index] = "ok"
            except DomainError as error:
                outcomes[index] = (type(error), english(error))
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcomes[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _meet_after_reading_the_lines(monkeypatch) -> None:
    """Each renewal waits (briefly) for the other once it has read the customer, so both
    would pass their checks before either writes, were they not serialized."""
    meet = threading.Barrier(2)
    original = renewals.renewal_lines_of

    def meet_then_read(customer):
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait(timeout=1.5)
        return original(customer)

    monkeypatch.setattr(renewals, "renewal_lines_of", meet_then_read)


@pytest.mark.parametrize("interleave", [False, True], ids=["barrier", "both-past-the-read"])
def test_s23_r9_two_concurrent_renewals_of_one_customer_record_one(
    app, renewing, monkeypatch, interleave
):
    r = renewing
    if interleave:
        _meet_after_reading_the_lines(monkeypatch)
    today = day(-10)

    def renewal_by(actor_id: int, number: str):
        return lambda: renew(r, today=today, number=number, actor_id=actor_id)

    outcomes = _at_once(
        app, [renewal_by(r.sales_id, "RACE000001"), renewal_by(r.admin_id, "RACE000002")]
    )
    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refusal, tuple) and issubclass(refusal[0], DomainError), outcomes
    winner = ["RACE000001", "RACE000002"][outcomes.index("ok")]
    with in_app(app):
        customer = reload_customer(r.customer_id)
        assert customer.anniversary_date == NEXT_AD  # moved once, not two years
        renewals_recorded = db.session.scalars(
            select(Order).where(Order.order_type == OrderType.RENEWAL)
        ).all()
        assert [o.vendor_order_number for o in renewals_recorded] == [winner]
        (event,) = events("renewal.recorded")
        assert event.details["vendor_order_number"] == winner
        assert count(OrderLine, OrderLine.order_id == renewals_recorded[0].id) == 2


def test_s23_r9_one_vendor_order_number_recorded_at_once_for_two_customers_is_kept_once(
    app, renewing, monkeypatch
):
    r = renewing
    meet = threading.Barrier(2)
    original = renewals.vendor_order_number_problem

    def check_then_meet(number):
        problem = original(number)
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait(timeout=1.5)
        return problem

    monkeypatch.setattr(renewals, "vendor_order_number_problem", check_then_meet)
    outcomes = _at_once(
        app,
        [
            lambda: renew(r, today=day(-10), number="SAME000001"),
            lambda: renew(
                r,
                today=day(-10),
                number="SAME000001",
                actor_id=r.other_sales_id,
                customer_id=r.other_customer_id,
            ),
        ],
    )
    with in_app(app):
        numbers = db.session.scalars(
            select(Order.vendor_order_number).where(
                func.upper(Order.vendor_order_number) == "SAME000001"
            )
        ).all()
    assert numbers == ["SAME000001"], outcomes
    assert outcomes.count("ok") == 1, outcomes


# --- S23: a renewal racing the job's access removal (R11) -----------------------------------


def _final(app, r: Renewing) -> tuple:
    with in_app(app):
        customer = reload_customer(r.customer_id)
        actions = [
            e.action
            for e in db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.customer_id == r.customer_id,
                    AuditEvent.action.in_(
                        ["customer.access_removed", "renewal.recorded", "customer.reactivated"]
                    ),
                )
                .order_by(AuditEvent.id)
            )
        ]
        return customer.status, customer.anniversary_date, actions


def test_s23_r9_r11_the_job_removing_access_while_a_renewal_is_recorded(app, renewing, monkeypatch):
    """The renewal has read the customer (active, anniversary AD) when the job of AD+30
    runs: the job must not make the renewed customer inactive."""
    r = renewing
    removal_day = day(30)
    job: dict = {}
    threads: list[threading.Thread] = []

    def run_job():
        with in_app(app):
            job["report"] = apply_deadlines(today=removal_day, reseller_ids=[r.reseller_id])

    original = renewals.renewal_lines_of

    def read_lines_while_the_job_runs(customer):
        lines = original(customer)
        if not threads:
            thread = threading.Thread(target=run_job)
            threads.append(thread)
            thread.start()
            thread.join(timeout=2)  # blocked by the renewal's lock, or done
        return lines

    monkeypatch.setattr(renewals, "renewal_lines_of", read_lines_while_the_job_runs)
    with in_app(app):
        renew(r, today=removal_day)
    for thread in threads:
        thread.join(timeout=60)
    assert threads and "report" in job
    status, anniversary, actions = _final(app, r)
    assert anniversary == NEXT_AD
    assert status == CustomerStatus.ACTIVE, actions
    if "customer.access_removed" in actions:  # removed first: the renewal brought it back
        assert actions == ["customer.access_removed", "renewal.recorded", "customer.reactivated"]
    else:
        assert job["report"].access_removed == 0
        assert actions == ["renewal.recorded"]


def test_s23_r9_r11_a_renewal_recorded_while_the_job_removes_access(app, renewing, monkeypatch):
    """The job has listed the customer as due for removal when the renewal is recorded:
    whichever commits first, the customer ends active with the anniversary moved."""
    r = renewing
    removal_day = day(30)
    outcome: dict = {}
    threads: list[threading.Thread] = []

    def renewal_meanwhile():
        with in_app(app):
            try:
                renew(r, today=removal_day, number="MIDJOB0001")
                outcome["renewal"] = "ok"
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcome["renewal"] = error

    original = deadlines._transition

    def transition_after_a_renewal(customer, **kwargs):
        if kwargs["action"] == "customer.access_removed" and not threads:
            thread = threading.Thread(target=renewal_meanwhile)
            threads.append(thread)
            thread.start()
            thread.join(timeout=3)  # done, or waiting for the job's write transaction
        return original(customer, **kwargs)

    monkeypatch.setattr(deadlines, "_transition", transition_after_a_renewal)
    with in_app(app):
        report = apply_deadlines(today=removal_day, reseller_ids=[r.reseller_id])
    for thread in threads:
        thread.join(timeout=60)
    assert threads and outcome.get("renewal") == "ok", outcome
    status, anniversary, actions = _final(app, r)
    assert anniversary == NEXT_AD
    assert status == CustomerStatus.ACTIVE, actions
    if report.access_removed:
        assert actions == ["customer.access_removed", "renewal.recorded", "customer.reactivated"]
    else:
        assert actions == ["renewal.recorded"]
