"""`flask vip tick --dry-run` and the preview behind it (`deadlines.preview_deadlines`,
`outbox.preview_delivery`, `job.preview_tick`): it changes nothing (no row, no mail, no
lock left behind), and it prints exactly what the real run for the same date then prints:
the same counts, the same change lines in the same order, the same mail lines but for the
real run's outcome suffix. R4, R10 and R11 each previewed; a job that missed days
previews only the reminder still relevant; and, over random small portfolios and dates,
`preview_deadlines` describes the changes `apply_deadlines` then makes."""

from __future__ import annotations

import itertools
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from tests.conftest import TODAY, product_id
from tests.support import in_app
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseType,
    MarketSegment,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    Reseller,
    Role,
    User,
    VipAdminCustomer,
)
from vip.services import job, outbox
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.customers import create_customer
from vip.services.deadlines import apply_deadlines, preview_deadlines

D = date(2026, 12, 15)  # the run's date: the fixture authorizations (due 12-13) are overdue
D_TEXT = D.isoformat()
DRY_HEADER = "Dry run: nothing is changed and no mail is sent."
COUNT_LINE = re.compile(
    r"^(Försenad: |Access removed: |Reminders queued, |Levels raised by the look-back: "
    r"|Three-year commitments changed: )"
)
OUTCOME = re.compile(r" \[(sent|retrying|failed)\]$")


# --- helpers -------------------------------------------------------------------------------


def tick(runner, *args):
    result = runner.invoke(args=["vip", "tick", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@dataclass
class Printed:
    """A tick's output, in its parts."""

    header: list[str]  # the dry run's first line, or nothing
    counts: list[str]
    changes: list[str]
    mail_summary: str | None
    mails: list[str]


def parse(output: str) -> Printed:
    header, counts, changes, mails = [], [], [], []
    summary = None
    for line in output.splitlines():
        if line == DRY_HEADER:
            header.append(line)
        elif COUNT_LINE.match(line):
            counts.append(line)
        elif line.startswith("Mail: "):
            assert summary is None, output
            summary = line
        elif line.startswith("  "):
            (mails if summary is not None else changes).append(line.strip())
        else:
            raise AssertionError(f"unexpected line {line!r} in:\n{output}")
    return Printed(header, counts, changes, summary, mails)


def snapshot(app) -> dict:
    """Row counts of every table and the full content of the tables the job writes."""
    with in_app(app):
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        content = {
            table.name: [
                tuple(row) for row in db.session.execute(select(table).order_by(table.c.id)).all()
            ]
            for table in db.metadata.sorted_tables
            if table.name in ("customers", "notifications", "audit_events")
        }
    return {"counts": counts, **content}


def outbox_files(app) -> list[Path]:
    return sorted(Path(app.config["VIP_OUTBOX_DIR"]).iterdir())


def set_rows(app, model, row_id: int, **values) -> None:
    with in_app(app):
        db.session.execute(update(model).where(model.id == row_id).values(**values))
        db.session.commit()


def new_customer(app, admin_id: int, name: str, email: str, *, language="sv", **values) -> int:
    """A customer through the service (its invitation mail marked sent: it is old news),
    then given the status and anniversary the scenario needs."""
    with in_app(app):
        customer = create_customer(
            user=db.session.get(User, admin_id),
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name=f"Admin of {name}",
            admin_email=email,
            admin_language=language,
        )
        customer_id = customer.id
        db.session.execute(
            update(Notification)
            .where(Notification.customer_id == customer_id)
            .values(status=NotificationStatus.SENT, attempts=1)
        )
        db.session.commit()
    set_rows(app, Customer, customer_id, **values)
    return customer_id


def new_pa(app, sales_id: int, customer_id: int, *, created_on: date = TODAY) -> int:
    with in_app(app):
        pa = create_purchase_authorization(
            user=db.session.get(User, sales_id),
            customer_id=customer_id,
            today=created_on,
            license_type="team",
            lines=[
                LineInput(product_id=product_id("Acrobat Pro", "team", "commercial"), quantity=1)
            ],
            deployment_date=created_on,
            customer_po_number=None,
        )
        return pa.id


def queue_reminder(app, customer_id: int, kind: str, anniversary: date, recipient: str) -> int:
    with in_app(app):
        notification = Notification(
            customer_id=customer_id,
            kind=kind,
            cycle_key=anniversary.isoformat(),
            recipient=recipient,
            language="sv",
            subject=f"{kind} reminder",
            body_text="text",
            body_html="<p>html</p>",
            status=NotificationStatus.QUEUED,
            attempts=0,
        )
        db.session.add(notification)
        db.session.commit()
        return notification.id


def invitation_of(app, customer_id: int) -> int:
    with in_app(app):
        return db.session.scalar(
            select(Notification.id).where(
                Notification.customer_id == customer_id, Notification.kind == "invitation"
            )
        )


def who(app, customer_id: int) -> str:
    """A customer as the change lines name it."""
    with in_app(app):
        c = db.session.get(Customer, customer_id)
        return f"{c.company_name} (VIP {c.vip_id}, #{c.id})"


# --- the scenario --------------------------------------------------------------------------


@dataclass
class Scene:
    invited: int  # tenant a's fixture customer: invited, its authorization overdue on D
    other: int  # tenant b's fixture customer (the second reseller): the same
    late: int  # active, an authorization overdue on D
    ordered: int  # Försenad, its overdue authorization since ordered
    removed: int  # anniversary D-30: access removed; its queued reminder goes stale
    due: int  # anniversary D+30, English VIP admin
    missed: int  # anniversary D
    removal: int  # anniversary D-23, and an authorization overdue on D
    waiting: int  # its invitation mail waits for a retry time in the future
    emails: dict[str, str]
    stale_id: int
    waiting_mail_id: int


@pytest.fixture
def scene(app, tenants) -> Scene:
    a, b = tenants.a, tenants.b
    active = {"status": CustomerStatus.ACTIVE}
    emails = {
        "invited": a.customer.admin_email,
        "other": b.customer.admin_email,
        "removed": "it@utgangen.example",
        "due": "it@trettio.example",
        "missed": "it@arsdag.example",
        "removal": "it@sjudagar.example",
    }
    late = new_customer(app, a.admin.id, "Sen AB", "it@sen.example", **active)
    new_pa(app, a.sales.id, late)
    ordered = new_customer(
        app,
        a.admin.id,
        "Beställt AB",
        "it@bestallt.example",
        status=CustomerStatus.DELAYED,
        status_before_delay=CustomerStatus.ACTIVE,
    )
    set_rows(
        app,
        PurchaseAuthorization,
        new_pa(app, a.sales.id, ordered),
        status=AuthorizationStatus.ORDERED,
    )
    removed = new_customer(
        app,
        a.admin.id,
        "Utgången AB",
        emails["removed"],
        anniversary_date=D - timedelta(30),
        **active,
    )
    stale_id = queue_reminder(app, removed, "access_removal", D - timedelta(30), emails["removed"])
    due = new_customer(
        app,
        a.admin.id,
        "Trettio AB",
        emails["due"],
        language="en",
        anniversary_date=D + timedelta(30),
        **active,
    )
    missed = new_customer(
        app, a.admin.id, "Årsdag AB", emails["missed"], anniversary_date=D, **active
    )
    removal = new_customer(
        app,
        a.admin.id,
        "Sjudagar AB",
        emails["removal"],
        anniversary_date=D - timedelta(23),
        **active,
    )
    new_pa(app, a.sales.id, removal)
    waiting = new_customer(app, a.admin.id, "Väntar AB", "it@vantar.example", **active)
    waiting_mail_id = invitation_of(app, waiting)
    set_rows(
        app,
        Notification,
        waiting_mail_id,
        status=NotificationStatus.QUEUED,
        attempts=1,
        last_error="SMTPServerDisconnected",
        next_attempt_at=datetime.now(UTC) + timedelta(hours=2),
    )
    return Scene(
        invited=a.customer.id,
        other=b.customer.id,
        late=late,
        ordered=ordered,
        removed=removed,
        due=due,
        missed=missed,
        removal=removal,
        waiting=waiting,
        emails=emails,
        stale_id=stale_id,
        waiting_mail_id=waiting_mail_id,
    )


def expected_changes(app, s: Scene) -> list[str]:
    """Worked out by hand: R4 delays (by customer id), R4 clearing, R11, then R10."""
    return [
        f"delay: {who(app, s.invited)}: invited -> delayed",
        f"delay: {who(app, s.other)}: invited -> delayed",
        f"delay: {who(app, s.late)}: active -> delayed",
        f"delay: {who(app, s.removal)}: active -> delayed",
        f"delay_cleared: {who(app, s.ordered)}: delayed -> active",
        f"access_removed: {who(app, s.removed)}: active -> inactive",
        f"reminder renewal_due to {s.emails['due']} [en]: {who(app, s.due)}",
        f"reminder renewal_missed to {s.emails['missed']} [sv]: {who(app, s.missed)}",
        f"reminder access_removal to {s.emails['removal']} [sv]: {who(app, s.removal)}",
    ]


def expected_mails(s: Scene) -> list[str]:
    """The queued mail by id (invitations of both resellers, the stale reminder; not the
    one waiting for its retry time), then the reminders the run queues."""
    e = s.emails
    return [
        f"send invitation to {e['invited']}: a Kund AB",
        f"send invitation to {e['other']}: b Kund AB",
        f"cancel access_removal to {e['removed']}: Utgången AB [access_removed]",
        f"send renewal_due to {e['due']}: Trettio AB",
        f"send renewal_missed to {e['missed']}: Årsdag AB",
        f"send access_removal to {e['removal']}: Sjudagar AB",
    ]


# --- changing nothing ----------------------------------------------------------------------


def test_the_dry_run_changes_nothing_and_says_so(app, runner, scene):
    before = snapshot(app)
    result = tick(runner, "--today", D_TEXT, "--dry-run")
    assert result.exit_code == 0, result.output
    printed = parse(result.output)
    assert printed.header == [DRY_HEADER]
    assert result.output.splitlines()[0] == DRY_HEADER
    assert printed.changes, "the scenario has changes to preview"
    assert snapshot(app) == before
    assert outbox_files(app) == []
    assert "[sent]" not in result.output


def test_the_dry_run_twice_prints_the_same(app, runner, scene):
    first = tick(runner, "--today", D_TEXT, "--dry-run")
    second = tick(runner, "--today", D_TEXT, "--dry-run")
    assert first.exit_code == second.exit_code == 0
    assert first.output == second.output
    assert parse(first.output).changes == expected_changes(app, scene)


def test_the_dry_run_prints_what_it_would_change_and_send(app, runner, scene):
    printed = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    assert printed.counts == [
        "Försenad: 4 set, 1 cleared.",
        "Access removed: 1.",
        "Reminders queued, renewal_due: 1.",
        "Reminders queued, renewal_missed: 1.",
        "Reminders queued, access_removal: 1.",
        "Levels raised by the look-back: 0.",
        "Three-year commitments changed: 0.",
    ]
    assert printed.changes == expected_changes(app, scene)
    assert printed.mail_summary == "Mail: 5 to send, 1 no longer relevant."
    assert printed.mails == expected_mails(scene)
    assert not any("Väntar AB" in line for line in printed.mails)


# --- the same as the real run --------------------------------------------------------------


def test_the_dry_run_prints_what_the_real_run_then_does(app, runner, scene):
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    real_result = tick(runner, "--today", D_TEXT)
    assert real_result.exit_code == 0, real_result.output
    real = parse(real_result.output)

    assert real.header == []
    assert dry.counts == real.counts
    assert dry.changes == real.changes  # the same lines in the same order
    # A mail sent says how it went; a cancelled one says why, in both runs.
    sends = [line for line in real.mails if line.startswith("send ")]
    assert len(sends) == 5 and all(line.endswith(" [sent]") for line in sends), real.mails
    assert [line for line in real.mails if not line.startswith("send ")] == [
        f"cancel access_removal to {scene.emails['removed']}: Utgången AB [access_removed]"
    ]
    assert dry.mails == [OUTCOME.sub("", line) for line in real.mails]
    assert real.mail_summary == "Mail: 5 sent, 0 to retry, 0 failed, 1 no longer relevant."
    # The real run did write: five mails, and the stale reminder is cancelled.
    assert len(list(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))) == 5
    with in_app(app):
        assert db.session.get(Notification, scene.stale_id).status == NotificationStatus.CANCELLED
    # And now there is nothing left to do, which the dry run says too.
    after = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    assert after.changes == [] and after.mails == []
    assert after.mail_summary == "Mail: 0 to send, 0 no longer relevant."


def test_a_mail_whose_retry_time_is_ahead_is_in_neither_run(app, runner, scene):
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    real = parse(tick(runner, "--today", D_TEXT).output)
    for printed in (dry, real):
        assert not any("it@vantar.example" in line for line in printed.mails)
    with in_app(app):
        waiting = db.session.get(Notification, scene.waiting_mail_id)
        assert (waiting.status, waiting.attempts) == (NotificationStatus.QUEUED, 1)


def test_dry_run_no_send_prints_no_mail_lines(app, runner, scene):
    before = snapshot(app)
    result = tick(runner, "--today", D_TEXT, "--dry-run", "--no-send")
    assert result.exit_code == 0, result.output
    printed = parse(result.output)
    assert printed.header == [DRY_HEADER]
    assert printed.changes == expected_changes(app, scene)
    assert printed.mail_summary == "Mail: not sent (--no-send)."
    assert printed.mails == []
    assert snapshot(app) == before and outbox_files(app) == []
    # The real run with --no-send prints the same.
    real = parse(tick(runner, "--today", D_TEXT, "--no-send").output)
    assert (real.counts, real.changes, real.mail_summary, real.mails) == (
        printed.counts,
        printed.changes,
        printed.mail_summary,
        [],
    )


def test_dry_run_without_today_uses_the_apps_today(app, runner, scene):
    """VIP_TODAY is 2026-11-29: no authorization is overdue yet, so the ordered one's
    customer is no longer Försenad; anniversaries 11-15 and 11-22 are missed, 12-15 is
    due; 2027-01-14 is too far ahead."""
    dry = parse(tick(runner, "--dry-run").output)
    real = parse(tick(runner).output)
    assert dry.changes == real.changes
    e = scene.emails
    assert dry.changes == [
        f"delay_cleared: {who(app, scene.ordered)}: delayed -> active",
        f"reminder renewal_missed to {e['removed']} [sv]: {who(app, scene.removed)}",
        f"reminder renewal_due to {e['missed']} [sv]: {who(app, scene.missed)}",
        f"reminder renewal_missed to {e['removal']} [sv]: {who(app, scene.removal)}",
    ]


# --- each rule -----------------------------------------------------------------------------


def test_r4_dry_run_previews_delay_and_its_clearing_as_the_run_makes_them(app, runner, scene):
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    delays = [line for line in dry.changes if line.startswith(("delay:", "delay_cleared:"))]
    assert delays == [line for line in expected_changes(app, scene) if line.startswith("delay")]
    real = parse(tick(runner, "--today", D_TEXT, "--no-send").output)
    assert delays == [
        line for line in real.changes if line.startswith(("delay:", "delay_cleared:"))
    ]
    with in_app(app):
        statuses = dict(db.session.execute(select(Customer.id, Customer.status)).all())
    assert statuses[scene.invited] == statuses[scene.late] == CustomerStatus.DELAYED
    assert statuses[scene.ordered] == CustomerStatus.ACTIVE


def test_r4_the_day_before_the_authorization_is_overdue_nothing_is_delayed(app, runner, scene):
    # The fixture authorizations' order-due date is 2026-12-13: overdue from the 14th.
    dry = parse(tick(runner, "--today", "2026-12-13", "--dry-run").output)
    assert not any(line.startswith("delay:") for line in dry.changes)
    dry = parse(tick(runner, "--today", "2026-12-14", "--dry-run").output)
    assert f"delay: {who(app, scene.late)}: active -> delayed" in dry.changes


def test_r10_dry_run_previews_each_reminder_in_the_admins_language(app, runner, scene):
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    reminders = [line for line in dry.changes if line.startswith("reminder ")]
    assert reminders == expected_changes(app, scene)[-3:]
    real = parse(tick(runner, "--today", D_TEXT, "--no-send").output)
    assert reminders == [line for line in real.changes if line.startswith("reminder ")]
    with in_app(app):
        queued = {
            (n.customer_id, n.kind, n.language)
            for n in db.session.scalars(
                select(Notification).where(Notification.id > scene.waiting_mail_id)
            )
        }
    assert queued == {
        (scene.due, "renewal_due", "en"),
        (scene.missed, "renewal_missed", "sv"),
        (scene.removal, "access_removal", "sv"),
    }


def test_r10_a_reminder_already_queued_is_not_previewed_again(app, runner, scene):
    queue_reminder(app, scene.due, "renewal_due", D + timedelta(30), scene.emails["due"])
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    assert not any(line.startswith("reminder renewal_due") for line in dry.changes)
    # ... but the queued one is listed to be sent, once.
    due_mails = [line for line in dry.mails if line.startswith("send renewal_due")]
    assert due_mails == [f"send renewal_due to {scene.emails['due']}: Trettio AB"]


def test_r11_dry_run_previews_access_removal_and_cancels_the_stale_reminder(app, runner, scene):
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    assert f"access_removed: {who(app, scene.removed)}: active -> inactive" in dry.changes
    assert not any("Utgången AB" in line for line in dry.changes if line.startswith("reminder"))
    assert (
        f"cancel access_removal to {scene.emails['removed']}: Utgången AB [access_removed]"
        in dry.mails
    )
    real = parse(tick(runner, "--today", D_TEXT).output)
    assert (
        f"cancel access_removal to {scene.emails['removed']}: Utgången AB [access_removed]"
        in real.mails
    )
    with in_app(app):
        assert db.session.get(Customer, scene.removed).status == CustomerStatus.INACTIVE


def test_r11_a_customer_delayed_and_removed_in_one_run_is_previewed_both_ways(app, runner, scene):
    """Delayed first (R4), then access removed (R11): the preview sees the status the
    delay would leave, as the run does."""
    new_pa(app, scene_sales(app, scene), scene.removed)
    dry = parse(tick(runner, "--today", D_TEXT, "--dry-run").output)
    real = parse(tick(runner, "--today", D_TEXT).output)
    assert dry.changes == real.changes
    assert f"delay: {who(app, scene.removed)}: active -> delayed" in dry.changes
    assert f"access_removed: {who(app, scene.removed)}: delayed -> inactive" in dry.changes
    assert dry.mails == [OUTCOME.sub("", line) for line in real.mails]


def scene_sales(app, s: Scene) -> int:
    with in_app(app):
        reseller_id = db.session.get(Customer, s.invited).reseller_id
        return db.session.scalar(
            select(User.id).where(User.reseller_id == reseller_id, User.role == Role.RESELLER_SALES)
        )


# --- a job that missed days ----------------------------------------------------------------


def test_r10_a_job_that_missed_days_previews_only_the_still_relevant_reminder(app, runner, tenants):
    """The job ran on D0 and then not for ten days. The customer's anniversary was 15
    days before D0 (renewal_missed sent then); ten days on it is 25 days behind: only
    access_removal is due. A second customer had nothing sent: its anniversary is 5 days
    ahead of D0, and ten days on only renewal_missed, never the stale renewal_due."""
    d0 = date(2027, 1, 20)
    for tenant in (tenants.a, tenants.b):
        set_rows(
            app,
            PurchaseAuthorization,
            tenant.authorization.id,
            status=AuthorizationStatus.CANCELLED,
        )
    behind = new_customer(
        app,
        tenants.a.admin.id,
        "Bakom AB",
        "it@bakom.example",
        status=CustomerStatus.ACTIVE,
        anniversary_date=d0 - timedelta(15),
    )
    first = tick(runner, "--today", d0.isoformat())
    assert first.exit_code == 0, first.output
    assert parse(first.output).changes == [
        f"reminder renewal_missed to it@bakom.example [sv]: {who(app, behind)}"
    ]
    ahead = new_customer(
        app,
        tenants.a.admin.id,
        "Framför AB",
        "it@framfor.example",
        status=CustomerStatus.ACTIVE,
        anniversary_date=d0 + timedelta(5),
    )

    later = (d0 + timedelta(10)).isoformat()
    before = snapshot(app)
    dry = parse(tick(runner, "--today", later, "--dry-run").output)
    assert snapshot(app) == before
    assert dry.changes == [
        f"reminder access_removal to it@bakom.example [sv]: {who(app, behind)}",
        f"reminder renewal_missed to it@framfor.example [sv]: {who(app, ahead)}",
    ]
    assert dry.mails == [
        "send access_removal to it@bakom.example: Bakom AB",
        "send renewal_missed to it@framfor.example: Framför AB",
    ]
    real = parse(tick(runner, "--today", later).output)
    assert dry.changes == real.changes
    assert dry.mails == [OUTCOME.sub("", line) for line in real.mails]


# --- no lasting lock -----------------------------------------------------------------------


def test_the_preview_leaves_no_transaction_and_no_lock(app, scene):
    """On SQLite the job's transactions begin IMMEDIATE (the write lock): the preview reads
    in a session of its own, deferred, and ends it before it returns; it begins nothing in
    the caller's session, so a second writer can commit at once."""
    expected = expected_changes(app, scene)
    with app.test_request_context():
        try:
            days = job.resellers_by_local_date(D)
            db.session.rollback()  # the caller's own read, ended before the preview
            preview = job.preview_tick(days=days, now=datetime.now(UTC), send=True)
            assert [c.describe() for c in preview.deadlines.changes] == expected
            assert not db.session().in_transaction()
            if db.engine.dialect.name == "sqlite":
                path = db.engine.url.database
                other = sqlite3.connect(path, timeout=0, isolation_level=None)
                try:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute(
                        "UPDATE customers SET company_name = company_name || '.' WHERE id = ?",
                        (scene.late,),
                    )
                    other.execute("COMMIT")
                finally:
                    other.close()
            else:
                with db.engine.connect() as other:
                    other.exec_driver_sql("SET lock_timeout = '200ms'")
                    other.execute(
                        update(Customer)
                        .where(Customer.id == scene.late)
                        .values(company_name=Customer.company_name + ".")
                    )
                    other.commit()
        finally:
            db.session.remove()
    with in_app(app):
        assert db.session.get(Customer, scene.late).company_name == "Sen AB."


# --- property: the preview is what the run does --------------------------------------------

STATUSES = list(CustomerStatus)
PROPERTY_NOW = datetime.now(UTC)
KINDS = ("renewal_due", "renewal_missed", "access_removal")
_serial = itertools.count(1)


@st.composite
def customer_plans(draw):
    status = draw(st.sampled_from(STATUSES))
    return {
        "status": status,
        "before_delay": draw(
            st.sampled_from([None, CustomerStatus.ACTIVE, CustomerStatus.INVITED])
            if status == CustomerStatus.DELAYED
            else st.just(None)
        ),
        # days from the run's date; None: never ordered
        "anniversary": draw(st.one_of(st.none(), st.integers(-45, 45))),
        # (order-due date relative to the run's date, status)
        "pas": draw(
            st.lists(
                st.tuples(st.integers(-20, 5), st.sampled_from(list(AuthorizationStatus))),
                max_size=3,
            )
        ),
        # mails already in the outbox: (kind, of the current cycle?, status, next attempt)
        "mails": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(("invitation", *KINDS)),
                    st.booleans(),
                    st.sampled_from(
                        [
                            NotificationStatus.SENT,
                            NotificationStatus.QUEUED,
                            NotificationStatus.FAILED,
                        ]
                    ),
                    st.sampled_from([None, "past", "future"]),
                ),
                unique_by=lambda mail: (mail[0], mail[1]),
                max_size=3,
            )
        ),
        "vip_admin": draw(st.sampled_from([None, "sv", "en", "inactive"])),
        "language": draw(st.sampled_from(["sv", "en"])),
    }


def build_portfolio(plans: list[dict], today: date, now: datetime) -> int:
    """A new reseller per example with the planned customers, written directly."""
    n = next(_serial)
    reseller = Reseller(name=f"Property {n} AB", country="SE", time_zone="Europe/Stockholm")
    db.session.add(reseller)
    db.session.flush()
    for i, plan in enumerate(plans):
        anniversary = (
            None if plan["anniversary"] is None else today + timedelta(plan["anniversary"])
        )
        customer = Customer(
            reseller_id=reseller.id,
            company_name=f"P{n} Kund {i}",
            country="SE",
            market_segment=MarketSegment.COMMERCIAL,
            admin_name="Admin",
            admin_email=f"it{i}@p{n}.example",
            admin_language=plan["language"],
            vip_id=f"9{n:05d}{i:04d}",
            status=plan["status"],
            status_before_delay=plan["before_delay"],
            anniversary_date=anniversary,
        )
        db.session.add(customer)
        db.session.flush()
        for j, (due, pa_status) in enumerate(plan["pas"]):
            db.session.add(
                PurchaseAuthorization(
                    number=f"PA-{(n * 40 + i * 4 + j) % 1_000_000:06d}",
                    customer_id=customer.id,
                    license_type=LicenseType.TEAM,
                    deployment_date=today + timedelta(due - 14),
                    status=pa_status,
                    created_on=today + timedelta(due - 14),
                    order_due_on=today + timedelta(due),
                )
            )
        for kind, current, status, when in plan["mails"]:
            if kind == "invitation":
                cycle = f"invitation:{customer.id}:{current}"
            elif current and anniversary is not None:
                cycle = anniversary.isoformat()
            else:
                # a cycle long gone (two distinct ones when there is no anniversary)
                cycle = (today - timedelta(400 + current)).isoformat()
            db.session.add(
                Notification(
                    customer_id=customer.id,
                    kind=kind,
                    cycle_key=cycle,
                    recipient=customer.admin_email,
                    language="sv",
                    subject=kind,
                    body_text="-",
                    body_html="-",
                    status=status,
                    attempts=0 if status == NotificationStatus.QUEUED else 1,
                    next_attempt_at=None
                    if when is None
                    else now + (timedelta(days=1) if when == "future" else -timedelta(hours=1)),
                )
            )
        if plan["vip_admin"] is not None:
            vip_admin = User(
                email=f"vip{i}@p{n}.example",
                name="VIP",
                password_hash="-",
                role=Role.VIP_ADMIN,
                language="sv" if plan["vip_admin"] == "inactive" else plan["vip_admin"],
                active=plan["vip_admin"] != "inactive",
            )
            db.session.add(vip_admin)
            db.session.flush()
            db.session.add(VipAdminCustomer(user_id=vip_admin.id, customer_id=customer.id))
    db.session.commit()
    return reseller.id


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(customer_plans(), min_size=1, max_size=6),
    day_offset=st.integers(0, 400),
)
def test_r4_r10_r11_preview_describes_what_apply_then_does(app, plans, day_offset):
    """Each example is a fresh reseller in the one test database: its own customers,
    authorizations, mails and VIP admins, so examples never see each other (the mail an
    example leaves queued waits for a retry time that never comes: `now` is fixed)."""
    today = TODAY + timedelta(day_offset)
    now = PROPERTY_NOW
    with app.test_request_context(base_url="http://localhost"):
        try:
            reseller_id = build_portfolio(plans, today, now)
            written = (
                db.session.scalar(select(func.count()).select_from(Notification)),
                db.session.scalar(select(func.count()).select_from(AuditEvent)),
            )
            preview = preview_deadlines(today=today, reseller_ids=[reseller_id])
            db.session.rollback()
            assert written == (
                db.session.scalar(select(func.count()).select_from(Notification)),
                db.session.scalar(select(func.count()).select_from(AuditEvent)),
            )
            tick = job.preview_tick(days={today: [reseller_id]}, now=now, send=True)
            # The Outbox's bounded preview: the full preview's first items, exact totals.
            for shown in (1, 2, 3, 100):
                bounded = job.bounded_preview(days={today: [reseller_id]}, now=now, shown=shown)
                assert bounded.deadlines.changes == tick.deadlines.changes[:shown]
                assert bounded.changes_total == len(tick.deadlines.changes)
                assert bounded.more_changes == len(tick.deadlines.changes[shown:])
                assert bounded.deliveries == tick.deliveries[:shown]
                assert bounded.deliveries_total == len(tick.deliveries)
                assert bounded.more_deliveries == len(tick.deliveries[shown:])
            applied = apply_deadlines(today=today, reseller_ids=[reseller_id])
            delivered = job.deliver_mail(days={today: [reseller_id]}, now=now)

            assert [c.describe() for c in preview.changes] == [
                c.describe() for c in applied.changes
            ]
            assert preview.changes == applied.changes
            assert (
                preview.delayed,
                preview.delay_cleared,
                preview.access_removed,
                preview.reminders,
            ) == (applied.delayed, applied.delay_cleared, applied.access_removed, applied.reminders)
            db.session.expire_all()
            statuses = dict(
                db.session.execute(
                    select(Customer.id, Customer.status).where(Customer.reseller_id == reseller_id)
                ).all()
            )
            assert preview.statuses_after == {
                c.customer_id: statuses[c.customer_id]
                for c in applied.changes
                if c.action != "reminder_queued"
            }
            # The whole tick: the same changes, the same mails but for how a send went
            # (a cancelled one says why in both).
            assert tick.deadlines.changes == applied.changes
            assert [step.describe() for step in tick.deliveries] == [
                (replace(step, outcome=None) if step.action == outbox.SEND else step).describe()
                for step in delivered.steps
            ]
            # The run is idempotent, and its preview says so.
            assert preview_deadlines(today=today, reseller_ids=[reseller_id]).changes == []
        finally:
            db.session.remove()
