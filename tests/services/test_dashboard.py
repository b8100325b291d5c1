"""Översikt, the dashboard's sections (vip.services.dashboard), at their boundary dates with
explicit `today` values: authorizations due within 3 days (due today + 3 in, + 4 out, due
today in), Försenad ones (R4: from the day after the order-due date, day 15), return windows
closing within 3 days (R7: the last day in, the day after out, fully returned orders out),
renewal windows opening and anniversaries within the next 7 days, customers in grace (R11:
AD to AD + 29), renewed customers gone from all of them, failed mail for partner admins
only, another reseller's rows never counted, the capped count, and the customers-list
filter that each section's "show all" opens."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from tests.conftest import TODAY, product_id
from tests.support import user
from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    CommitmentState,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    ThreeYearCommitment,
)
from vip.services import dashboard
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.customers import create_customer, list_customers
from vip.services.errors import PermissionDenied
from vip.services.orders import record_order, return_window_open
from vip.services.renewals import record_renewal
from vip.services.terms import add_months

K = dashboard.SectionKey
D = date(2027, 3, 15)  # a date far from the tenants' own authorizations (due TODAY + 14)
_numbers = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------


def numbers(section: dashboard.Section) -> list[str]:
    return [row.authorization.number for row in section.rows]


def names(section: dashboard.Section) -> list[str]:
    return [row.customer.company_name for row in section.rows]


def read(key, tenant, today: date, **options) -> dashboard.Section:
    db.session.expire_all()
    return dashboard.section(user=user(tenant.admin.id), key=key, today=today, **options)


def new_customer(tenant, name: str) -> Customer:
    return create_customer(
        user=user(tenant.admin.id),
        today=TODAY,
        company_name=name,
        country="SE",
        market_segment="commercial",
        admin_name="Kund Admin",
        admin_email=f"it{next(_numbers)}@kund.example",
        admin_language="sv",
    )


def authorization_due(tenant, due_on: date, *, customer_id: int | None = None) -> str:
    """A pending authorization created 14 days before `due_on` (its order-due date)."""
    pa = create_purchase_authorization(
        user=user(tenant.sales.id),
        customer_id=customer_id or tenant.customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=product_id("Photoshop", "team", "commercial"), quantity=1)],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa.id)
        .values(created_on=due_on - timedelta(days=14), order_due_on=due_on)
    )
    db.session.commit()
    return pa.number


def with_anniversary(
    tenant, name: str, anniversary: date, status=CustomerStatus.ACTIVE
) -> Customer:
    customer = new_customer(tenant, name)
    customer.anniversary_date = anniversary
    customer.status = status
    db.session.commit()
    return customer


def committed_at_risk(tenant, name: str, anniversary: date, minimum: int = 20) -> Customer:
    """A customer with a three-year commitment covering `anniversary` and no licenses: at
    risk from 60 days before it (R16)."""
    customer = with_anniversary(tenant, name, anniversary)
    db.session.add(
        ThreeYearCommitment(
            customer_id=customer.id,
            state=CommitmentState.COMMITTED,
            minimum_quantity=minimum,
            requested_on=anniversary - timedelta(days=300),
            decided_on=anniversary - timedelta(days=300),
            starts_on=anniversary - timedelta(days=300),
            ends_on=add_months(anniversary, 24),
        )
    )
    db.session.commit()
    return customer


def order_on(tenant, order_date: date, *, status=OrderStatus.PLACED, name=None) -> Order:
    customer = new_customer(tenant, name or f"Order {next(_numbers)} AB")
    order = Order(
        customer_id=customer.id,
        vendor_order_number=f"DB{next(_numbers):08d}",
        order_type=OrderType.NEW,
        order_date=order_date,
        duration_months=12,
        term_ends_on=add_months(order_date, 12),
        status=status,
    )
    db.session.add(order)
    db.session.add(
        OrderLine(
            order=order,
            product_id=product_id("Photoshop", "team", "commercial"),
            sku="SKU-PS",
            quantity=3,
            returned_quantity=3 if status == OrderStatus.RETURNED else 0,
            status=status,
        )
    )
    db.session.commit()
    return order


def failed_mail(customer_id: int, *, status=NotificationStatus.FAILED, kind="invitation") -> int:
    notification = Notification(
        customer_id=customer_id,
        kind=kind,
        cycle_key=f"cycle-{next(_numbers)}",
        recipient="it@kund.example",
        subject="Subject",
        body_text="Text",
        body_html="<p>Text</p>",
        status=status,
        attempts=6,
        last_error="SMTPRecipientsRefused",
    )
    db.session.add(notification)
    db.session.commit()
    return notification.id


@pytest.fixture
def quiet(app, ctx, tenants):
    """Both tenants, their own authorizations (due TODAY + 14) cancelled so that only each
    test's rows are in the sections, and their invitation mail left queued."""
    db.session.execute(update(PurchaseAuthorization).values(status=AuthorizationStatus.CANCELLED))
    db.session.commit()
    return tenants


# --- 1. authorizations due within 3 days ---------------------------------------------------


def test_order_due_from_today_to_today_plus_3(quiet):
    number = authorization_due(quiet.a, D)

    assert numbers(read(K.ORDER_DUE, quiet.a, D - timedelta(days=4))) == []
    assert read(K.ORDER_DUE, quiet.a, D - timedelta(days=4)).count == 0
    for today, days_left in ((D - timedelta(days=3), 3), (D - timedelta(days=1), 1), (D, 0)):
        section = read(K.ORDER_DUE, quiet.a, today)
        assert (section.count, numbers(section)) == (1, [number]), today
        assert section.rows[0].days == days_left
        assert section.rows[0].customer.company_name == "a Kund AB"
    assert read(K.ORDER_DUE, quiet.a, D + timedelta(days=1)).count == 0


def test_order_due_leaves_out_ordered_and_cancelled(quiet):
    ordered = authorization_due(quiet.a, D)
    pa_id = db.session.scalar(
        db.select(PurchaseAuthorization.id).where(PurchaseAuthorization.number == ordered)
    )
    record_order(
        user=user(quiet.a.sales.id),
        pa_id=pa_id,
        today=D - timedelta(days=2),
        vendor_order_number="DUEORDER01",
        order_date=D - timedelta(days=2),
        duration_months=12,
    )
    assert read(K.ORDER_DUE, quiet.a, D - timedelta(days=2)).count == 0


# --- 2. Försenad (R4) ----------------------------------------------------------------------


def test_overdue_from_the_day_after_the_order_due_date(quiet):
    number = authorization_due(quiet.a, D)  # created D - 14: day 15 is D + 1
    pa = db.session.scalar(
        db.select(PurchaseAuthorization).where(PurchaseAuthorization.number == number)
    )

    assert read(K.ORDER_OVERDUE, quiet.a, D).count == 0
    assert not pa.is_overdue(D)
    section = read(K.ORDER_OVERDUE, quiet.a, D + timedelta(days=1))
    assert (section.count, numbers(section), section.rows[0].days) == (1, [number], 1)
    assert pa.created_on + timedelta(days=15) == D + timedelta(days=1)
    later = read(K.ORDER_OVERDUE, quiet.a, D + timedelta(days=20))
    assert later.rows[0].days == 20
    assert later.rows[0].authorization.is_overdue(D + timedelta(days=20))


def test_overdue_rows_come_most_overdue_first_and_are_capped_at_five(quiet):
    dues = [D - timedelta(days=offset) for offset in (3, 9, 1, 7, 5, 2, 8)]
    by_due = {authorization_due(quiet.a, due): due for due in dues}

    section = read(K.ORDER_OVERDUE, quiet.a, D)
    assert section.count == 7
    assert section.has_more
    assert numbers(section) == sorted(by_due, key=by_due.get)[:5]
    assert [row.days for row in section.rows] == [9, 8, 7, 5, 3]


def test_count_is_capped(quiet, monkeypatch):
    for offset in range(4):
        authorization_due(quiet.a, D - timedelta(days=offset + 1))
    monkeypatch.setattr(dashboard, "COUNT_CAP", 2)

    section = read(K.ORDER_OVERDUE, quiet.a, D)
    assert section.count == 3  # COUNT_CAP + 1: "more than 2"
    assert len(section.rows) == min(4, dashboard.ROWS)


def test_the_dashboards_cap_is_its_own_99(quiet, ctx):
    """A card's badge says "99+"; the lists keep counting to 1 000."""
    from vip.web.labels import count_label

    assert dashboard.COUNT_CAP == 99
    assert count_label(100, dashboard.COUNT_CAP) == "99+"
    assert count_label(99, dashboard.COUNT_CAP) == "99"
    assert count_label(100) == "100"


# --- 3. return windows closing within 3 days (R7) ------------------------------------------


def test_return_window_closing_last_day_in_and_the_day_after_out(quiet):
    order = order_on(quiet.a, D, name="Returnera AB")
    closes_on = D + timedelta(days=14)

    def shown(today):
        section = read(K.RETURN_CLOSING, quiet.a, today)
        return [row.order.vendor_order_number for row in section.rows], section

    assert shown(closes_on - timedelta(days=4))[0] == []
    for today in (closes_on - timedelta(days=3), closes_on):
        rows, section = shown(today)
        assert rows == [order.vendor_order_number], today
        assert section.rows[0].closes_on == closes_on
        assert section.rows[0].days_left == (closes_on - today).days
        assert return_window_open(section.rows[0].order, today)
        assert section.rows[0].customer.company_name == "Returnera AB"
    assert shown(closes_on + timedelta(days=1))[0] == []
    assert not return_window_open(order, closes_on + timedelta(days=1))


def test_fully_returned_orders_are_left_out(quiet):
    order_on(quiet.a, D, status=OrderStatus.RETURNED)
    kept = order_on(quiet.a, D)

    section = read(K.RETURN_CLOSING, quiet.a, D + timedelta(days=12))
    assert [row.order.id for row in section.rows] == [kept.id]
    assert section.count == 1


# --- 4. renewal windows opening within the next 7 days -------------------------------------


def test_window_opening_today_to_today_plus_6(quiet):
    with_anniversary(quiet.a, "Fönster AB", D)  # the window opens D - 30

    def shown(today):
        return names(read(K.WINDOW_OPENING, quiet.a, today))

    assert shown(D - timedelta(days=37)) == []  # opens in 7 days
    section = read(K.WINDOW_OPENING, quiet.a, D - timedelta(days=36))  # opens in 6 days
    assert names(section) == ["Fönster AB"]
    assert section.rows[0].dates.window_opens_on == D - timedelta(days=30)
    assert section.rows[0].dates.days_until(section.rows[0].dates.window_opens_on) == 6
    assert shown(D - timedelta(days=30)) == ["Fönster AB"]  # opens today
    assert shown(D - timedelta(days=29)) == []  # opened yesterday


# --- 5. anniversaries within the next 7 days -----------------------------------------------


def test_anniversary_today_to_today_plus_6(quiet):
    with_anniversary(quiet.a, "Årsdag AB", D)

    def shown(today):
        return names(read(K.ANNIVERSARY, quiet.a, today))

    assert shown(D - timedelta(days=7)) == []
    assert shown(D - timedelta(days=6)) == ["Årsdag AB"]
    assert shown(D) == ["Årsdag AB"]
    assert shown(D + timedelta(days=1)) == []


def test_anniversaries_sorted_by_date_then_name(quiet):
    with_anniversary(quiet.a, "Beta AB", D + timedelta(days=2))
    with_anniversary(quiet.a, "Cesar AB", D)
    with_anniversary(quiet.a, "Adam AB", D + timedelta(days=2))

    assert names(read(K.ANNIVERSARY, quiet.a, D)) == ["Cesar AB", "Adam AB", "Beta AB"]


# --- 6. in grace (R11) ---------------------------------------------------------------------


def test_grace_from_the_anniversary_to_29_days_after(quiet):
    with_anniversary(quiet.a, "Respit AB", D)

    def shown(today):
        return names(read(K.IN_GRACE, quiet.a, today))

    assert shown(D - timedelta(days=1)) == []
    section = read(K.IN_GRACE, quiet.a, D)
    assert names(section) == ["Respit AB"]
    assert section.rows[0].dates.access_removed_on == D + timedelta(days=30)
    assert shown(D + timedelta(days=29)) == ["Respit AB"]
    assert shown(D + timedelta(days=30)) == []


def test_grace_leaves_out_inactive_customers(quiet):
    with_anniversary(quiet.a, "Inaktiv AB", D, status=CustomerStatus.INACTIVE)
    with_anniversary(quiet.a, "Försenad AB", D, status=CustomerStatus.DELAYED)

    assert names(read(K.IN_GRACE, quiet.a, D + timedelta(days=3))) == ["Försenad AB"]


def test_a_renewed_customer_leaves_every_renewal_section(quiet):
    """A real renewal (R9) moves the anniversary a year on: gone from the window, the
    anniversary and the grace sections."""
    customer = new_customer(quiet.a, "Förnyad AB")
    first = D - timedelta(days=365)
    pa = create_purchase_authorization(
        user=user(quiet.a.sales.id),
        customer_id=customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=product_id("Photoshop", "team", "commercial"), quantity=2)],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == pa.id)
        .values(created_on=first, order_due_on=first + timedelta(days=14))
    )
    db.session.commit()
    record_order(
        user=user(quiet.a.sales.id),
        pa_id=pa.id,
        today=first,
        vendor_order_number="FIRST00001",
        order_date=first,
        duration_months=12,
    )
    anniversary = db.session.get(Customer, customer.id).anniversary_date
    in_grace, window_day = anniversary + timedelta(days=3), anniversary - timedelta(days=33)
    assert names(read(K.IN_GRACE, quiet.a, in_grace)) == ["Förnyad AB"]
    assert names(read(K.WINDOW_OPENING, quiet.a, window_day)) == ["Förnyad AB"]
    assert names(read(K.ANNIVERSARY, quiet.a, anniversary)) == ["Förnyad AB"]

    record_renewal(
        user=user(quiet.a.sales.id),
        customer_id=customer.id,
        today=in_grace,
        vendor_order_number="RENEW00001",
        order_date=in_grace,
        quantities={product_id("Photoshop", "team", "commercial"): 2},
    )
    for key, today in (
        (K.IN_GRACE, in_grace),
        (K.WINDOW_OPENING, window_day),
        (K.ANNIVERSARY, anniversary),
    ):
        assert read(key, quiet.a, today).count == 0, key


# --- 7. failed mail ------------------------------------------------------------------------


def test_failed_mail_for_partner_admins_only(quiet):
    failed = failed_mail(quiet.a.customer.id)
    failed_mail(quiet.a.customer.id, status=NotificationStatus.QUEUED, kind="renewal_due")
    failed_mail(quiet.a.customer.id, status=NotificationStatus.SENT, kind="renewal_missed")

    section = read(K.FAILED_MAIL, quiet.a, TODAY)
    assert section.count == 1
    assert [row.id for row in section.rows] == [failed]
    assert section.rows[0].customer.company_name == "a Kund AB"

    sales = user(quiet.a.sales.id)
    assert K.FAILED_MAIL not in dashboard.sections_for(sales)
    assert K.FAILED_MAIL in dashboard.sections_for(user(quiet.a.admin.id))
    with pytest.raises(PermissionDenied):
        dashboard.section(user=sales, key=K.FAILED_MAIL, today=TODAY)
    assert [s.key for s in dashboard.dashboard(user=sales, today=TODAY)] == [
        key for key in K if key != K.FAILED_MAIL
    ]


def test_vip_admin_has_no_dashboard(quiet):
    with pytest.raises(PermissionDenied):
        dashboard.section(user=user(quiet.a.vip_admin.id), key=K.ANNIVERSARY, today=TODAY)
    assert dashboard.sections_for(user(quiet.a.vip_admin.id)) == []


# --- tenancy -------------------------------------------------------------------------------


def test_another_resellers_rows_are_never_counted(quiet):
    """Every section filled for reseller B only: A sees eight empty sections; B sees all."""
    b = quiet.b
    authorization_due(b, D)
    authorization_due(b, D - timedelta(days=2))  # overdue on D
    order_on(b, D - timedelta(days=12), name="B Retur AB")
    with_anniversary(b, "B Fönster AB", D + timedelta(days=33))
    with_anniversary(b, "B Årsdag AB", D + timedelta(days=3))
    with_anniversary(b, "B Respit AB", D - timedelta(days=5))
    committed_at_risk(b, "B Åtagande AB", D + timedelta(days=40))
    failed_mail(b.customer.id)

    own = dashboard.dashboard(user=user(quiet.a.admin.id), today=D)
    assert [(s.key, s.count, s.rows) for s in own] == [(key, 0, []) for key in K]
    other = dashboard.dashboard(user=user(b.admin.id), today=D)
    assert {s.key: s.count for s in other} == {key: 1 for key in K}


@pytest.mark.parametrize(("days_before", "shown"), [(61, False), (60, True), (0, True)])
def test_r16_3yc_at_risk_card_from_60_days_before_the_anniversary(quiet, days_before, shown):
    committed_at_risk(quiet.a, "Åtagande AB", D + timedelta(days=days_before))
    card = dashboard.section(user=user(quiet.a.admin.id), key="commitment_at_risk", today=D)
    assert [row.customer.company_name for row in card.rows] == (["Åtagande AB"] if shown else [])
    assert card.count == (1 if shown else 0)


# --- the customers list's filter (the sections' "show all") --------------------------------


def test_customers_list_filter_per_section(quiet):
    a = quiet.a
    due = new_customer(a, "Snart AB")
    authorization_due(a, D + timedelta(days=2), customer_id=due.id)
    late = new_customer(a, "Sen AB")
    authorization_due(a, D - timedelta(days=1), customer_id=late.id)
    order_on(a, D - timedelta(days=14), name="Sista Dagen AB")
    with_anniversary(a, "Fönster AB", D + timedelta(days=30))
    with_anniversary(a, "Årsdag AB", D + timedelta(days=6))
    authorization_due(quiet.b, D + timedelta(days=2))  # B's customer is never listed for A

    def listed(attention, today=D):
        page = list_customers(user=user(a.admin.id), attention=attention, today=today)
        return sorted(customer.company_name for customer in page.items)

    assert listed("order_due") == ["Snart AB"]
    assert listed("order_overdue") == ["Sen AB"]
    assert listed("return_closing") == ["Sista Dagen AB"]
    assert listed("window_opening") == ["Fönster AB"]
    assert listed("anniversary") == ["Årsdag AB"]
    everyone = listed("")
    assert len(everyone) == 6 and "b Kund AB" not in everyone
    assert listed("no-such-section") == everyone
    assert listed("order_due", today=None) == everyone  # no date, no filter
    for key in dashboard.CUSTOMER_FILTERS:
        shown = {row.customer.company_name for row in read(key, a, D).rows}
        assert shown == set(listed(key)), key
