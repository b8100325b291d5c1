"""Delivering the outbox (S24, S25): each mail is committed before anything sends it, is
claimed with a lease so two runs never send it together, and is marked sent right after.
A run killed between sending and marking repeats that one mail once the lease ends:
at-least-once, and at most the one in flight."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload

from vip import clock
from vip.extensions import db
from vip.mail import build_message, transport_for
from vip.models import (
    Customer,
    CustomerStatus,
    Invitation,
    Notification,
    NotificationStatus,
    User,
)
from vip.models.customers import INVITATION_SUPERSEDED, invitation_id_of_mail
from vip.services import audit, deadlines, events
from vip.services.access import require
from vip.services.errors import DomainError, NotVisible

LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=2)
MAX_ATTEMPTS_DEFAULT = 6


#: What a delivery run does with one due mail.
SEND = "send"
CANCEL = "cancel"  # a reminder no longer relevant


@dataclass(frozen=True)
class DeliveryStep:
    """One due mail and what the run does with it; in a real run `outcome` tells how the
    sending went (sent, retrying, failed)."""

    action: str
    kind: str
    recipient: str
    customer_name: str
    notification_id: int | None = None
    outcome: str | None = None

    def describe(self) -> str:
        """The line the CLI prints, the same in a real run and in a dry run."""
        line = f"{self.action} {self.kind} to {self.recipient}: {self.customer_name}"
        return line if self.outcome is None else f"{line} [{self.outcome}]"


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    steps: list[DeliveryStep] = field(default_factory=list)


def deliver(notification: Notification) -> None:
    """Hands one mail to the configured transport (vip.mail.transport_for)."""
    config = current_app.config
    message = build_message(
        notification,
        sender=config["MAIL_DEFAULT_SENDER"],
        base_url=config["VIP_BASE_URL"],
        automatic=notification.kind in REMINDER_KINDS,
    )
    transport_for(current_app).send(message, name=f"{notification.id:08d}-{notification.kind}")


def queue(
    *, kind: str, cycle_key: str, recipient: str, language: str, mail, customer=None
) -> Notification:
    """Puts a rendered mail (vip.mail.RenderedMail) in the outbox, in the caller's
    transaction: it is committed with the change that causes it, before anything sends it."""
    notification = Notification(
        customer=customer,
        kind=kind,
        cycle_key=cycle_key,
        recipient=recipient,
        language=language,
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        status=NotificationStatus.QUEUED,
    )
    db.session.add(notification)
    return notification


REMINDER_KINDS = frozenset(kind.value for kind in deadlines.ReminderKind)


def stale_reason(
    notification: Notification,
    *,
    today_by_reseller: dict[int, date] | None = None,
    status: CustomerStatus | None = None,
    invitations: dict[int, Invitation] | None = None,
) -> str | None:
    """Why a queued mail must be cancelled rather than sent, or None to send it: a
    reminder is sent only while it is its customer's current stage (no later stage due, no
    renewal recorded, access not removed) on the run's date for its reseller
    (`today_by_reseller`, by default the reseller's local date); an invitation only
    while its link works: not accepted, not replaced by a newer one, not expired (S30);
    other mail always is. `status`: the customer's status to judge by, if not its present
    one (a preview of a run that changes it first). `invitations`: the invitations by id,
    when the caller loaded them at once."""
    is_invitation = notification.kind == "invitation"
    if (
        notification.kind not in REMINDER_KINDS and not is_invitation
    ) or notification.customer is None:
        return None
    customer = notification.customer
    if today_by_reseller and customer.reseller_id in today_by_reseller:
        today = today_by_reseller[customer.reseller_id]
    else:
        today = clock.today_in(customer.reseller.time_zone)
    if is_invitation:
        invitation_id = invitation_id_of_mail(notification.cycle_key)
        if invitations is not None:
            invitation = invitations.get(invitation_id)
        else:
            invitation = db.session.get(Invitation, invitation_id) if invitation_id else None
        if invitation is None:
            return INVITATION_SUPERSEDED
        return invitation.mail_cancel_reason(today)
    return deadlines.stale_reminder_reason(
        kind=notification.kind,
        cycle=notification.cycle_key,
        anniversary=customer.anniversary_date,
        status=status or customer.status,
        today=today,
    )


def addressee(notification: Notification) -> str:
    """Whom a mail concerns, as the job's report names it: the customer, or for a mail to
    a reseller's own user, the recipient."""
    return notification.customer.company_name if notification.customer else notification.recipient


#: The queued mails one run delivers (the rest wait for the next run).
RUN_LIMIT = 500


def _due(now: datetime):
    return [
        Notification.status == NotificationStatus.QUEUED,
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    ]


def _step(
    action: str, notification: Notification, outcome: str | None = None, customer_name=None
) -> DeliveryStep:
    return DeliveryStep(
        action=action,
        kind=notification.kind,
        recipient=notification.recipient,
        customer_name=customer_name or addressee(notification),
        notification_id=notification.id,
        outcome=outcome,
    )


def _claim(notification_id: int, now: datetime) -> bool:
    claimed = db.session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == NotificationStatus.QUEUED,
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        )
        .values(next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def deliver_queued(
    *, now: datetime, today_by_reseller: dict[int, date] | None = None, limit: int = RUN_LIMIT
) -> DeliveryReport:
    """Sends what is due; one recipient's failure never stops the others. A reminder is
    judged by its customer's stage on the run's date for the reseller (`today_by_reseller`,
    by default each reseller's local date) and cancelled when it is stale."""
    report = DeliveryReport()
    max_attempts = int(current_app.config.get("VIP_MAIL_MAX_ATTEMPTS", MAX_ATTEMPTS_DEFAULT))
    due = db.session.scalars(
        select(Notification.id).where(*_due(now)).order_by(Notification.id).limit(limit)
    ).all()
    db.session.commit()
    for notification_id in due:
        if not _claim(notification_id, now):
            continue  # another run has it
        notification = db.session.get(Notification, notification_id)
        customer_name = addressee(notification)  # for the report, once detached
        reason = stale_reason(notification, today_by_reseller=today_by_reseller)
        if reason is not None:
            # A later stage is due, a renewal moved the anniversary on, or access is gone:
            # never send a stale reminder; nor an invitation whose link no longer
            # works: accepted, replaced or expired (S30).
            notification.status = NotificationStatus.CANCELLED
            notification.cancel_reason = reason
            notification.next_attempt_at = None
            report.cancelled += 1
            report.steps.append(_step(CANCEL, notification, reason))
            db.session.commit()
            continue
        # No transaction stays open while the mail travels: on SQLite that would hold the
        # write lock through a slow SMTP exchange.
        db.session.expunge(notification)
        db.session.commit()
        try:
            deliver(notification)
        except Exception as error:  # noqa: BLE001 - any failure is recorded and retried
            notification.attempts += 1
            notification.last_error = f"{type(error).__name__}: {error}"[:1000]
            if notification.attempts >= max_attempts:
                notification.status = NotificationStatus.FAILED
                notification.next_attempt_at = None
                report.failed += 1
                report.steps.append(_step(SEND, notification, "failed", customer_name))
            else:
                notification.next_attempt_at = now + FIRST_RETRY * (
                    2 ** (notification.attempts - 1)
                )
                report.retrying += 1
                report.steps.append(_step(SEND, notification, "retrying", customer_name))
        else:
            notification.attempts += 1
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.last_error = None
            report.sent += 1
            report.steps.append(_step(SEND, notification, "sent", customer_name))
        notification = db.session.merge(notification)
        if (
            notification.status == NotificationStatus.SENT
            and notification.kind in REMINDER_KINDS
            and notification.customer is not None
        ):
            events.reminder_sent(notification, sent_at=now)  # with the mark, in one commit
        db.session.commit()
    return report


def _due_of(now: datetime, reseller_ids: list[int]):
    return (
        select(Notification.id)
        .join(Customer)
        .where(*_due(now), Customer.reseller_id.in_(reseller_ids))
    )


def due_customer_ids(*, now: datetime, reseller_ids: list[int], limit: int) -> list[int]:
    """The customers of the first `limit` mails `preview_delivery` lists."""
    return list(
        db.session.scalars(
            _due_of(now, reseller_ids)
            .with_only_columns(Notification.customer_id)
            .order_by(Notification.id)
            .limit(limit)
        )
    )


def count_due(*, now: datetime, reseller_ids: list[int], limit: int = RUN_LIMIT) -> int:
    """How many queued mails of these resellers a delivery at `now` would take up (at most
    `limit`, as `preview_delivery` and a run)."""
    due = _due_of(now, reseller_ids).limit(limit).subquery()
    return db.session.scalar(select(func.count()).select_from(due)) or 0


def preview_delivery(
    *,
    now: datetime,
    reseller_ids: list[int] | None = None,
    today_by_reseller: dict[int, date] | None = None,
    statuses_after: dict[int, CustomerStatus] | None = None,
    limit: int = RUN_LIMIT,
) -> list[DeliveryStep]:
    """What `deliver_queued` would do with the mail already queued, read without writing:
    the same selection and order, the relevance judged by the statuses the deadlines
    would leave (`statuses_after`). Reminders a run queues first come on top of these."""
    statuses_after = statuses_after or {}

    def preview_step(notification: Notification) -> DeliveryStep:
        reason = stale_reason(
            notification,
            today_by_reseller=today_by_reseller,
            status=statuses_after.get(notification.customer_id),
            invitations=invitations,
        )
        return _step(SEND, notification) if reason is None else _step(CANCEL, notification, reason)

    query = select(Notification).join(Customer).where(*_due(now))
    if reseller_ids is not None:
        query = query.where(Customer.reseller_id.in_(reseller_ids))
    notifications = db.session.scalars(
        query.options(contains_eager(Notification.customer)).order_by(Notification.id).limit(limit)
    ).all()
    invitation_ids = {
        invitation_id_of_mail(n.cycle_key) for n in notifications if n.kind == "invitation"
    } - {None}
    invitations = (
        {
            invitation.id: invitation
            for invitation in db.session.scalars(
                select(Invitation).where(Invitation.id.in_(invitation_ids))
            )
        }
        if invitation_ids
        else {}
    )
    return [preview_step(notification) for notification in notifications]


# -- The Outbox page ------------------------------------------------------------------------------


def outbox_of(*, user: User, status: str = "", limit: int = 200) -> list[Notification]:
    require(user, "outbox.view")
    # The reseller as a probe per mail read, newest first: a join made SQLite build a
    # filter of every customer of the reseller first (README, "Performance").
    of_reseller = exists().where(
        Customer.id == Notification.customer_id, Customer.reseller_id == user.reseller_id
    )
    query = (
        select(Notification)
        .options(joinedload(Notification.customer))
        .where(of_reseller)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if status in {s.value for s in NotificationStatus}:
        query = query.where(Notification.status == NotificationStatus(status))
    return list(db.session.scalars(query))


def get_for(*, user: User, notification_id: int) -> Notification:
    require(user, "outbox.view")
    notification = db.session.scalar(
        select(Notification)
        .join(Customer)
        .where(Notification.id == notification_id, Customer.reseller_id == user.reseller_id)
    )
    if notification is None:
        raise NotVisible(f"notification {notification_id}")
    return notification


def retry(*, user: User, notification_id: int) -> Notification:
    notification = get_for(user=user, notification_id=notification_id)
    if notification.status != NotificationStatus.FAILED:
        raise DomainError(_l("Only a failed mail can be retried."))
    notification.status = NotificationStatus.QUEUED
    notification.attempts = 0
    notification.next_attempt_at = None
    audit.record(
        actor=user,
        action="mail.retried",
        customer=notification.customer,
        object_type="notification",
        object_id=notification.id,
        details={"kind": notification.kind, "recipient": notification.recipient},
    )
    db.session.commit()
    return notification
