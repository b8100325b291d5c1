"""The security log of a reseller (S49-S51): sign-ins, failures, lock-outs, second-factor
changes, denials, throttling and team changes, read from the audit events (S22).

A partner admin sees the reseller's events (its team's and its customers' VIP admins'),
filtered by kind and by user (the events a user caused and those about their account),
newest first, a page at a time, or all of them as CSV. The sign-in events, denials and
throttling are many; the deadline job deletes them once they are older than
VIP_SECURITY_LOG_DAYS (400 at least, `purge_expired`). Second-factor and team changes,
and every event of a customer's History, are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import Select, and_, delete, func, or_, select

from vip.extensions import db
from vip.models import AuditEvent, User
from vip.services import audit
from vip.services.access import require
from vip.services.errors import NotVisible
from vip.services.listing import CustomerPage, paginate


class SecurityKind(StrEnum):
    SIGN_INS = "sign_ins"
    FAILURES = "failures"
    LOCK_OUTS = "lock_outs"
    SECOND_FACTOR = "second_factor"
    DENIALS = "denials"
    THROTTLING = "throttling"
    TEAM = "team"


#: The audit actions of each kind.
ACTIONS: dict[SecurityKind, tuple[str, ...]] = {
    SecurityKind.SIGN_INS: ("login.succeeded", "session.ended"),
    SecurityKind.FAILURES: (
        "login.failed",
        "two_factor.failed",
        "user.password_change_failed",
    ),
    SecurityKind.LOCK_OUTS: ("login.locked_out",),
    SecurityKind.SECOND_FACTOR: (
        "two_factor.enabled",
        "two_factor.disabled",
        "two_factor.reset",
        "reseller.two_factor_required",
        "reseller.two_factor_optional",
    ),
    SecurityKind.DENIALS: ("access.denied_not_found", "access.denied_role"),
    SecurityKind.THROTTLING: ("request.throttled",),
    SecurityKind.TEAM: (
        "user.created",
        "user.deactivated",
        "user.reactivated",
        "user.password_changed",
        "user.password_set",
        "user.set_password_link_sent",
    ),
}
KIND_OF_ACTION = {action: kind for kind, actions in ACTIONS.items() for action in actions}
ALL_ACTIONS = tuple(KIND_OF_ACTION)
#: Deleted after VIP_SECURITY_LOG_DAYS; the rest is kept (S51).
EXPIRING_KINDS = (
    SecurityKind.SIGN_INS,
    SecurityKind.FAILURES,
    SecurityKind.LOCK_OUTS,
    SecurityKind.DENIALS,
    SecurityKind.THROTTLING,
)
EXPIRING_ACTIONS = tuple(action for kind in EXPIRING_KINDS for action in ACTIONS[kind])


@dataclass(frozen=True)
class LogFilter:
    kind: SecurityKind | None = None
    user_id: int | None = None


def team_for_filter(*, user: User) -> list[User]:
    """The users a partner admin can filter the log by: the reseller's team."""
    require(user, "team.manage")
    return list(
        db.session.scalars(
            select(User).where(User.reseller_id == user.reseller_id).order_by(User.name, User.id)
        )
    )


def _events(*, user: User, chosen: LogFilter) -> Select:
    require(user, "team.manage")
    actions = ACTIONS[chosen.kind] if chosen.kind else ALL_ACTIONS
    query = select(AuditEvent).where(
        AuditEvent.reseller_id == user.reseller_id,
        AuditEvent.customer_id.is_(None),
        AuditEvent.action.in_(actions),
    )
    if chosen.user_id is not None:
        member = db.session.scalar(
            select(User.id).where(User.id == chosen.user_id, User.reseller_id == user.reseller_id)
        )
        if member is None:
            raise NotVisible(f"user {chosen.user_id}")
        query = query.where(
            or_(
                AuditEvent.actor_id == member,
                and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(member)),
            )
        )
    return query


def page_of(*, user: User, chosen: LogFilter, page: int, page_size: int) -> CustomerPage:
    """One page of the reseller's security events, newest first (a fixed number of
    queries: the capped count and the page)."""
    return paginate(
        _events(user=user, chosen=chosen),
        [AuditEvent.at.desc(), AuditEvent.id.desc()],
        page=page,
        page_size=page_size,
        id_column=AuditEvent.id,
    )


def export_rows(*, user: User, chosen: LogFilter) -> Iterator[AuditEvent]:
    """Every matching event, newest first, read in batches as the iterator is consumed.
    The permission and the user filter are checked at once, before the first row."""
    query = _events(user=user, chosen=chosen).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return _in_batches(query)


def _in_batches(query: Select) -> Iterator[AuditEvent]:
    yield from db.session.scalars(query.execution_options(yield_per=500))


def record_throttled(
    *, actor: User | None, subject: User | None, endpoint: str, limit: str, address: str
) -> None:
    """Audits a refused (throttled) request, once per window (the caller decides), in a
    transaction of its own (S49). `subject` is the account the request was about."""
    db.session.rollback()
    audit.record(
        actor=actor,
        actor_label=None if actor is not None else address,
        reseller_id=(subject or actor).tenant_reseller_id if (subject or actor) else None,
        action="request.throttled",
        object_type="user" if subject is not None else None,
        object_id=subject.id if subject is not None else None,
        details={"endpoint": endpoint, "limit": limit, "address": address},
    )
    db.session.commit()


def _expired(now: datetime) -> list:
    days = int(current_app.config["VIP_SECURITY_LOG_DAYS"])
    return [
        AuditEvent.at < now - timedelta(days=days),
        AuditEvent.customer_id.is_(None),
        AuditEvent.action.in_(EXPIRING_ACTIONS),
    ]


def expired_count(*, now: datetime) -> int:
    """What `purge_expired` would delete (the job's dry run)."""
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(*_expired(now)))


def purge_expired(*, now: datetime) -> int:
    """Deletes the sign-in events, denials and throttling older than VIP_SECURITY_LOG_DAYS
    (at least 400 days), of every reseller; returns how many (S51). The deadline job
    runs it. Commits."""
    deleted = db.session.execute(
        delete(AuditEvent).where(*_expired(now)).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return deleted
