"""The daily deadlines the job applies. Each function takes the date and
works only on the rows due that day, through indexed date ranges; each is idempotent and
safe to run twice at once (conditional updates, insert-if-absent reminders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from vip.extensions import db
from vip.mail import render_mail
from vip.models import (
    CommitmentState,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    Role,
    ThreeYearCommitment,
    User,
    VipAdminCustomer,
    reminder_summary,
)
from vip.services import audit, change_count, events

GRACE_DAYS = 30  # R11: access is removed this many days after a missed anniversary


class ReminderKind(StrEnum):
    """R10, its one definition: each reminder, the day (relative to the anniversary) from
    which it is due, and its name as the console shows it."""

    RENEWAL_DUE = "renewal_due", -30, _l("Renewal due (30 days before)")
    RENEWAL_MISSED = "renewal_missed", 0, _l("Renewal missed (anniversary)")
    ACCESS_REMOVAL = "access_removal", GRACE_DAYS - 7, _l("Access removal (7 days before)")

    def __new__(cls, value: str, from_day: int, label):
        member = str.__new__(cls, value)
        member._value_ = value
        member.from_day = from_day
        member.label = label
        return member


RENEWAL_DUE = ReminderKind.RENEWAL_DUE
RENEWAL_MISSED = ReminderKind.RENEWAL_MISSED
ACCESS_REMOVAL = ReminderKind.ACCESS_REMOVAL
#: (kind, from day), the latest stage first.
REMINDER_DAYS = tuple(
    (kind.value, kind.from_day) for kind in sorted(ReminderKind, key=lambda k: -k.from_day)
)
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


#: Why a queued reminder is cancelled at delivery instead of sent.
RENEWED = "renewed"  # the anniversary it is about is no longer the customer's
SUPERSEDED = "superseded"  # a later reminder of the same anniversary is due
NO_ACCESS = "access_removed"  # the grace period is over: access is removed
CANCEL_REASONS = (RENEWED, SUPERSEDED, NO_ACCESS)
_STAGE = {kind: from_day for kind, from_day in REMINDER_DAYS}


def stale_reminder_reason(
    *, kind: str, cycle: str, anniversary: date | None, status, today: date
) -> str | None:
    """At delivery: why a queued reminder of `kind` about the anniversary `cycle` must
    not be sent on `today`, or None when it is the customer's current stage. A reminder
    whose stage has not begun yet (a run for a later date queued it) is still sent."""
    if anniversary is None or anniversary.isoformat() != cycle:
        return RENEWED
    if status == CustomerStatus.INACTIVE or (today - anniversary).days >= GRACE_DAYS:
        return NO_ACCESS
    current = relevant_reminder(anniversary, today)
    if current is not None and _STAGE[current] > _STAGE[kind]:
        return SUPERSEDED
    return None


#: The kinds of change a tick makes, in the order it makes them.
DELAY = "delay"
DELAY_CLEARED = "delay_cleared"
ACCESS_REMOVED = "access_removed"
REMINDER_QUEUED = "reminder_queued"
#: The discount level's and the commitment's changes (vip/services/discount_levels.py
#: and vip/services/commitments.py), applied by the same run after the steps above.
LEVEL_LOOKBACK = "level_lookback"
COMMITMENT_EXPIRED = "commitment_expired"
COMMITMENT_NONCOMPLIANT = "commitment_noncompliant"
COMMITMENT_ACTIONS = (COMMITMENT_EXPIRED, COMMITMENT_NONCOMPLIANT)


@dataclass(frozen=True)
class DeadlineChange:
    """One change a tick makes (or, in a preview, would make) to one customer."""

    action: str
    customer_id: int
    customer_name: str
    vip_id: str | None
    status_before: str
    status_after: str
    reminder: str | None = None
    recipient: str | None = None
    language: str | None = None
    anniversary: date | None = None
    #: A level's or a commitment's change: (before, after), e.g. (1, 2) or ("committed",
    #: "expired"); the customer's status stays as it is.
    before: int | str | None = None
    after: int | str | None = None
    licenses: int | None = None  # the look-back's count
    commitment_id: int | None = None

    def describe(self) -> str:
        """The line the CLI prints: the same for a real run and a dry run."""
        who = f"{self.customer_name} (VIP {self.vip_id or '-'}, #{self.customer_id})"
        if self.action == REMINDER_QUEUED:
            return f"reminder {self.reminder} to {self.recipient} [{self.language}]: {who}"
        if self.action == LEVEL_LOOKBACK:
            return (
                f"{self.action}: {who}: {self.licenses} licenses, "
                f"level {self.before} -> {self.after}"
            )
        if self.action in COMMITMENT_ACTIONS:
            return f"{self.action}: {who}: 3YC {self.before} -> {self.after}"
        return f"{self.action}: {who}: {self.status_before} -> {self.status_after}"


@dataclass
class TickReport:
    delayed: int = 0
    delay_cleared: int = 0
    reminders: dict[str, int] = field(default_factory=dict)
    access_removed: int = 0
    lookbacks: int = 0
    commitments: int = 0
    changes: list[DeadlineChange] = field(default_factory=list)
    #: In a preview: each changed customer's status after the run.
    statuses_after: dict[int, CustomerStatus] = field(default_factory=dict)

    def add(self, other: TickReport) -> None:
        self.delayed += other.delayed
        self.delay_cleared += other.delay_cleared
        self.access_removed += other.access_removed
        self.lookbacks += other.lookbacks
        self.commitments += other.commitments
        for kind, count in other.reminders.items():
            self.reminders[kind] = self.reminders.get(kind, 0) + count
        self.changes.extend(other.changes)
        self.statuses_after.update(other.statuses_after)

    def count(self, change: DeadlineChange) -> None:
        self.changes.append(change)
        if change.action == DELAY:
            self.delayed += 1
        elif change.action == DELAY_CLEARED:
            self.delay_cleared += 1
        elif change.action == ACCESS_REMOVED:
            self.access_removed += 1
        elif change.action == LEVEL_LOOKBACK:
            self.lookbacks += 1
        elif change.action in COMMITMENT_ACTIONS:
            self.commitments += 1
        else:
            self.reminders[change.reminder] = self.reminders.get(change.reminder, 0) + 1


def _change(customer: Customer, action: str, before, after, **extra) -> DeadlineChange:
    return DeadlineChange(
        action=action,
        customer_id=customer.id,
        customer_name=customer.company_name,
        vip_id=customer.vip_id,
        status_before=getattr(before, "value", before),
        status_after=getattr(after, "value", after),
        **{"anniversary": customer.anniversary_date, **extra},
    )


# -- Which customers each rule is due for --------------------------------------------------------

#: Statuses each rule starts from. The preview filters by the status the earlier steps
#: would have left, as the real run sees it.
DELAYABLE = (CustomerStatus.ACTIVE, CustomerStatus.INVITED)
#: The reminders and the removal of access apply to every customer with a term that still
#: has access, whether or not its VIP admin has accepted the invitation: an invited
#: customer can have orders.
HAS_ACCESS = (CustomerStatus.ACTIVE, CustomerStatus.DELAYED, CustomerStatus.INVITED)


def _overdue(today: date):
    return exists().where(
        PurchaseAuthorization.customer_id == Customer.id, PurchaseAuthorization.is_overdue(today)
    )


def _with_overdue_authorization(today: date):
    return Customer.id.in_(
        select(PurchaseAuthorization.customer_id).where(PurchaseAuthorization.is_overdue(today))
    )


def _has_overdue_authorization(today: date):
    """`_with_overdue_authorization` asked of the customer's earliest pending order-due
    date (kept by the database: vip/models/order_due_summary.py), an index range holding
    just the customers that change, not the backlog of those already Försenad. The job's
    writes still check the authorizations themselves."""
    return Customer.earliest_order_due_on < today


def _has_no_overdue_authorization(today: date):
    return or_(Customer.earliest_order_due_on.is_(None), Customer.earliest_order_due_on >= today)


def _access_removal_due(today: date):
    return [
        Customer.anniversary_date.is_not(None),
        Customer.anniversary_date <= today - timedelta(days=GRACE_DAYS),
    ]


def _reminder_stages(today: date) -> list[tuple[str, date, date]]:
    """(kind, first, last anniversary date) for which `kind` is the relevant reminder today:
    `relevant_reminder` read backwards, stage by stage."""
    stages, until = [], GRACE_DAYS
    for kind, from_day in REMINDER_DAYS:  # latest stage first
        stages.append((kind, today - timedelta(days=until - 1), today - timedelta(days=from_day)))
        until = from_day
    return stages


def _reminder_not_queued(today: date):
    """Customers whose relevant reminder today is not in the outbox yet: per stage, its
    anniversary range among the customers without that kind for their anniversary (the
    reminders they have, kept by the database: vip/models/reminder_summary.py), a range
    of that kind's partial index. What the job reads grows with the reminders due, not
    with the customers whose reminders went out on earlier days. `_reminders_due` checks
    the notifications themselves before a reminder is queued."""
    return [
        Customer.anniversary_date.is_not(None),
        or_(
            *(
                and_(
                    text(reminder_summary.not_reminded(kind)),
                    Customer.anniversary_date.between(first, last),
                )
                for kind, first, last in _reminder_stages(today)
            )
        ),
    ]


def _due_for(reseller_ids: list[int], statuses, *conditions):
    return (
        select(Customer)
        .where(Customer.reseller_id.in_(reseller_ids), Customer.status.in_(statuses))
        .where(*conditions)
    )


def _customers(
    reseller_ids: list[int],
    statuses,
    *conditions,
    customer_ids: list[int] | None = None,
    first: int | None = None,
) -> list[Customer]:
    query = _due_for(reseller_ids, statuses, *conditions)
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    if first is None:
        return list(db.session.scalars(query.order_by(Customer.id)))
    # The first by id, ordered by an expression: the planner reads the rule's index range
    # and sorts its rows, instead of walking the primary key in the hope of meeting the
    # first rows early (PostgreSQL read all 100,000 customers when none was due).
    return list(db.session.scalars(query.order_by(Customer.id + 0).limit(first)))


@dataclass(frozen=True)
class DueReminder:
    customer: Customer
    kind: str
    cycle: str
    language: str


def _reminders_due(customers: list[Customer], today: date) -> list[DueReminder]:
    """The reminder each customer is due today, unless that (customer, kind, cycle) exists.
    Its two queries run even for no customers: a constant number of statements (the
    Outbox's preview is pinned in tests/web/test_query_counts.py)."""
    existing = set(
        db.session.execute(
            select(Notification.customer_id, Notification.kind, Notification.cycle_key).where(
                Notification.customer_id.in_([c.id for c in customers]),
                Notification.kind.in_([kind for kind, _ in REMINDER_DAYS]),
            )
        ).all()
    )
    # Each customer's VIP admins (one person may administer several customers, each
    # with its own reminders): the mail goes to the customer's admin email, in the
    # language of the account with that email, else of its first VIP admin.
    admins: dict[int, list[User]] = {}
    for customer_id, user in db.session.execute(
        select(VipAdminCustomer.customer_id, User)
        .join(User, User.id == VipAdminCustomer.user_id)
        .where(
            User.role == Role.VIP_ADMIN,
            User.active.is_(True),
            VipAdminCustomer.customer_id.in_([c.id for c in customers]),
        )
        .order_by(User.id)
    ):
        admins.setdefault(customer_id, []).append(user)
    due = []
    for customer in customers:
        kind = relevant_reminder(customer.anniversary_date, today)
        cycle = customer.anniversary_date.isoformat()
        if kind is None or (customer.id, kind, cycle) in existing:
            continue
        candidates = admins.get(customer.id, [])
        admin = next(
            (each for each in candidates if each.email.lower() == customer.admin_email.lower()),
            candidates[0] if candidates else None,
        )
        language = admin.language if admin is not None else customer.admin_language
        due.append(DueReminder(customer, kind, cycle, language))
    return due


# -- The plan: what the day's run changes, read once ---------------------------------------------


def _reminder_change(reminder: DueReminder, status) -> DeadlineChange:
    customer = reminder.customer
    return _change(
        customer,
        REMINDER_QUEUED,
        status,
        status,
        reminder=reminder.kind,
        recipient=customer.admin_email,
        language=reminder.language,
    )


def _rules(today: date) -> list[tuple[str, tuple, list]]:
    """(action, statuses it starts from, conditions) of each rule, in the run's order."""
    return [
        # Försenad from day 15 of a pending authorization; back once none is overdue.
        (DELAY, DELAYABLE, [_has_overdue_authorization(today)]),
        (DELAY_CLEARED, (CustomerStatus.DELAYED,), [_has_no_overdue_authorization(today)]),
        # access removed 30 days after a missed anniversary.
        (ACCESS_REMOVED, HAS_ACCESS, _access_removal_due(today)),
        # the reminder of the current stage, once per anniversary.
        (REMINDER_QUEUED, HAS_ACCESS, _reminder_not_queued(today)),
    ]


def plan_deadlines(
    *,
    today: date,
    reseller_ids: list[int],
    customer_ids: list[int] | None = None,
    first: int | None = None,
) -> TickReport:
    """Försenad, access removal, then the reminders, for the given resellers on their local
    date `today`, as data: the changes the run makes, in the order it makes them, each rule
    seeing the statuses the earlier ones leave. It only reads (a constant number of
    queries); the real run applies it (`apply_plan`), the dry run and the Outbox's preview
    show it. What a rule does to a customer depends on that customer's rows alone, so
    `customer_ids` gives the plan's changes of those customers; `first` reads only the
    first customers (by id) each rule is due for (the Outbox's bounded preview)."""
    report = TickReport()
    status: dict[int, CustomerStatus] = {}
    (_, delayable, delay), (_, delayed, cleared), (_, access, removal), (_, _, reminded) = _rules(
        today
    )

    def customers(statuses, conditions) -> list[Customer]:
        return _customers(
            reseller_ids, statuses, *conditions, customer_ids=customer_ids, first=first
        )

    def now_status(customer: Customer) -> CustomerStatus:
        return status.get(customer.id, customer.status)

    for customer in customers(delayable, delay):
        report.count(_change(customer, DELAY, customer.status, CustomerStatus.DELAYED))
        status[customer.id] = CustomerStatus.DELAYED
    for customer in customers(delayed, cleared):
        previous = customer.status_before_delay or CustomerStatus.ACTIVE
        report.count(_change(customer, DELAY_CLEARED, CustomerStatus.DELAYED, previous))
        status[customer.id] = previous
    for customer in customers(access, removal):
        previous = now_status(customer)
        if previous in HAS_ACCESS:
            report.count(_change(customer, ACCESS_REMOVED, previous, CustomerStatus.INACTIVE))
            status[customer.id] = CustomerStatus.INACTIVE
    in_range = [
        customer for customer in customers(access, reminded) if now_status(customer) in HAS_ACCESS
    ]
    for reminder in _reminders_due(in_range, today):
        report.count(_reminder_change(reminder, now_status(reminder.customer)))
    report.statuses_after = status
    return report


#: The dry run and the Outbox's preview of tomorrow show the plan itself.
preview_deadlines = plan_deadlines


def count_plan(*, today: date, reseller_ids: list[int]) -> dict[str, int]:
    """How many changes of each action the plan makes, counted in the database (one count
    per rule, each an index range): exactly `plan_deadlines`' numbers, since every customer
    a rule selects stays in a status the later rules accept (Försenad and back keep access;
    access removal and reminders select disjoint anniversaries), and a reminder's range
    already leaves out the reminders queued (tests/job/test_dry_run.py)."""
    return {
        action: db.session.scalar(
            select(func.count()).select_from(
                _due_for(reseller_ids, statuses, *conditions)
                .with_only_columns(Customer.id)
                .subquery()
            )
        )
        or 0
        for action, statuses, conditions in _rules(today)
    }


# -- Applying the plan: each change single-shot ---------------------------------------------------


def _transition(
    customer: Customer,
    *,
    expected,
    values: dict,
    action: str,
    reason: str,
    details: dict,
    still=None,
) -> bool:
    """One status change, single-shot: applied only while the customer still has the
    `expected` status (and the `still` condition holds), audited once, its webhook event
    recorded (`reason`), committed. Returns whether it happened."""
    changed = db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id, Customer.status == expected)
        .where(*([] if still is None else [still]))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed == 1:
        change_count.note_customers([customer.id])
        audit.record(
            actor=None,
            action=action,
            customer=customer,
            object_type="customer",
            object_id=customer.id,
            details=details,
        )
        events.customer_status_changed(
            customer, previous=expected, status=values["status"], reason=reason
        )
    db.session.commit()
    return changed == 1


def committed_minimum(customer_id: int, anniversary: date) -> int | None:
    """The minimum of a three-year commitment that covers the renewal of `anniversary`
    , for the reminder to name; None without one."""
    commitment = ThreeYearCommitment
    return db.session.scalar(
        select(commitment.minimum_quantity).where(
            commitment.customer_id == customer_id,
            commitment.state == CommitmentState.COMMITTED,
            commitment.starts_on < anniversary,
            commitment.ends_on > anniversary,
        )
    )


def _insert_if_absent(values: dict) -> bool:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["customer_id", "kind", "cycle_key"])
    )
    # RETURNING, since PostgreSQL's rowcount says -1 for an insert that returns ids.
    inserted = db.session.execute(statement.returning(Notification.id)).first() is not None
    if inserted:
        change_count.note_customers([values["customer_id"]])
    return inserted


def _queue_reminder(customer: Customer, change: DeadlineChange, today: date) -> bool:
    """Queues the reminder once per (customer, kind, anniversary); not when a renewal has
    moved the anniversary on since the plan was read."""
    if customer.anniversary_date != change.anniversary:
        db.session.commit()
        return False
    mail = render_mail(
        change.reminder,
        language=change.language,
        customer=customer,
        reseller=customer.reseller,
        anniversary=change.anniversary,
        removal_on=access_removed_on(change.anniversary),
        commitment_minimum=committed_minimum(customer.id, change.anniversary),
    )
    queued = _insert_if_absent(
        {
            "customer_id": customer.id,
            "kind": change.reminder,
            "cycle_key": change.anniversary.isoformat(),
            "recipient": change.recipient,
            "language": change.language,
            "subject": mail.subject,
            "body_text": mail.text,
            "body_html": mail.html,
            "status": NotificationStatus.QUEUED.value,
            "attempts": 0,
        }
    )
    if queued:
        audit.record(
            actor=None,
            action="reminder.queued",
            customer=customer,
            object_type="notification",
            object_id=change.reminder,
            details={
                "kind": change.reminder,
                "anniversary": change.anniversary.isoformat(),
                "today": today.isoformat(),
            },
        )
    db.session.commit()
    return queued


def apply_plan(plan: TickReport, *, today: date) -> TickReport:
    """Makes the plan's changes, in its order, each single-shot: a change another run made
    first (or that no longer holds) is skipped and not counted. Returns what was done."""
    report = TickReport()
    ids = sorted({change.customer_id for change in plan.changes})
    customers = {
        customer.id: customer
        for customer in db.session.scalars(
            select(Customer).where(Customer.id.in_(ids)).options(joinedload(Customer.reseller))
        )
    }
    for change in plan.changes:
        customer = customers[change.customer_id]
        before = CustomerStatus(change.status_before)
        after = CustomerStatus(change.status_after)
        if change.action == DELAY:
            done = _transition(
                customer,
                expected=before,
                values={"status": CustomerStatus.DELAYED, "status_before_delay": before},
                still=_with_overdue_authorization(today),
                action="customer.delayed",
                reason=events.AUTHORIZATION_WENT_OVERDUE,
                details={"status": "delayed", "previous": before.value, "today": today.isoformat()},
            )
        elif change.action == DELAY_CLEARED:
            done = _transition(
                customer,
                expected=CustomerStatus.DELAYED,
                values={"status": after, "status_before_delay": None},
                still=~_overdue(today),
                action="customer.delay_cleared",
                reason=events.DELAY_CLEARED,
                details={"status": after.value, "today": today.isoformat()},
            )
        elif change.action == ACCESS_REMOVED:
            done = _transition(
                customer,
                expected=before,
                values={"status": CustomerStatus.INACTIVE, "status_before_delay": None},
                # A renewal recorded meanwhile moved the anniversary: then nothing is removed.
                still=and_(*_access_removal_due(today)),
                action="customer.access_removed",
                reason=events.ACCESS_REMOVED,
                details={
                    "status": "inactive",
                    "previous": before.value,
                    "anniversary": change.anniversary.isoformat(),
                    "today": today.isoformat(),
                },
            )
        else:
            done = _queue_reminder(customer, change, today)
        if done:
            report.count(change)
    return report


def apply_deadlines(*, today: date, reseller_ids: list[int]) -> TickReport:
    """The day's run for the given resellers: the authorizations that became overdue
    announced to the webhooks that want it, then the plan, applied."""
    events.announce_overdue_authorizations(today=today, reseller_ids=reseller_ids)
    return apply_plan(plan_deadlines(today=today, reseller_ids=reseller_ids), today=today)
