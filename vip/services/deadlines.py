"""The daily deadlines the job applies (R4, R10, R11). Each function takes the date and
works only on the rows due that day, through indexed date ranges; each is idempotent and
safe to run twice at once (conditional updates, insert-if-absent reminders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vip.extensions import db
from vip.mail import render_mail
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    Reseller,
    Role,
    User,
)
from vip.services import audit

#: R10: the reminders, and the day (relative to the anniversary) from which each is due.
RENEWAL_DUE = "renewal_due"
RENEWAL_MISSED = "renewal_missed"
ACCESS_REMOVAL = "access_removal"
REMINDER_DAYS = ((ACCESS_REMOVAL, 23), (RENEWAL_MISSED, 0), (RENEWAL_DUE, -30))
GRACE_DAYS = 30  # R11: access is removed this many days after a missed anniversary
RENEWAL_WINDOW_DAYS = 30


def access_removed_on(anniversary: date) -> date:
    return anniversary + timedelta(days=GRACE_DAYS)


def relevant_reminder(anniversary: date, today: date) -> str | None:
    """The one reminder still worth sending today: a job that missed days sends the latest
    stage reached, never a stale one, and nothing once access is removed."""
    offset = (today - anniversary).days
    if offset >= GRACE_DAYS:
        return None
    for kind, from_day in REMINDER_DAYS:
        if offset >= from_day:
            return kind
    return None


@dataclass
class TickReport:
    delayed: int = 0
    delay_cleared: int = 0
    reminders: dict[str, int] = field(default_factory=dict)
    access_removed: int = 0


# -- R4 ------------------------------------------------------------------------------------------


def _overdue(today: date):
    return exists().where(
        PurchaseAuthorization.customer_id == Customer.id,
        PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        PurchaseAuthorization.order_due_on < today,
    )


def _transition(
    customer: Customer, *, expected, values: dict, action: str, details: dict, still=None
) -> bool:
    """One status change, single-shot: applied only while the customer still has the
    `expected` status (and the `still` condition holds), audited once, committed. Returns
    whether it happened."""
    changed = db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id, Customer.status == expected)
        .where(*([] if still is None else [still]))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed == 1:
        audit.record(
            actor=None,
            action=action,
            customer=customer,
            object_type="customer",
            object_id=customer.id,
            details=details,
        )
    db.session.commit()
    return changed == 1


def apply_delays(*, today: date, reseller_ids: list[int], report: TickReport) -> None:
    """Försenad from day 15 of a pending authorization; back to the previous status once
    none is overdue."""
    to_delay = db.session.scalars(
        select(Customer).where(
            Customer.reseller_id.in_(reseller_ids),
            Customer.status.in_([CustomerStatus.ACTIVE, CustomerStatus.INVITED]),
            Customer.id.in_(
                select(PurchaseAuthorization.customer_id).where(
                    PurchaseAuthorization.status == AuthorizationStatus.PENDING,
                    PurchaseAuthorization.order_due_on < today,
                )
            ),
        )
    ).all()
    for customer in to_delay:
        previous = customer.status
        if previous not in (CustomerStatus.ACTIVE, CustomerStatus.INVITED):
            continue  # another run changed it since we read the list
        if _transition(
            customer,
            expected=previous,
            values={"status": CustomerStatus.DELAYED, "status_before_delay": previous},
            action="customer.delayed",
            details={"status": "delayed", "previous": previous.value, "today": today.isoformat()},
        ):
            report.delayed += 1
    to_clear = db.session.scalars(
        select(Customer).where(
            Customer.reseller_id.in_(reseller_ids),
            Customer.status == CustomerStatus.DELAYED,
            ~_overdue(today),
        )
    ).all()
    for customer in to_clear:
        previous = customer.status_before_delay or CustomerStatus.ACTIVE
        if _transition(
            customer,
            expected=CustomerStatus.DELAYED,
            values={"status": previous, "status_before_delay": None},
            action="customer.delay_cleared",
            details={"status": previous.value, "today": today.isoformat()},
        ):
            report.delay_cleared += 1


# -- R10 -----------------------------------------------------------------------------------------


def _insert_if_absent(values: dict) -> bool:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["customer_id", "kind", "cycle_key"])
    )
    # RETURNING, since PostgreSQL's rowcount says -1 for an insert that returns ids.
    return db.session.execute(statement.returning(Notification.id)).first() is not None


def _admin_language(customer: Customer, admins: dict[int, User]) -> str:
    admin = admins.get(customer.id)
    return admin.language if admin is not None else customer.admin_language


def queue_reminders(*, today: date, reseller_ids: list[int], report: TickReport) -> None:
    """Queues the reminder of each customer whose anniversary is 30 days ahead to 29 days
    behind, once per (customer, kind, anniversary)."""
    customers = db.session.scalars(
        select(Customer)
        .where(
            Customer.reseller_id.in_(reseller_ids),
            Customer.anniversary_date.is_not(None),
            Customer.anniversary_date > today - timedelta(days=GRACE_DAYS),
            Customer.anniversary_date <= today + timedelta(days=RENEWAL_WINDOW_DAYS),
            Customer.status.in_([CustomerStatus.ACTIVE, CustomerStatus.DELAYED]),
        )
        .order_by(Customer.id)
    ).all()
    if not customers:
        return
    existing = set(
        db.session.execute(
            select(Notification.customer_id, Notification.kind, Notification.cycle_key).where(
                Notification.customer_id.in_([c.id for c in customers]),
                Notification.kind.in_([kind for kind, _ in REMINDER_DAYS]),
            )
        ).all()
    )
    admins = {
        user.customer_id: user
        for user in db.session.scalars(
            select(User).where(
                User.role == Role.VIP_ADMIN,
                User.active.is_(True),
                User.customer_id.in_([c.id for c in customers]),
            )
        )
    }
    resellers = {
        r.id: r
        for r in db.session.scalars(
            select(Reseller).where(Reseller.id.in_({c.reseller_id for c in customers}))
        )
    }
    for customer in customers:
        kind = relevant_reminder(customer.anniversary_date, today)
        cycle = customer.anniversary_date.isoformat()
        if kind is None or (customer.id, kind, cycle) in existing:
            continue
        language = _admin_language(customer, admins)
        mail = render_mail(
            kind,
            language=language,
            customer=customer,
            reseller=resellers[customer.reseller_id],
            anniversary=customer.anniversary_date,
            removal_on=access_removed_on(customer.anniversary_date),
        )
        if _insert_if_absent(
            {
                "customer_id": customer.id,
                "kind": kind,
                "cycle_key": cycle,
                "recipient": customer.admin_email,
                "language": language,
                "subject": mail.subject,
                "body_text": mail.text,
                "body_html": mail.html,
                "status": NotificationStatus.QUEUED.value,
                "attempts": 0,
            }
        ):
            audit.record(
                actor=None,
                action="reminder.queued",
                customer=customer,
                object_type="notification",
                object_id=kind,
                details={"kind": kind, "anniversary": cycle, "today": today.isoformat()},
            )
            report.reminders[kind] = report.reminders.get(kind, 0) + 1
        db.session.commit()


# -- R11 -----------------------------------------------------------------------------------------


def remove_access(*, today: date, reseller_ids: list[int], report: TickReport) -> None:
    """30 days after a missed anniversary the customer becomes inactive."""
    due = db.session.scalars(
        select(Customer).where(
            Customer.reseller_id.in_(reseller_ids),
            Customer.anniversary_date.is_not(None),
            Customer.anniversary_date <= today - timedelta(days=GRACE_DAYS),
            Customer.status.in_([CustomerStatus.ACTIVE, CustomerStatus.DELAYED]),
        )
    ).all()
    for customer in due:
        previous = customer.status
        if previous not in (CustomerStatus.ACTIVE, CustomerStatus.DELAYED):
            continue  # another run changed it since we read the list
        if _transition(
            customer,
            expected=previous,
            values={"status": CustomerStatus.INACTIVE, "status_before_delay": None},
            # A renewal recorded meanwhile moved the anniversary: then nothing is removed.
            still=Customer.anniversary_date <= today - timedelta(days=GRACE_DAYS),
            action="customer.access_removed",
            details={
                "status": "inactive",
                "previous": previous.value,
                "anniversary": customer.anniversary_date.isoformat(),
                "today": today.isoformat(),
            },
        ):
            report.access_removed += 1


def apply_deadlines(*, today: date, reseller_ids: list[int]) -> TickReport:
    """R4, R11 then R10 for the given resellers on their local date `today`."""
    report = TickReport()
    apply_delays(today=today, reseller_ids=reseller_ids, report=report)
    remove_access(today=today, reseller_ids=reseller_ids, report=report)
    queue_reminders(today=today, reseller_ids=reseller_ids, report=report)
    return report
