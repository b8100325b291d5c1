"""A 400-day simulation of the deadline job (R4, R10, R11): a small portfolio with
anniversaries spread over the year, authorizations created, ordered and cancelled on
various days, and a few renewals. The job runs once a day; every reminder it queues and
every status change it audits is compared with what the rules, written out independently
below, say should happen on that day. (Only `apply_deadlines`: no delivery.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select, update

from tests.conftest import TODAY
from tests.support import in_app, product_id, reminder_stage
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    PurchaseAuthorization,
    User,
)
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.customers import create_customer
from vip.services.deadlines import apply_deadlines

DAYS = 400
ORDER_WINDOW = 14  # VIP_PA_ORDER_WINDOW_DAYS
REMINDER_KINDS = ("renewal_due", "renewal_missed", "access_removal")
STATUS_ACTIONS = ("customer.delayed", "customer.delay_cleared", "customer.access_removed")

ACTIVE, INVITED, DELAYED, INACTIVE = "active", "invited", "delayed", "inactive"


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def next_year(anniversary: date) -> date:
    return anniversary.replace(year=anniversary.year + 1)


@dataclass
class Plan:
    """One customer of the portfolio: its starting state and what happens to it."""

    name: str
    status: str
    anniversary: int | None  # days after TODAY (may be negative); None: never ordered
    pas: list[tuple[int, int | None, str]] = field(default_factory=list)
    # (created on day, resolved on day or never, "ordered" | "cancelled")
    renewals: list[int] = field(default_factory=list)  # days on which it renews


PORTFOLIO = [
    Plan("Ett AB", ACTIVE, 5),  # missed and removed early on
    Plan("Två AB", ACTIVE, 20, renewals=[10]),  # renews early; next cycle within the run
    Plan("Tre AB", ACTIVE, 60, renewals=[65]),  # renews after the missed mail
    Plan("Fyra AB", ACTIVE, -10),  # the job starts 10 days after its anniversary
    Plan("Fem AB", ACTIVE, -40),  # already past the grace period: removed on day 0
    Plan("Sex AB", INVITED, None, pas=[(3, 40, "cancelled")]),  # invited → delayed → invited
    Plan(
        "Sju AB",
        ACTIVE,
        200,
        pas=[(50, 70, "ordered"), (100, None, "")],  # delayed twice; removed while delayed
    ),
    Plan("Åtta AB", ACTIVE, 100, pas=[(90, None, "")]),  # delayed between missed and removal
    Plan("Nio AB", ACTIVE, 300, renewals=[290]),  # renews between due and anniversary
    Plan("Tio AB", INACTIVE, 150),  # inactive: nothing ever
    Plan("Elva AB", ACTIVE, 366),  # due, missed and removal near the end of the run
    Plan(
        "Tolv AB",
        ACTIVE,
        None,
        pas=[(0, 20, "cancelled"), (25, 45, "ordered"), (30, 50, "cancelled"), (200, None, "")],
    ),
]


# --- the rules, written out independently of the job ---------------------------------------


relevant_kind = reminder_stage


@dataclass
class Model:
    status: str
    anniversary: date | None
    before_delay: str | None = None
    pas: dict[int, list] = field(default_factory=dict)  # key -> [due date, status]


def expected_history(portfolio: list[Plan]):
    models = [
        Model(plan.status, None if plan.anniversary is None else day(plan.anniversary))
        for plan in portfolio
    ]
    queued: list[tuple[int, str, str, int]] = []
    changes: list[tuple[int, str, int]] = []
    seen: set[tuple[int, str, str]] = set()
    for d in range(DAYS + 1):
        today = day(d)
        for index, (plan, model) in enumerate(zip(portfolio, models, strict=True)):
            for key, (created, resolved, resolution) in enumerate(plan.pas):
                if created == d:
                    model.pas[key] = [today + timedelta(days=ORDER_WINDOW), "pending"]
                if resolved == d and resolution:
                    model.pas[key][1] = resolution
            if d in plan.renewals:
                model.anniversary = next_year(model.anniversary)
            overdue = any(s == "pending" and due < today for due, s in model.pas.values())
            # R4
            if model.status in (ACTIVE, INVITED) and overdue:
                model.before_delay, model.status = model.status, DELAYED
                changes.append((index, "customer.delayed", d))
            elif model.status == DELAYED and not overdue:
                model.status, model.before_delay = model.before_delay or ACTIVE, None
                changes.append((index, "customer.delay_cleared", d))
            # R11
            if (
                model.anniversary is not None
                and today >= model.anniversary + timedelta(days=30)
                and model.status != INACTIVE  # invited too: R10 and R11 exempt no status
            ):
                model.status, model.before_delay = INACTIVE, None
                changes.append((index, "customer.access_removed", d))
            # R10
            if model.anniversary is not None and model.status != INACTIVE:
                kind = relevant_kind((today - model.anniversary).days)
                cycle = model.anniversary.isoformat()
                if kind is not None and (index, kind, cycle) not in seen:
                    seen.add((index, kind, cycle))
                    queued.append((index, kind, cycle, d))
    return queued, changes, models


# --- the simulation --------------------------------------------------------------------------


def build_portfolio(app, tenants) -> list[int]:
    with in_app(app):
        # The fixture's own authorizations would delay the fixture customers: cancel them.
        db.session.execute(
            update(PurchaseAuthorization).values(status=AuthorizationStatus.CANCELLED)
        )
        admin = db.session.get(User, tenants.a.admin.id)
        ids = []
        for number, plan in enumerate(PORTFOLIO):
            customer = create_customer(
                user=admin,
                today=TODAY,
                company_name=plan.name,
                country="SE",
                market_segment="commercial",
                admin_name=f"Admin {number}",
                admin_email=f"admin{number}@portfolio.example",
                admin_language="sv" if number % 2 else "en",
            )
            customer.status = CustomerStatus(plan.status)
            customer.anniversary_date = None if plan.anniversary is None else day(plan.anniversary)
            db.session.commit()
            ids.append(customer.id)
        product_id("Photoshop", "team", "commercial")  # the catalog, loaded once
        return ids


def test_r4_r10_r11_a_400_day_simulation_matches_the_rules(app, tenants):
    ids = build_portfolio(app, tenants)
    index_of = {customer_id: index for index, customer_id in enumerate(ids)}
    reseller_id = tenants.a.reseller.id
    sales_id = tenants.a.sales.id
    with in_app(app):
        photoshop = product_id("Photoshop", "team", "commercial")
    pa_ids: dict[tuple[int, int], int] = {}
    queued: list[tuple[int, str, str, int]] = []
    changes: list[tuple[int, str, int]] = []
    last_notification = last_event = 0

    for d in range(DAYS + 1):
        today = day(d)
        with in_app(app):
            for index, plan in enumerate(PORTFOLIO):
                for key, (created, resolved, resolution) in enumerate(plan.pas):
                    if created == d:
                        pa = create_purchase_authorization(
                            user=db.session.get(User, sales_id),
                            customer_id=ids[index],
                            today=today,
                            license_type="team",
                            lines=[LineInput(product_id=photoshop, quantity=1)],
                            deployment_date=today,
                            customer_po_number=None,
                        )
                        pa_ids[index, key] = pa.id
                    if resolved == d and resolution:
                        db.session.execute(
                            update(PurchaseAuthorization)
                            .where(PurchaseAuthorization.id == pa_ids[index, key])
                            .values(status=AuthorizationStatus(resolution))
                        )
                if d in plan.renewals:
                    customer = db.session.get(Customer, ids[index])
                    customer.anniversary_date = next_year(customer.anniversary_date)
            db.session.commit()

        with in_app(app):
            apply_deadlines(today=today, reseller_ids=[reseller_id])

        with in_app(app):
            for row in db.session.execute(
                select(
                    Notification.id,
                    Notification.customer_id,
                    Notification.kind,
                    Notification.cycle_key,
                )
                .where(Notification.id > last_notification)
                .order_by(Notification.id)
            ):
                last_notification = row.id
                if row.kind in REMINDER_KINDS and row.customer_id in index_of:
                    queued.append((index_of[row.customer_id], row.kind, row.cycle_key, d))
            for event in db.session.execute(
                select(AuditEvent.id, AuditEvent.customer_id, AuditEvent.action)
                .where(AuditEvent.id > last_event)
                .order_by(AuditEvent.id)
            ):
                last_event = event.id
                if event.action in STATUS_ACTIONS and event.customer_id in index_of:
                    changes.append((index_of[event.customer_id], event.action, d))

    expected_queued, expected_changes, models = expected_history(PORTFOLIO)
    # Spot checks worked out by hand, so the model cannot drift along with the job.
    name = [plan.name for plan in PORTFOLIO]
    mails_by_hand = {(name[i], kind, d) for i, kind, _, d in expected_queued}
    assert {
        ("Ett AB", "renewal_due", 0),  # 5 days ahead on the first run
        ("Ett AB", "renewal_missed", 5),
        ("Ett AB", "access_removal", 28),
        ("Fyra AB", "renewal_missed", 0),  # catch-up: no stale renewal_due
        ("Fyra AB", "access_removal", 13),
        ("Två AB", "renewal_due", 355),  # the renewed cycle
        ("Åtta AB", "access_removal", 123),  # while delayed
    } <= mails_by_hand
    assert not {n for n, _, _ in mails_by_hand} & {"Fem AB", "Tio AB", "Sex AB", "Tolv AB"}
    assert ("Fyra AB", "renewal_due") not in {(n, k) for n, k, _ in mails_by_hand}
    assert {
        ("Fem AB", "customer.access_removed", 0),
        ("Sex AB", "customer.delayed", 18),
        ("Sex AB", "customer.delay_cleared", 40),
        ("Tolv AB", "customer.delayed", 40),  # the day-25 PA on its day 15
        ("Tolv AB", "customer.delay_cleared", 50),  # the day-30 PA kept it until then
        ("Åtta AB", "customer.access_removed", 130),
    } <= {(name[i], action, d) for i, action, d in expected_changes}
    # The portfolio exercises every reminder and every status change.
    assert {kind for _, kind, _, _ in expected_queued} == set(REMINDER_KINDS)
    assert {action for _, action, _ in expected_changes} == set(STATUS_ACTIONS)
    assert sorted(queued, key=lambda q: (q[3], q[0], q[1])) == sorted(
        expected_queued, key=lambda q: (q[3], q[0], q[1])
    )
    assert sorted(changes, key=lambda c: (c[2], c[0], c[1])) == sorted(
        expected_changes, key=lambda c: (c[2], c[0], c[1])
    )
    with in_app(app):
        final = dict(db.session.execute(select(Customer.id, Customer.status)).all())
    assert [final[customer_id].value for customer_id in ids] == [m.status for m in models]
