"""The daily job as a whole: the deadlines of each reseller's date, then mail delivery;
and its preview, which reads the same selections and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, text

from vip import clock, database
from vip.extensions import db
from vip.models import Reseller, User
from vip.services import commitments, deadlines, discount_levels, outbox
from vip.services.access import require


def resellers_by_local_date(fixed_today: date | None) -> dict[date, list[int]]:
    """{date: [reseller ids]}: the given date for all, or each reseller's own local date."""
    groups: dict[date, list[int]] = {}
    for reseller in db.session.scalars(select(Reseller).order_by(Reseller.id)):
        day = fixed_today or clock.today_in(reseller.time_zone)
        groups.setdefault(day, []).append(reseller.id)
    return groups


def local_date_of_reseller(days: dict[date, list[int]]) -> dict[int, date]:
    """{reseller id: date}: the same grouping, read the other way round."""
    return {reseller_id: day for day, ids in days.items() for reseller_id in ids}


def deliver_mail(*, days: dict[date, list[int]], now: datetime) -> outbox.DeliveryReport:
    """Delivery as part of a run: reminders judged by the run's date of their reseller."""
    return outbox.deliver_queued(now=now, today_by_reseller=local_date_of_reseller(days))


def run_deadlines(days: dict[date, list[int]]) -> deadlines.TickReport:
    """The deadlines of `deadlines`, then the look-back and the commitments' expiry and missed
    renewals, each through its service."""
    totals = deadlines.TickReport()
    for day, reseller_ids in days.items():
        totals.add(deadlines.apply_deadlines(today=day, reseller_ids=reseller_ids))
        totals.add(discount_levels.apply_lookbacks(today=day, reseller_ids=reseller_ids))
        totals.add(commitments.apply_commitment_deadlines(today=day, reseller_ids=reseller_ids))
    return totals


def refresh_planner_statistics() -> None:
    """Once a day, SQLite's `PRAGMA optimize`: it re-analyzes the tables whose statistics
    went stale, which the query planner needs to start a search from the trigram index.
    (PostgreSQL's autovacuum does this by itself.)"""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA optimize"))
        db.session.commit()


@dataclass
class TickPreview:
    """What a run would change (`deadlines.changes`) and which mails it would deliver or
    cancel, in the order it would."""

    days: dict[date, list[int]]
    deadlines: deadlines.TickReport
    deliveries: list[outbox.DeliveryStep] = field(default_factory=list)
    send: bool = True
    #: In a bounded preview (`shown`): the first changes and mails only, and the totals.
    changes_total: int | None = None
    deliveries_total: int | None = None

    @property
    def more_changes(self) -> int:
        total = len(self.deadlines.changes) if self.changes_total is None else self.changes_total
        return total - len(self.deadlines.changes)

    @property
    def more_deliveries(self) -> int:
        total = len(self.deliveries) if self.deliveries_total is None else self.deliveries_total
        return total - len(self.deliveries)


def preview_tick(*, days: dict[date, list[int]], now: datetime, send: bool = True) -> TickPreview:
    """The dry run: each day's plan of the deadlines (the very plan a real run applies),
    then (unless `send` is off) the queued mail as delivery would find it, followed by the
    reminders the plan queues. It reads in a session of its own and returns plain data:
    the caller's session is never touched, and no lock outlives it."""
    with database.reading_session():
        return _preview(days=days, now=now, send=send)


def _preview(*, days: dict[date, list[int]], now: datetime, send: bool) -> TickPreview:
    report = deadlines.TickReport()
    for day, reseller_ids in days.items():
        report.add(deadlines.plan_deadlines(today=day, reseller_ids=reseller_ids))
        report.add(discount_levels.plan_lookbacks(today=day, reseller_ids=reseller_ids))
        report.add(commitments.plan_commitment_deadlines(today=day, reseller_ids=reseller_ids))
    preview = TickPreview(days=days, deadlines=report, send=send)
    if send:
        reseller_ids = [i for ids in days.values() for i in ids]
        preview.deliveries = outbox.preview_delivery(
            now=now,
            reseller_ids=reseller_ids,
            today_by_reseller=local_date_of_reseller(days),
            statuses_after=report.statuses_after,
        ) + [
            outbox.DeliveryStep(
                action=outbox.SEND,
                kind=change.reminder,
                recipient=change.recipient,
                customer_name=change.customer_name,
            )
            for change in report.changes
            if change.action == deadlines.REMINDER_QUEUED
        ]
    return preview


def bounded_preview(*, days: dict[date, list[int]], now: datetime, shown: int) -> TickPreview:
    """The preview's first `shown` changes and first `shown` mails, exactly as the full
    preview lists them, and the exact totals, reading a bounded number of rows: the totals
    are counted in the database, the first customers of each rule are read (`first`), and
    the plan of just those customers (and of the customers of the first queued mails)
    gives their changes and the statuses the run leaves them in."""
    with database.reading_session():
        reseller_ids = [i for ids in days.values() for i in ids]
        mailed = outbox.due_customer_ids(now=now, reseller_ids=reseller_ids, limit=shown)
        report = deadlines.TickReport()
        changes_total = 0
        reminders_total = 0
        for day, ids in days.items():
            counts = deadlines.count_plan(today=day, reseller_ids=ids)
            changes_total += sum(counts.values())
            reminders_total += counts[deadlines.REMINDER_QUEUED]
            first = deadlines.plan_deadlines(today=day, reseller_ids=ids, first=shown)
            chosen = {(change.action, change.customer_id) for change in first.changes}
            customer_ids = {customer_id for _, customer_id in chosen} | set(mailed)
            exact = deadlines.plan_deadlines(
                today=day, reseller_ids=ids, customer_ids=sorted(customer_ids)
            )
            for change in exact.changes:
                if (change.action, change.customer_id) in chosen:
                    report.count(change)
            report.statuses_after.update(exact.statuses_after)
        reminders = [c for c in report.changes if c.action == deadlines.REMINDER_QUEUED]
        report.changes = report.changes[:shown]
        deliveries = outbox.preview_delivery(
            now=now,
            reseller_ids=reseller_ids,
            today_by_reseller=local_date_of_reseller(days),
            statuses_after=report.statuses_after,
            limit=shown,
        ) + [
            outbox.DeliveryStep(
                action=outbox.SEND,
                kind=change.reminder,
                recipient=change.recipient,
                customer_name=change.customer_name,
            )
            for change in reminders
        ]
        return TickPreview(
            days=days,
            deadlines=report,
            deliveries=deliveries[:shown],
            changes_total=changes_total,
            deliveries_total=outbox.count_due(now=now, reseller_ids=reseller_ids) + reminders_total,
        )


#: The Outbox page shows this many changes and mails of tomorrow's run, then "and N more".
PREVIEW_SHOWN = 25


def tomorrows_run(*, user: User, shown: int = PREVIEW_SHOWN) -> TickPreview:
    """The Outbox page's preview: tomorrow's run for the partner admin's own reseller, its
    first `shown` changes and mails and the totals."""
    require(user, "outbox.view")
    tomorrow = clock.today_for(user) + timedelta(days=1)
    return bounded_preview(
        days={tomorrow: [user.reseller_id]}, now=clock.now() + timedelta(days=1), shown=shown
    )
