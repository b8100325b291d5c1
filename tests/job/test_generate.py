"""`vip generate`: a portfolio in the state a year of daily ticks leaves, so that benchmarks
measure what a day adds."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import TODAY
from vip.extensions import db
from vip.generate import generate_portfolio, record_sent_reminders
from vip.models import Customer, Notification, NotificationStatus, PurchaseAuthorization
from vip.services.deadlines import preview_deadlines, relevant_reminder


def test_r10_generate_fills_a_portfolio_that_the_job_has_nothing_to_add_to(app):
    with app.test_request_context():
        report = generate_portfolio(customers=60, today=TODAY, seed=3)
        assert report.customers == 60
        assert report.authorizations == db.session.scalar(
            select(func.count()).select_from(PurchaseAuthorization)
        )
        customers = db.session.scalars(select(Customer)).all()
        reseller_ids = sorted({c.reseller_id for c in customers})
        # R10: every reminder stage the current anniversaries reached went out already.
        with_reminder = [
            c
            for c in customers
            if c.anniversary_date and relevant_reminder(c.anniversary_date, TODAY) is not None
        ]
        assert with_reminder, "the seed should give some anniversaries near today"
        assert report.reminders == db.session.scalar(select(func.count()).select_from(Notification))
        assert set(db.session.scalars(select(Notification.status).distinct())) == {
            NotificationStatus.SENT
        }
        # R4, R10, R11: nothing is left for today's run: no status to change, no reminder.
        changes = preview_deadlines(today=TODAY, reseller_ids=reseller_ids).changes
        assert [c.describe() for c in changes] == []
        # Idempotent: nothing more the second time.
        assert record_sent_reminders(today=TODAY) == 0
