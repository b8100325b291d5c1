"""`vip generate` and `vip demo` write data that obeys the rules they exercise: every
anniversary derives from a first order (R5) and can be renewed (R9), every order-due date
follows the configured window (R3), statuses agree with R4 and R11, and the generated
portfolio is in the state the daily ticks before its "today" leave (R10)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import TODAY
from vip.demo import load_demo
from vip.extensions import db
from vip.generate import generate_portfolio, record_sent_reminders
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    Order,
    OrderType,
    PurchaseAuthorization,
    Role,
    User,
)
from vip.services.deadlines import preview_deadlines
from vip.services.renewals import record_renewal, renewal_lines_of
from vip.services.terms import add_months

WINDOW = 7  # not the default 14: the generator and the demo must follow the setting


@pytest.fixture
def app_config():
    return {"VIP_PA_ORDER_WINDOW_DAYS": WINDOW}


def stage_beginning_on(anniversary: date, today: date) -> str | None:
    """R10 written out: the reminder whose stage begins on `today`, if any."""
    return {-30: "renewal_due", 0: "renewal_missed", 23: "access_removal"}.get(
        (today - anniversary).days
    )


def check_every_customer(today: date) -> int:
    """Walks every customer through the invariants; returns how many have a term."""
    with_term = 0
    for customer in db.session.scalars(select(Customer).order_by(Customer.id)):
        pas = db.session.scalars(
            select(PurchaseAuthorization).where(PurchaseAuthorization.customer_id == customer.id)
        ).all()
        for pa in pas:  # R3: the order window is the setting's
            assert pa.order_due_on == pa.created_on + timedelta(days=WINDOW), pa.number
        overdue = any(
            pa.status == AuthorizationStatus.PENDING and pa.order_due_on < today for pa in pas
        )
        orders = db.session.scalars(
            select(Order).where(Order.customer_id == customer.id).order_by(Order.order_date)
        ).all()
        if customer.anniversary_date is None:
            assert not orders, customer.company_name
            assert customer.status != CustomerStatus.INACTIVE, customer.company_name
            continue
        with_term += 1
        # R5, R9: the anniversary derives from the first order, a year on per renewal.
        firsts = [o for o in orders if o.order_type == OrderType.NEW]
        assert firsts, f"{customer.company_name} has an anniversary but no first order"
        first = firsts[-1]
        derived = add_months(first.order_date, 12)
        for renewal in orders:
            if renewal.order_type == OrderType.RENEWAL and renewal.order_date > first.order_date:
                derived = add_months(derived, 12)
        assert customer.anniversary_date == derived, customer.company_name
        for order in orders:
            assert order.order_date < customer.anniversary_date
        # R11 and R4 as statuses.
        removed = (today - customer.anniversary_date).days >= 30
        assert (customer.status == CustomerStatus.INACTIVE) == removed, customer.company_name
        if not removed:
            assert (customer.status == CustomerStatus.DELAYED) == overdue, customer.company_name
        # R9: renewable, with the quantities the dialog pre-fills.
        assert renewal_lines_of(customer), customer.company_name
    return with_term


def renew_every_customer(reseller_user_of) -> int:
    """Records the renewal of every customer with a term, on its anniversary (R9)."""
    renewed = 0
    ids = db.session.scalars(
        select(Customer.id).where(Customer.anniversary_date.is_not(None)).order_by(Customer.id)
    ).all()
    for customer_id in ids:
        customer = db.session.get(Customer, customer_id)
        anniversary = customer.anniversary_date
        order = record_renewal(
            user=reseller_user_of(customer),
            customer_id=customer_id,
            today=anniversary,
            vendor_order_number=f"R{customer_id:09d}",
            order_date=anniversary,
            quantities={line.product.id: line.suggested for line in renewal_lines_of(customer)},
            # The demo's Kund AB holds fewer licenses than its three-year commitment: the
            # renewal is recorded as the dialog lets the user confirm it (R16).
            accept_below_commitment=True,
        )
        assert order.term_ends_on == add_months(anniversary, 12)
        renewed += 1
    return renewed


def admin_of(customer: Customer) -> User:
    return db.session.scalar(
        select(User).where(
            User.reseller_id == customer.reseller_id, User.role == Role.RESELLER_ADMIN
        )
    )


def test_r3_r4_r5_r9_r11_every_generated_customer_obeys_the_rules(app):
    with app.test_request_context():
        report = generate_portfolio(customers=300, today=TODAY, seed=11)
        assert report.customers == 300
        with_term = check_every_customer(TODAY)
        assert with_term > 250
        # Invited customers with orders are part of every portfolio (R1).
        invited_with_term = db.session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(
                Customer.status == CustomerStatus.INVITED, Customer.anniversary_date.is_not(None)
            )
        )
        assert invited_with_term > 0
        assert renew_every_customer(admin_of) == with_term


def test_r3_r5_r9_every_demo_customer_obeys_the_rules(app):
    with app.test_request_context(base_url="http://localhost"):
        created, _ = load_demo(today=TODAY, password="kanelbulle-vinter-2026")
        assert created
        with_term = check_every_customer(TODAY)
        assert with_term >= 10
        assert renew_every_customer(admin_of) == with_term


def test_r10_generate_leaves_the_stages_that_begin_today_to_the_first_tick(app):
    with app.test_request_context():
        report = generate_portfolio(customers=400, today=TODAY, seed=3)
        customers = db.session.scalars(select(Customer)).all()
        reseller_ids = sorted({c.reseller_id for c in customers})
        assert report.reminders == db.session.scalar(select(func.count()).select_from(Notification))
        assert set(db.session.scalars(select(Notification.status).distinct())) == {
            NotificationStatus.SENT
        }
        # No reminder of a stage that begins today went out yet.
        sent_on = {sent_at.date() for sent_at in db.session.scalars(select(Notification.sent_at))}
        assert sent_on and max(sent_on) < TODAY
        expected = {
            (c.id, stage_beginning_on(c.anniversary_date, TODAY))
            for c in customers
            if c.anniversary_date
            and c.status != CustomerStatus.INACTIVE
            and stage_beginning_on(c.anniversary_date, TODAY)
        }
        assert expected, "the seed should give some stage beginning today"
        # R4 and R11: nothing to change; R10: exactly the stages that begin today.
        changes = preview_deadlines(today=TODAY, reseller_ids=reseller_ids).changes
        assert {c.action for c in changes} == {"reminder_queued"}
        assert {(c.customer_id, c.reminder) for c in changes} == expected
        # Idempotent: nothing more the second time.
        assert record_sent_reminders(today=TODAY) == 0
