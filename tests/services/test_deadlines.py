"""The deadline job's rules through `apply_deadlines`: R4 (Försenad from day 15 of a pending
authorization, and back), R10 (one reminder per stage and anniversary cycle, only the one
still relevant, in the VIP admin's language), R11 (inactive 30 days after a missed
anniversary), and S24 (a second run, or an interleaved concurrent one, changes nothing)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import TODAY, product_id
from tests.support import in_app
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    User,
)
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.deadlines import apply_deadlines
from vip.services.orders import record_order

AD = date(2027, 1, 15)  # the anniversary of the R10/R11 tests
DUE, MISSED, REMOVAL = "renewal_due", "renewal_missed", "access_removal"
REMINDER_KINDS = (DUE, MISSED, REMOVAL)
STATUS_ACTIONS = ("customer.delayed", "customer.delay_cleared", "customer.access_removed")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------


def run(app, day: date, reseller_id: int):
    """One job run of the deadlines for one reseller; returns its report."""
    with in_app(app):
        return apply_deadlines(today=day, reseller_ids=[reseller_id])


def set_customer(app, customer_id: int, **values) -> None:
    with in_app(app):
        db.session.execute(update(Customer).where(Customer.id == customer_id).values(**values))
        db.session.commit()


def set_pa_status(app, pa_id: int, status: AuthorizationStatus) -> None:
    """Resolves an authorization behind the actions' back, so only the job can clear R4."""
    with in_app(app):
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == pa_id)
            .values(status=status)
        )
        db.session.commit()


def status_of(app, customer_id: int) -> tuple[CustomerStatus, CustomerStatus | None]:
    with in_app(app):
        row = db.session.execute(
            select(Customer.status, Customer.status_before_delay).where(Customer.id == customer_id)
        ).one()
        return row.status, row.status_before_delay


def reminders(app, customer_id: int) -> list[tuple[str, str]]:
    """(kind, cycle key) of every reminder queued for the customer, in queueing order."""
    with in_app(app):
        return [
            (row.kind, row.cycle_key)
            for row in db.session.execute(
                select(Notification.kind, Notification.cycle_key)
                .where(
                    Notification.customer_id == customer_id,
                    Notification.kind.in_(REMINDER_KINDS),
                )
                .order_by(Notification.id)
            )
        ]


def reminder_rows(app, customer_id: int) -> list[dict]:
    with in_app(app):
        return [
            {
                "kind": n.kind,
                "cycle_key": n.cycle_key,
                "recipient": n.recipient,
                "language": n.language,
                "subject": n.subject,
                "text": n.body_text,
                "html": n.body_html,
                "status": n.status,
                "attempts": n.attempts,
            }
            for n in db.session.scalars(
                select(Notification)
                .where(
                    Notification.customer_id == customer_id,
                    Notification.kind.in_(REMINDER_KINDS),
                )
                .order_by(Notification.id)
            )
        ]


def audits(app, customer_id: int, *actions: str) -> list[tuple[str, dict, int | None, str]]:
    """(action, details, actor id, actor label) of the customer's audit events."""
    with in_app(app):
        return [
            (e.action, e.details, e.actor_id, e.actor_label)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.customer_id == customer_id,
                    AuditEvent.action.in_(actions or STATUS_ACTIONS),
                )
                .order_by(AuditEvent.id)
            )
        ]


def world(app) -> dict:
    """Everything the job may change, to show that a run changed nothing."""
    with in_app(app):
        return {
            "customers": sorted(
                db.session.execute(
                    select(Customer.id, Customer.status, Customer.status_before_delay)
                ).all()
            ),
            "notifications": db.session.scalar(select(func.count()).select_from(Notification)),
            "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
        }


def new_pa(app, sales_id: int, customer_id: int, *, today: date) -> tuple[int, date]:
    """A pending authorization created through the service on `today`: (id, order-due date)."""
    with in_app(app):
        pa = create_purchase_authorization(
            user=db.session.get(User, sales_id),
            customer_id=customer_id,
            today=today,
            license_type="team",
            lines=[
                LineInput(product_id=product_id("Acrobat Pro", "team", "commercial"), quantity=2)
            ],
            deployment_date=today,
            customer_po_number=None,
        )
        return pa.id, pa.order_due_on


def new_customer(app, tenant, name: str, *, status=CustomerStatus.ACTIVE, **values) -> int:
    with in_app(app):
        customer = create_customer(
            user=db.session.get(User, tenant.admin.id),
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name="Maja Berg",
            admin_email=f"{abs(hash(name)) % 10**8}@kund.example",
            admin_language="sv",
        )
        customer_id = customer.id
    set_customer(app, customer_id, status=status, **values)
    return customer_id


@dataclass
class Subject:
    """The anniversary test customer (tenant a's) and its ids."""

    id: int
    reseller_id: int
    other_id: int  # tenant b's customer: another reseller
    other_reseller_id: int
    email: str
    vip_id: str
    vip_admin_id: int


@pytest.fixture
def subject(app, tenants) -> Subject:
    """Tenant a's customer, active, anniversary AD; both tenants' fixture authorizations
    cancelled so R4 stays out of the reminder tests. Tenant b's customer has the same
    anniversary."""
    for tenant in (tenants.a, tenants.b):
        set_pa_status(app, tenant.authorization.id, AuthorizationStatus.CANCELLED)
        set_customer(app, tenant.customer.id, status=CustomerStatus.ACTIVE, anniversary_date=AD)
    return Subject(
        id=tenants.a.customer.id,
        reseller_id=tenants.a.reseller.id,
        other_id=tenants.b.customer.id,
        other_reseller_id=tenants.b.reseller.id,
        email=tenants.a.customer.admin_email,
        vip_id=tenants.a.customer.vip_id,
        vip_admin_id=tenants.a.vip_admin.id,
    )


def cycle(anniversary: date = AD) -> str:
    return anniversary.isoformat()


def expected_kind(offset: int) -> str | None:
    """R10 as specified, written out independently of the job's own table."""
    if -30 <= offset <= -1:
        return DUE
    if 0 <= offset <= 22:
        return MISSED
    if 23 <= offset <= 29:
        return REMOVAL
    return None


# --- R4: Försenad --------------------------------------------------------------------------


@pytest.fixture
def a(app, tenants):
    """Tenant a, with both fixture authorizations cancelled so only a test's own count."""
    for tenant in (tenants.a, tenants.b):
        set_pa_status(app, tenant.authorization.id, AuthorizationStatus.CANCELLED)
    return tenants.a


def test_r4_pa_day_14_not_delayed_day_15_delayed(app, a):
    customer_id = new_customer(app, a, "Dag Femton AB")
    pa_id, due = new_pa(app, a.sales.id, customer_id, today=TODAY)
    assert due == TODAY + timedelta(days=14)

    report = run(app, TODAY + timedelta(days=14), a.reseller.id)
    assert report.delayed == 0
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    assert audits(app, customer_id) == []

    report = run(app, TODAY + timedelta(days=15), a.reseller.id)
    assert report.delayed == 1
    assert status_of(app, customer_id) == (CustomerStatus.DELAYED, CustomerStatus.ACTIVE)
    [(action, details, actor_id, label)] = audits(app, customer_id)
    assert action == "customer.delayed"
    assert details["previous"] == "active" and details["status"] == "delayed"
    assert details["today"] == (TODAY + timedelta(days=15)).isoformat()
    assert actor_id is None and label == "system"


def test_r4_day_15_counts_from_the_day_the_pa_was_created(app, a):
    customer_id = new_customer(app, a, "Senare AB")
    created = TODAY + timedelta(days=40)
    new_pa(app, a.sales.id, customer_id, today=created)
    run(app, created + timedelta(days=14), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.ACTIVE
    run(app, created + timedelta(days=15), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.DELAYED


@pytest.mark.parametrize("app_config", [{"VIP_PA_ORDER_WINDOW_DAYS": 7}])
def test_r4_the_order_window_is_a_setting(app, a):
    customer_id = new_customer(app, a, "Sju Dagar AB")
    _, due = new_pa(app, a.sales.id, customer_id, today=TODAY)
    assert due == TODAY + timedelta(days=7)
    run(app, TODAY + timedelta(days=7), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.ACTIVE
    run(app, TODAY + timedelta(days=8), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.DELAYED


def test_r4_a_second_run_changes_nothing(app, a):
    customer_id = new_customer(app, a, "Två Gånger AB")
    new_pa(app, a.sales.id, customer_id, today=TODAY)
    day = TODAY + timedelta(days=15)
    run(app, day, a.reseller.id)
    before = world(app)
    report = run(app, day, a.reseller.id)
    assert (report.delayed, report.delay_cleared) == (0, 0)
    assert world(app) == before
    run(app, day + timedelta(days=1), a.reseller.id)
    assert [a[0] for a in audits(app, customer_id)] == ["customer.delayed"]
    assert status_of(app, customer_id) == (CustomerStatus.DELAYED, CustomerStatus.ACTIVE)


@pytest.mark.parametrize("resolution", [AuthorizationStatus.CANCELLED, AuthorizationStatus.ORDERED])
def test_r4_delay_cleared_by_the_job_once_the_pa_is_resolved(app, a, resolution):
    customer_id = new_customer(app, a, "Löst AB")
    pa_id, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    run(app, TODAY + timedelta(days=15), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.DELAYED

    set_pa_status(app, pa_id, resolution)
    assert status_of(app, customer_id)[0] == CustomerStatus.DELAYED  # until the job runs
    report = run(app, TODAY + timedelta(days=16), a.reseller.id)
    assert (report.delayed, report.delay_cleared) == (0, 1)
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    actions = audits(app, customer_id)
    assert [a[0] for a in actions] == ["customer.delayed", "customer.delay_cleared"]
    assert actions[1][1]["status"] == "active" and actions[1][2] is None

    before = world(app)
    report = run(app, TODAY + timedelta(days=16), a.reseller.id)
    assert (report.delayed, report.delay_cleared) == (0, 0)
    assert world(app) == before
    run(app, TODAY + timedelta(days=17), a.reseller.id)
    assert world(app) == before


def test_r4_an_invited_customer_returns_to_invited(app, a):
    customer_id = new_customer(app, a, "Inbjuden AB", status=CustomerStatus.INVITED)
    pa_id, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    run(app, TODAY + timedelta(days=15), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.DELAYED, CustomerStatus.INVITED)
    assert audits(app, customer_id)[0][1]["previous"] == "invited"

    set_pa_status(app, pa_id, AuthorizationStatus.CANCELLED)
    run(app, TODAY + timedelta(days=20), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.INVITED, None)
    assert audits(app, customer_id)[-1][1]["status"] == "invited"


def test_r4_cancel_action_clears_at_once_and_the_job_adds_nothing(app, a):
    customer_id = new_customer(app, a, "Avbryt AB")
    pa_id, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    day = TODAY + timedelta(days=15)
    run(app, day, a.reseller.id)
    with in_app(app):
        cancel_purchase_authorization(
            user=db.session.get(User, a.sales.id), pa_id=pa_id, today=day, now=NOW
        )
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    run(app, day, a.reseller.id)
    run(app, day + timedelta(days=1), a.reseller.id)
    actions = audits(app, customer_id)
    assert [a[0] for a in actions] == ["customer.delayed", "customer.delay_cleared"]
    assert actions[1][2] == a.sales.id  # cleared by the action, not the job


def test_r4_recording_the_order_clears_and_the_job_adds_nothing(app, a):
    customer_id = new_customer(app, a, "Beställt AB")
    pa_id, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    day = TODAY + timedelta(days=15)
    run(app, day, a.reseller.id)
    with in_app(app):
        record_order(
            user=db.session.get(User, a.sales.id),
            pa_id=pa_id,
            today=day,
            vendor_order_number="LATE000001",
            order_date=day,
            duration_months=12,
        )
    run(app, day, a.reseller.id)
    run(app, day + timedelta(days=1), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    assert [a[0] for a in audits(app, customer_id)] == [
        "customer.delayed",
        "customer.delay_cleared",
    ]


def test_r4_another_overdue_pa_keeps_the_delay(app, a):
    customer_id = new_customer(app, a, "Två PA AB")
    first, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    second, _ = new_pa(app, a.sales.id, customer_id, today=TODAY + timedelta(days=3))
    run(app, TODAY + timedelta(days=20), a.reseller.id)
    set_pa_status(app, first, AuthorizationStatus.CANCELLED)
    report = run(app, TODAY + timedelta(days=21), a.reseller.id)
    assert report.delay_cleared == 0
    assert status_of(app, customer_id)[0] == CustomerStatus.DELAYED
    set_pa_status(app, second, AuthorizationStatus.ORDERED)
    run(app, TODAY + timedelta(days=22), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    assert [a[0] for a in audits(app, customer_id)] == [
        "customer.delayed",
        "customer.delay_cleared",
    ]


def test_r4_a_pending_pa_not_yet_overdue_does_not_keep_the_delay(app, a):
    customer_id = new_customer(app, a, "Ny Period AB")
    first, _ = new_pa(app, a.sales.id, customer_id, today=TODAY)
    new_pa(app, a.sales.id, customer_id, today=TODAY + timedelta(days=10))  # due +24
    run(app, TODAY + timedelta(days=16), a.reseller.id)
    set_pa_status(app, first, AuthorizationStatus.CANCELLED)
    run(app, TODAY + timedelta(days=17), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.ACTIVE, None)
    run(app, TODAY + timedelta(days=24), a.reseller.id)
    assert status_of(app, customer_id)[0] == CustomerStatus.ACTIVE
    run(app, TODAY + timedelta(days=25), a.reseller.id)  # the second one's day 15
    assert status_of(app, customer_id) == (CustomerStatus.DELAYED, CustomerStatus.ACTIVE)
    assert [a[0] for a in audits(app, customer_id)] == [
        "customer.delayed",
        "customer.delay_cleared",
        "customer.delayed",
    ]


def test_r4_an_inactive_customer_is_not_delayed(app, a):
    customer_id = new_customer(app, a, "Borta AB", status=CustomerStatus.INACTIVE)
    new_pa(app, a.sales.id, customer_id, today=TODAY)
    run(app, TODAY + timedelta(days=15), a.reseller.id)
    assert status_of(app, customer_id) == (CustomerStatus.INACTIVE, None)
    assert audits(app, customer_id) == []


def test_r4_only_the_given_resellers(app, tenants):
    # Both fixture customers have a pending PA created on TODAY; only reseller a's is run.
    for tenant in (tenants.a, tenants.b):
        set_customer(app, tenant.customer.id, status=CustomerStatus.ACTIVE)
    run(app, TODAY + timedelta(days=15), tenants.a.reseller.id)
    assert status_of(app, tenants.a.customer.id)[0] == CustomerStatus.DELAYED
    assert status_of(app, tenants.b.customer.id)[0] == CustomerStatus.ACTIVE


# --- R10: reminders ------------------------------------------------------------------------


def test_r10_ad_minus_31_queues_nothing(app, subject):
    report = run(app, AD - timedelta(days=31), subject.reseller_id)
    assert report.reminders == {}
    assert reminders(app, subject.id) == []


def test_r10_ad_minus_30_queues_renewal_due(app, subject):
    run(app, AD - timedelta(days=30), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle())]


def test_r10_ad_minus_1_renewal_due_when_first_run_then(app, subject):
    run(app, AD - timedelta(days=1), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle())]


def test_r10_ad_minus_1_queues_nothing_new_when_already_queued(app, subject):
    run(app, AD - timedelta(days=30), subject.reseller_id)
    report = run(app, AD - timedelta(days=1), subject.reseller_id)
    assert report.reminders == {}
    assert reminders(app, subject.id) == [(DUE, cycle())]


def test_r10_ad_queues_renewal_missed(app, subject):
    run(app, AD - timedelta(days=30), subject.reseller_id)
    run(app, AD, subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle()), (MISSED, cycle())]


def test_r10_ad_plus_22_renewal_missed_only_once(app, subject):
    run(app, AD, subject.reseller_id)
    report = run(app, AD + timedelta(days=22), subject.reseller_id)
    assert report.reminders == {}
    assert reminders(app, subject.id) == [(MISSED, cycle())]


def test_r10_ad_plus_22_renewal_missed_when_first_run_then(app, subject):
    run(app, AD + timedelta(days=22), subject.reseller_id)
    assert reminders(app, subject.id) == [(MISSED, cycle())]


def test_r10_ad_plus_23_queues_access_removal(app, subject):
    run(app, AD, subject.reseller_id)
    run(app, AD + timedelta(days=23), subject.reseller_id)
    assert reminders(app, subject.id) == [(MISSED, cycle()), (REMOVAL, cycle())]


def test_r10_ad_plus_29_queues_nothing_new(app, subject):
    run(app, AD + timedelta(days=23), subject.reseller_id)
    report = run(app, AD + timedelta(days=29), subject.reseller_id)
    assert report.reminders == {}
    assert reminders(app, subject.id) == [(REMOVAL, cycle())]
    assert status_of(app, subject.id)[0] == CustomerStatus.ACTIVE


def test_r10_ad_plus_30_queues_nothing_and_the_customer_is_inactive(app, subject):
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.reminders == {}
    assert report.access_removed == 1
    assert reminders(app, subject.id) == []
    assert status_of(app, subject.id)[0] == CustomerStatus.INACTIVE


@pytest.mark.parametrize(
    "offset, kind",
    [
        (-60, None),
        (-31, None),
        (-30, DUE),
        (-29, DUE),
        (-1, DUE),
        (0, MISSED),
        (1, MISSED),
        (22, MISSED),
        (23, REMOVAL),
        (29, REMOVAL),
        (30, None),
        (31, None),
        (365, None),
    ],
)
def test_r10_a_first_run_queues_only_the_relevant_reminder(app, subject, offset, kind):
    run(app, AD + timedelta(days=offset), subject.reseller_id)
    assert reminders(app, subject.id) == ([] if kind is None else [(kind, cycle())])
    assert expected_kind(offset) == kind  # the test's own reading of R10 agrees


def test_r10_daily_runs_queue_each_reminder_on_its_first_day(app, subject):
    """Runs every day from AD-31 to AD+30: new reminders only on AD-30, AD and AD+23."""
    new_on: dict[int, list] = {}
    seen: list = []
    for offset in range(-31, 31):
        run(app, AD + timedelta(days=offset), subject.reseller_id)
        now = reminders(app, subject.id)
        if now != seen:
            new_on[offset] = now[len(seen) :]
            seen = now
    assert new_on == {-30: [(DUE, cycle())], 0: [(MISSED, cycle())], 23: [(REMOVAL, cycle())]}


def test_r10_catch_up_at_ad_plus_2_sends_only_renewal_missed(app, subject):
    run(app, AD - timedelta(days=45), subject.reseller_id)
    run(app, AD + timedelta(days=2), subject.reseller_id)
    assert reminders(app, subject.id) == [(MISSED, cycle())]


def test_r10_catch_up_at_ad_plus_25_sends_only_access_removal(app, subject):
    run(app, AD + timedelta(days=25), subject.reseller_id)
    assert reminders(app, subject.id) == [(REMOVAL, cycle())]
    # and days later nothing stale follows
    run(app, AD + timedelta(days=26), subject.reseller_id)
    assert reminders(app, subject.id) == [(REMOVAL, cycle())]


@pytest.mark.parametrize(
    "start, gap, expected",
    [
        (-45, 1, [DUE, MISSED, REMOVAL]),
        (-45, 10, [DUE, MISSED, REMOVAL]),  # runs at -25, +5, +25 reach each stage
        (-41, 10, [DUE, MISSED, REMOVAL]),  # -21, +9, +29
        (-38, 10, [DUE, MISSED]),  # -28, +2, +22, then +32: the removal stage was skipped
        (-45, 40, [DUE]),  # -5, then +35: too late for anything
        (-20, 40, [DUE, MISSED]),  # -20, +20, then +60
    ],
)
def test_r10_gaps_between_runs_send_only_what_is_still_relevant(app, subject, start, gap, expected):
    offsets = list(range(start, 61, gap))
    for offset in offsets:
        run(app, AD + timedelta(days=offset), subject.reseller_id)
    # Independently from the list above: the stages the runs landed in, in order.
    reached: list[str] = []
    for offset in offsets:
        kind = expected_kind(offset)
        if offset >= 30:
            break
        if kind and kind not in reached:
            reached.append(kind)
    assert reached == expected
    assert reminders(app, subject.id) == [(kind, cycle()) for kind in expected]
    assert status_of(app, subject.id)[0] == CustomerStatus.INACTIVE


def test_r10_inactive_customers_get_no_reminders(app, subject):
    set_customer(app, subject.id, status=CustomerStatus.INACTIVE)
    for offset in (-30, -1, 0, 22, 23, 29, 30):
        run(app, AD + timedelta(days=offset), subject.reseller_id)
    assert reminders(app, subject.id) == []
    assert status_of(app, subject.id) == (CustomerStatus.INACTIVE, None)
    assert audits(app, subject.id) == []


def test_r10_r11_an_invited_customer_with_a_term_gets_every_reminder_and_loses_access(app, subject):
    """R1 allows orders before the VIP admin accepts the invitation; R10 and R11 exempt no
    status: the reminders go to the invited admin, and access goes on day 30."""
    set_customer(app, subject.id, status=CustomerStatus.INVITED)
    for offset in (-30, -1, 0, 22, 23, 29):
        run(app, AD + timedelta(days=offset), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle()), (MISSED, cycle()), (REMOVAL, cycle())]
    assert status_of(app, subject.id) == (CustomerStatus.INVITED, None)
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.access_removed == 1
    assert status_of(app, subject.id) == (CustomerStatus.INACTIVE, None)
    removed = audits(app, subject.id)[-1][1]
    assert removed["previous"] == "invited"


def test_r10_a_delayed_customer_still_gets_its_reminders(app, tenants, subject):
    # The fixture's PA (created TODAY, due TODAY+14) pending again: overdue on AD-30.
    set_pa_status(app, tenants.a.authorization.id, AuthorizationStatus.PENDING)
    run(app, AD - timedelta(days=30), subject.reseller_id)
    assert status_of(app, subject.id)[0] == CustomerStatus.DELAYED
    assert reminders(app, subject.id) == [(DUE, cycle())]
    run(app, AD + timedelta(days=23), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle()), (REMOVAL, cycle())]


def test_r10_only_the_given_resellers(app, subject):
    run(app, AD, subject.reseller_id)
    assert reminders(app, subject.id) == [(MISSED, cycle())]
    assert reminders(app, subject.other_id) == []
    run(app, AD, subject.other_reseller_id)
    assert reminders(app, subject.other_id) == [(MISSED, cycle())]


def test_r10_a_customer_without_anniversary_gets_nothing(app, subject):
    set_customer(app, subject.id, anniversary_date=None)
    for offset in (-30, 0, 23, 30):
        run(app, AD + timedelta(days=offset), subject.reseller_id)
    assert reminders(app, subject.id) == []
    assert status_of(app, subject.id)[0] == CustomerStatus.ACTIVE


def test_r10_a_renewal_starts_a_new_cycle_and_ends_the_old_one(app, subject):
    run(app, AD - timedelta(days=30), subject.reseller_id)
    run(app, AD + timedelta(days=3), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle()), (MISSED, cycle())]
    next_ad = date(AD.year + 1, AD.month, AD.day)
    set_customer(app, subject.id, anniversary_date=next_ad)  # renewed on AD+3
    for offset in (4, 23, 29, 30, 60):
        run(app, AD + timedelta(days=offset), subject.reseller_id)
    assert reminders(app, subject.id) == [(DUE, cycle()), (MISSED, cycle())]
    assert status_of(app, subject.id)[0] == CustomerStatus.ACTIVE
    run(app, next_ad - timedelta(days=30), subject.reseller_id)
    run(app, next_ad, subject.reseller_id)
    assert reminders(app, subject.id) == [
        (DUE, cycle()),
        (MISSED, cycle()),
        (DUE, cycle(next_ad)),
        (MISSED, cycle(next_ad)),
    ]


def test_r10_the_reminder_is_queued_to_the_customer_admin(app, subject):
    run(app, AD, subject.reseller_id)
    [mail] = reminder_rows(app, subject.id)
    assert mail["recipient"] == subject.email
    assert mail["status"] == NotificationStatus.QUEUED and mail["attempts"] == 0
    assert subject.vip_id in mail["text"] and subject.vip_id in mail["html"]
    assert "http://localhost/" in mail["text"]
    assert "\n" not in mail["subject"] and "\r" not in mail["subject"]


def test_r10_each_reminder_queued_is_counted_and_audited_once(app, subject):
    expected = {-31: {}, -30: {DUE: 1}, -29: {}, 0: {MISSED: 1}, 1: {}, 23: {REMOVAL: 1}}
    for offset, counts in expected.items():
        for _ in range(2):  # the second run of the day counts nothing
            report = run(app, AD + timedelta(days=offset), subject.reseller_id)
            assert report.reminders == counts, offset
            counts = {}
    events = audits(app, subject.id, "reminder.queued")
    assert [(e[1], e[2]) for e in events] == [
        (
            {"kind": kind, "anniversary": cycle(), "today": (AD + timedelta(days=off)).isoformat()},
            None,
        )
        for kind, off in ((DUE, -30), (MISSED, 0), (REMOVAL, 23))
    ]


def test_r10_s24_a_second_run_the_same_day_queues_nothing(app, subject):
    run(app, AD, subject.reseller_id)
    before = world(app)
    report = run(app, AD, subject.reseller_id)
    assert report.reminders == {} and report.access_removed == 0
    assert world(app) == before


SUBJECTS = {
    (DUE, "en"): "Time to renew: a Kund AB's VIP anniversary is January 15, 2027",
    (DUE, "sv"): "Dags att förlänga: VIP-årsdagen för a Kund AB är 15 januari 2027",
    (MISSED, "en"): "Renewal missed: a Kund AB's VIP anniversary was January 15, 2027",
    (MISSED, "sv"): "Förlängningen har missats: VIP-årsdagen för a Kund AB var 15 januari 2027",
    (REMOVAL, "en"): "Access will be removed on February 14, 2027: renew a Kund AB's VIP licenses",
    (REMOVAL, "sv"): "Åtkomsten tas bort 14 februari 2027: förläng VIP-licenserna för a Kund AB",
}
OFFSETS = {DUE: -30, MISSED: 0, REMOVAL: 23}


@pytest.mark.parametrize("kind", REMINDER_KINDS)
@pytest.mark.parametrize("user_language, customer_language", [("en", "sv"), ("sv", "en")])
def test_r10_the_mail_is_in_the_vip_admin_users_language(
    app, subject, compiled_translations, kind, user_language, customer_language
):
    with in_app(app):
        db.session.execute(
            update(User).where(User.id == subject.vip_admin_id).values(language=user_language)
        )
        db.session.commit()
    set_customer(app, subject.id, admin_language=customer_language)
    run(app, AD + timedelta(days=OFFSETS[kind]), subject.reseller_id)
    [mail] = reminder_rows(app, subject.id)
    assert mail["language"] == user_language
    assert mail["subject"] == SUBJECTS[kind, user_language]
    greeting, foreign = ("Hej", "Hello") if user_language == "sv" else ("Hello", "Hej")
    for body in (mail["text"], mail["html"]):
        assert greeting in body and foreign not in body


@pytest.mark.parametrize(
    "language",
    [
        "en",
        "sv",
    ],
)
def test_r10_the_html_mail_declares_its_language(app, subject, compiled_translations, language):
    set_customer(app, subject.id, admin_language=language)
    with in_app(app):
        db.session.execute(
            update(User).where(User.id == subject.vip_admin_id).values(language=language)
        )
        db.session.commit()
    run(app, AD, subject.reseller_id)
    [mail] = reminder_rows(app, subject.id)
    assert f'<html lang="{language}">' in mail["html"]


@pytest.mark.parametrize("language", ["en", "sv"])
def test_r10_without_an_active_vip_admin_user_the_customers_language(
    app, subject, compiled_translations, language
):
    with in_app(app):
        db.session.execute(
            update(User)
            .where(User.id == subject.vip_admin_id)
            .values(active=False, language="sv" if language == "en" else "en")
        )
        db.session.commit()
    set_customer(app, subject.id, admin_language=language)
    run(app, AD - timedelta(days=30), subject.reseller_id)
    [mail] = reminder_rows(app, subject.id)
    assert mail["language"] == language
    assert mail["subject"] == SUBJECTS[DUE, language]


def test_r10_the_body_shows_the_localized_dates(app, subject, compiled_translations):
    set_customer(app, subject.id, admin_language="sv")
    run(app, AD, subject.reseller_id)  # renewal_missed names the anniversary and removal date
    [mail] = reminder_rows(app, subject.id)
    for body in (mail["text"], mail["html"]):
        assert "15 januari 2027" in body and "14 februari 2027" in body
        assert "January" not in body and "2027-01-15" not in body


# --- R11: access removal -------------------------------------------------------------------


def test_r11_ad_plus_29_active_ad_plus_30_inactive_audited_once(app, subject):
    report = run(app, AD + timedelta(days=29), subject.reseller_id)
    assert report.access_removed == 0
    assert status_of(app, subject.id)[0] == CustomerStatus.ACTIVE

    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.access_removed == 1
    assert status_of(app, subject.id) == (CustomerStatus.INACTIVE, None)
    [(action, details, actor_id, label)] = audits(app, subject.id)
    assert action == "customer.access_removed" and actor_id is None and label == "system"
    assert details["previous"] == "active" and details["anniversary"] == cycle()
    assert details["today"] == (AD + timedelta(days=30)).isoformat()

    before = world(app)
    for offset in (30, 31, 60):
        report = run(app, AD + timedelta(days=offset), subject.reseller_id)
        assert report.access_removed == 0
    assert world(app) == before


def test_r11_a_delayed_customer_becomes_inactive(app, tenants, subject):
    set_pa_status(app, tenants.a.authorization.id, AuthorizationStatus.PENDING)
    run(app, AD + timedelta(days=29), subject.reseller_id)
    assert status_of(app, subject.id) == (CustomerStatus.DELAYED, CustomerStatus.ACTIVE)
    run(app, AD + timedelta(days=30), subject.reseller_id)
    assert status_of(app, subject.id) == (CustomerStatus.INACTIVE, None)
    actions = audits(app, subject.id)
    assert [a[0] for a in actions] == ["customer.delayed", "customer.access_removed"]
    assert actions[1][1]["previous"] == "delayed"
    # The overdue PA does not bring an inactive customer back to delayed.
    run(app, AD + timedelta(days=31), subject.reseller_id)
    assert status_of(app, subject.id) == (CustomerStatus.INACTIVE, None)


def test_r11_a_job_that_missed_weeks_removes_access_without_stale_mail(app, subject):
    report = run(app, AD + timedelta(days=100), subject.reseller_id)
    assert report.access_removed == 1 and report.reminders == {}
    assert status_of(app, subject.id)[0] == CustomerStatus.INACTIVE
    assert reminders(app, subject.id) == []


def test_r11_a_renewal_before_day_30_keeps_access(app, subject):
    run(app, AD + timedelta(days=29), subject.reseller_id)
    set_customer(app, subject.id, anniversary_date=date(AD.year + 1, AD.month, AD.day))
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.access_removed == 0
    assert status_of(app, subject.id)[0] == CustomerStatus.ACTIVE


def test_r11_leaves_inactive_customers_alone(app, subject):
    set_customer(app, subject.id, status=CustomerStatus.INACTIVE)
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.access_removed == 0
    assert audits(app, subject.id) == []


def test_r11_an_invited_customer_without_a_term_is_left_alone(app, subject):
    set_customer(app, subject.id, status=CustomerStatus.INVITED, anniversary_date=None)
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert report.access_removed == 0
    assert status_of(app, subject.id) == (CustomerStatus.INVITED, None)


def test_r4_r11_r10_run_in_that_order(app, tenants, subject):
    """On AD+30 with an overdue authorization: R4 delays first, then R11 removes access
    (from delayed), and R10 queues nothing after the removal."""
    set_pa_status(app, tenants.a.authorization.id, AuthorizationStatus.PENDING)
    report = run(app, AD + timedelta(days=30), subject.reseller_id)
    assert (report.delayed, report.access_removed, report.reminders) == (1, 1, {})
    actions = audits(app, subject.id)
    assert [a[0] for a in actions] == ["customer.delayed", "customer.access_removed"]
    assert actions[1][1]["previous"] == "delayed"
    assert reminders(app, subject.id) == []


# --- S24: concurrent runs ------------------------------------------------------------------


def _interleave_another_run_after_first_commit(app, monkeypatch, day, reseller_id):
    """Runs the job in this thread; right after its first commit, a whole second run of
    the same day (another thread, its own session) runs to completion, as two job
    processes started together may interleave. Returns both reports."""
    main = threading.get_ident()
    real_commit = db.session.commit
    reports: dict[str, object] = {}
    fired: list[bool] = []

    def other_run():
        with in_app(app):
            reports["other"] = apply_deadlines(today=day, reseller_ids=[reseller_id])

    def commit():
        real_commit()
        if threading.get_ident() == main and not fired:
            fired.append(True)
            thread = threading.Thread(target=other_run)
            thread.start()
            thread.join(timeout=60)

    monkeypatch.setattr(db.session, "commit", commit)
    with in_app(app):
        reports["first"] = apply_deadlines(today=day, reseller_ids=[reseller_id])
    monkeypatch.undo()
    assert fired and "other" in reports
    return reports


def test_r4_s24_an_interleaved_second_run_delays_each_customer_once(app, a, monkeypatch):
    ids = [
        new_customer(app, a, f"Samtidig {n} AB", status=status)
        for n, status in enumerate([CustomerStatus.ACTIVE, CustomerStatus.INVITED] * 2)
    ]
    for customer_id in ids:
        new_pa(app, a.sales.id, customer_id, today=TODAY)
    day = TODAY + timedelta(days=15)
    reports = _interleave_another_run_after_first_commit(app, monkeypatch, day, a.reseller.id)
    assert reports["first"].delayed + reports["other"].delayed == len(ids)
    for customer_id, previous in zip(
        ids, [CustomerStatus.ACTIVE, CustomerStatus.INVITED] * 2, strict=True
    ):
        assert status_of(app, customer_id) == (CustomerStatus.DELAYED, previous)
        assert [a[0] for a in audits(app, customer_id)] == ["customer.delayed"]


def test_r11_s24_an_interleaved_second_run_removes_access_once(app, a, monkeypatch):
    ids = [
        new_customer(app, a, f"Sent {n} AB", anniversary_date=AD - timedelta(days=30))
        for n in range(4)
    ]
    reports = _interleave_another_run_after_first_commit(app, monkeypatch, AD, a.reseller.id)
    assert reports["first"].access_removed + reports["other"].access_removed == len(ids)
    for customer_id in ids:
        assert status_of(app, customer_id) == (CustomerStatus.INACTIVE, None)
        assert [a[0] for a in audits(app, customer_id)] == ["customer.access_removed"]


def test_r10_s24_an_interleaved_second_run_queues_each_reminder_once(app, a, monkeypatch):
    ids = [
        new_customer(app, a, f"Påminn {n} AB", anniversary_date=AD + timedelta(days=n))
        for n in range(4)
    ]
    reports = _interleave_another_run_after_first_commit(app, monkeypatch, AD, a.reseller.id)
    total = sum(sum(r.reminders.values()) for r in reports.values())
    assert total == len(ids)
    for customer_id in ids:
        assert len(reminders(app, customer_id)) == 1
        assert len(audits(app, customer_id, "reminder.queued")) == 1


def _two_runs_at_once(app, reseller_id, day) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def job():
        try:
            with in_app(app):
                barrier.wait(timeout=30)
                apply_deadlines(today=day, reseller_ids=[reseller_id])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def test_s24_two_runs_at_once_change_each_thing_once(app, a):
    """Two threads run the same day together (SQLite serialises their transactions;
    PostgreSQL really runs them at once): each reminder queued once, each status set."""
    due = [
        new_customer(app, a, f"Dubbel {n} AB", anniversary_date=AD + timedelta(days=n))
        for n in range(-5, 25, 3)
    ]
    gone = [
        new_customer(app, a, f"Utgången {n} AB", anniversary_date=AD - timedelta(days=n))
        for n in (30, 31, 45)
    ]
    _two_runs_at_once(app, a.reseller.id, AD)
    for customer_id in due:
        assert len(reminders(app, customer_id)) == 1
    for customer_id in gone:
        assert status_of(app, customer_id) == (CustomerStatus.INACTIVE, None)
        assert reminders(app, customer_id) == []


def test_s24_two_runs_at_once_audit_each_reminder_once(app, a):
    due = [
        new_customer(app, a, f"Dubbel {n} AB", anniversary_date=AD + timedelta(days=n))
        for n in range(-5, 25, 3)
    ]
    _two_runs_at_once(app, a.reseller.id, AD)
    for customer_id in due:
        assert len(audits(app, customer_id, "reminder.queued")) == 1
