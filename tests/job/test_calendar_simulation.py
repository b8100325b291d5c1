"""A simulated calendar of the deadline job on a generated portfolio (R4, R9, R10, R11).

About 240 customers of `vip generate` (invited customers with orders among them) live
through 320 days. Every day the team works through the services the pages call: new
purchase authorizations, orders and cancellations of them, renewals, VIP admins accepting
invitations (resent first). The job runs as cron runs it, `vip tick --today D`, except for
a month with `--no-send` and the week after it with no run at all. Every day's statuses, every mail
delivered (customer, kind, anniversary, day, recipient, language) and every reminder
cancelled (with its reason) are compared with a reckoning of the rules written out below,
independently of the job's code."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TODAY
from tests.support import in_app, reminder_stage
from vip.extensions import db
from vip.generate import generate_portfolio
from vip.models import (
    AuthorizationStatus,
    Customer,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    Role,
    User,
)
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
    eligible_products,
)
from vip.services.invitations import accept_invitation, resend_invitation, token_for
from vip.services.orders import propose_duration, record_order
from vip.services.renewals import record_renewal, renewal_lines_of

DAYS = 320
CUSTOMERS = 240
WINDOW = 14  # VIP_PA_ORDER_WINDOW_DAYS
# A month in which the job runs but delivers nothing (as an SMTP outage would leave it),
# then a week with no run at all: reminders of every stage go stale in between.
NO_SEND = set(range(100, 130))
SKIPPED = set(range(130, 137))
REMINDERS = ("renewal_due", "renewal_missed", "access_removal")
ACTIVE, INVITED, DELAYED, INACTIVE = "active", "invited", "delayed", "inactive"


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


# --- the rules, written out independently of the job ---------------------------------------


stage = reminder_stage


ORDER_OF = {"renewal_due": 0, "renewal_missed": 1, "access_removal": 2}


def next_year(anniversary: date) -> date:
    try:
        return anniversary.replace(year=anniversary.year + 1)
    except ValueError:  # 29 February
        return anniversary.replace(year=anniversary.year + 1, day=28)


@dataclass
class Model:
    status: str
    before: str | None
    anniversary: date | None
    email: str
    language: str
    awaiting: bool  # invitation sent and not accepted
    pending: dict[int, date] = field(default_factory=dict)  # authorization id -> due date

    def overdue(self, today: date) -> bool:
        return any(due < today for due in self.pending.values())

    def clear_delay(self, today: date) -> None:
        if self.status == DELAYED and not self.overdue(today):
            self.status, self.before = self.before or ACTIVE, None


@dataclass
class Reckoning:
    models: dict[int, Model]
    seen: set[tuple[int, str, str]]  # (customer, kind, anniversary) queued once
    queued: list[tuple[int, str, str]] = field(default_factory=list)
    sent: set[tuple] = field(default_factory=set)
    cancelled: set[tuple] = field(default_factory=set)

    def renew(self, customer_id: int) -> None:
        model = self.models[customer_id]
        old = model.anniversary.isoformat()
        for item in [q for q in self.queued if q[0] == customer_id and q[2] == old]:
            self.queued.remove(item)
            self.cancelled.add((*item, "renewed"))
        model.anniversary = next_year(model.anniversary)

    def tick(self, today: date, send: bool) -> None:
        for customer_id, m in self.models.items():
            if m.status in (ACTIVE, INVITED) and m.overdue(today):  # R4
                m.before, m.status = m.status, DELAYED
            elif m.status == DELAYED and not m.overdue(today):
                m.status, m.before = m.before or ACTIVE, None
            if m.anniversary is None:
                continue
            offset = (today - m.anniversary).days
            if offset >= 30 and m.status != INACTIVE:  # R11, whatever the invitation
                m.status, m.before = INACTIVE, None
            kind = stage(offset) if m.status != INACTIVE else None
            key = (customer_id, kind, m.anniversary.isoformat())
            if kind is not None and key not in self.seen:  # R10, once per cycle
                self.seen.add(key)
                self.queued.append(key)
        if not send:
            return
        for item in list(self.queued):
            customer_id, kind, cycle = item
            m = self.models[customer_id]
            self.queued.remove(item)
            offset = (today - m.anniversary).days
            if cycle != m.anniversary.isoformat():
                self.cancelled.add((*item, "renewed"))
            elif m.status == INACTIVE or offset >= 30:
                self.cancelled.add((*item, "access_removed"))
            elif stage(offset) is not None and ORDER_OF[stage(offset)] > ORDER_OF[kind]:
                self.cancelled.add((*item, "superseded"))
            else:
                self.sent.add((*item, today, m.email, m.language))


# --- the portfolio and its calendar of events ------------------------------------------------


def starting_state(reseller_id: int) -> Reckoning:
    models = {}
    for c in db.session.scalars(
        select(Customer).where(Customer.reseller_id == reseller_id).order_by(Customer.id)
    ):
        sent, accepted = len(c.invitations), sum(i.accepted_at is not None for i in c.invitations)
        models[c.id] = Model(
            status=c.status.value,
            before=c.status_before_delay.value if c.status_before_delay else None,
            anniversary=c.anniversary_date,
            email=c.admin_email,
            language=c.admin_language,
            awaiting=sent > 0 and accepted == 0,
        )
    for pa in db.session.scalars(
        select(PurchaseAuthorization).where(
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
            PurchaseAuthorization.customer_id.in_(models),
        )
    ):
        models[pa.customer_id].pending[pa.id] = pa.order_due_on
    seen = set(
        db.session.execute(
            select(Notification.customer_id, Notification.kind, Notification.cycle_key).where(
                Notification.kind.in_(REMINDERS)
            )
        ).all()
    )
    return Reckoning(models, seen)


@dataclass
class Calendar:
    renewals: dict[int, list[int]] = field(default_factory=dict)  # day -> customers
    new_pas: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    # day -> (customer, resolved on day or -1, "ordered" | "cancelled" | "")
    accepts: dict[int, list[int]] = field(default_factory=dict)


def plan_calendar(reckoning: Reckoning, rng: random.Random) -> Calendar:
    calendar = Calendar()
    for customer_id, m in reckoning.models.items():
        if m.anniversary is not None and m.status != INACTIVE:
            first = (m.anniversary - TODAY).days
            if rng.random() < 0.35:
                on = first + rng.randint(-30, 25)
                if 0 <= on <= DAYS:
                    calendar.renewals.setdefault(on, []).append(customer_id)
            if rng.random() < 0.3 and first > 45:
                created = rng.randrange(0, min(DAYS - 30, first - 31))
                roll = rng.random()
                resolution = "ordered" if roll < 0.5 else "cancelled" if roll < 0.8 else ""
                resolved = created + rng.randint(0, 25) if resolution else -1
                calendar.new_pas.setdefault(created, []).append((customer_id, resolved, resolution))
        if m.awaiting and rng.random() < 0.5:
            calendar.accepts.setdefault(rng.randrange(0, DAYS), []).append(customer_id)
    return calendar


def work_the_day(d: int, calendar: Calendar, reckoning: Reckoning, resolutions, admin_id: int):
    """The team's work of day `d`, through the services, mirrored in the reckoning."""
    today = day(d)
    admin = db.session.get(User, admin_id)
    for customer_id, resolved, resolution in calendar.new_pas.get(d, []):
        customer = db.session.get(Customer, customer_id)
        license_type = customer_license_type(customer_id)
        product = eligible_products(customer=customer, license_type=license_type)[0]
        pa = create_purchase_authorization(
            user=admin,
            customer_id=customer_id,
            today=today,
            license_type=license_type,
            lines=[LineInput(product_id=product.id, quantity=1)],
            deployment_date=today,
            customer_po_number=None,
        )
        reckoning.models[customer_id].pending[pa.id] = today + timedelta(days=WINDOW)
        if resolution:
            resolutions.setdefault(resolved, []).append((customer_id, pa.id, resolution))
    for customer_id, pa_id, resolution in resolutions.pop(d, []):
        if resolution == "ordered":
            customer = db.session.get(Customer, customer_id)
            record_order(
                user=admin,
                pa_id=pa_id,
                today=today,
                vendor_order_number=f"SIM{pa_id:07d}",
                order_date=today,
                duration_months=propose_duration(customer=customer, order_date=today).months,
            )
        else:
            cancel_purchase_authorization(
                user=admin, pa_id=pa_id, today=today, now=datetime.now(UTC)
            )
        model = reckoning.models[customer_id]
        del model.pending[pa_id]
        model.clear_delay(today)  # R4: at once on the action
    for customer_id in calendar.renewals.get(d, []):
        customer = db.session.get(Customer, customer_id)
        record_renewal(
            user=admin,
            customer_id=customer_id,
            today=today,
            vendor_order_number=f"RN{customer_id:06d}{d:03d}",
            order_date=today,
            quantities={line.product.id: line.suggested for line in renewal_lines_of(customer)},
        )
        reckoning.renew(customer_id)
    for customer_id in calendar.accepts.get(d, []):
        invitation = resend_invitation(
            user=admin,
            customer_id=customer_id,
            today=today,
            now=datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        )
        accept_invitation(
            token=token_for(invitation),
            password="simulated admin password 2027",
            today=today,
            now=datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        )
        model = reckoning.models[customer_id]
        model.awaiting = False
        if model.status == INVITED:
            model.status = ACTIVE
        elif model.before == INVITED:
            model.before = ACTIVE


def customer_license_type(customer_id: int) -> str:
    return db.session.scalar(
        select(PurchaseAuthorization.license_type)
        .where(PurchaseAuthorization.customer_id == customer_id)
        .limit(1)
    ).value


@pytest.mark.parametrize("app_config", [{"VIP_PA_ORDER_WINDOW_DAYS": WINDOW}])
def test_r4_r9_r10_r11_a_simulated_calendar_matches_the_rules(app, runner):
    with in_app(app):
        generate_portfolio(customers=CUSTOMERS, today=TODAY, seed=19)
        admin_id = db.session.scalar(select(User.id).where(User.role == Role.RESELLER_ADMIN))
        reseller_id = db.session.get(User, admin_id).reseller_id
        reckoning = starting_state(reseller_id)
        # What the generator left as sent on the days before the calendar starts.
        already_sent = set(
            db.session.scalars(
                select(Notification.id).where(Notification.status == NotificationStatus.SENT)
            )
        )
    calendar = plan_calendar(reckoning, random.Random(19))
    invited_with_term = [
        i for i, m in reckoning.models.items() if m.status == INVITED and m.anniversary
    ]
    assert len(invited_with_term) >= 3, "the seed should give invited customers with orders"

    resolutions: dict[int, list] = {}
    mismatches: list[str] = []
    observed_sent: set[tuple] = set()
    seen_sent_ids = set(already_sent)
    for d in range(DAYS + 1):
        today = day(d)
        with in_app(app):
            work_the_day(d, calendar, reckoning, resolutions, admin_id)
        if d not in SKIPPED:
            flags = ["--no-send"] if d in NO_SEND else []
            result = runner.invoke(args=["vip", "tick", "--today", today.isoformat(), *flags])
            assert result.exit_code == 0, (d, result.output)
            reckoning.tick(today, send=d not in NO_SEND)
        with in_app(app):
            statuses = dict(
                db.session.execute(
                    select(Customer.id, Customer.status).where(Customer.reseller_id == reseller_id)
                ).all()
            )
            for customer_id, model in reckoning.models.items():
                if statuses[customer_id].value != model.status:
                    mismatches.append(
                        f"day {d}: #{customer_id} is {statuses[customer_id].value}, "
                        f"the rules say {model.status}"
                    )
            for n in db.session.scalars(
                select(Notification).where(
                    Notification.status == NotificationStatus.SENT,
                    Notification.kind.in_(REMINDERS),
                )
            ):
                if n.id not in seen_sent_ids:  # delivered by today's run
                    seen_sent_ids.add(n.id)
                    observed_sent.add(
                        (n.customer_id, n.kind, n.cycle_key, today, n.recipient, n.language)
                    )
    assert mismatches[:20] == []
    with in_app(app):
        observed_cancelled = set(
            db.session.execute(
                select(
                    Notification.customer_id,
                    Notification.kind,
                    Notification.cycle_key,
                    Notification.cancel_reason,
                )
                # The reminders (R10); invitation mail has its own cancellations (S30).
                .where(Notification.status == NotificationStatus.CANCELLED)
                .where(Notification.kind.in_(REMINDERS))
            ).all()
        )
        never_sent = db.session.scalar(
            select(Notification.id)
            .where(Notification.status == NotificationStatus.QUEUED)
            .where(Notification.kind.in_(REMINDERS))
            .limit(1)
        )
    assert sorted(observed_sent - reckoning.sent)[:10] == []
    assert sorted(reckoning.sent - observed_sent)[:10] == []
    assert observed_cancelled == reckoning.cancelled
    assert never_sent is None and reckoning.queued == []
    # The calendar exercised what it is meant to.
    kinds = {kind for _, kind, *_ in reckoning.sent}
    assert kinds == set(REMINDERS)
    assert {reason for *_, reason in reckoning.cancelled} == {
        "superseded",
        "renewed",
        "access_removed",
    }
    assert {i for i, *_ in reckoning.sent} & set(invited_with_term)
    assert len(reckoning.sent) > 300
