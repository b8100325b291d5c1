"""`flask vip tick` and `flask vip send-mail` (section 5): the counts it prints, S24 (a
second run, or two at once, queues and sends each mail once), delivery as .eml files or
through a real SMTP server (aiosmtpd), retries with backoff and the exit status, S20 (no
header injection), and S25 (a run killed between sending and marking loses no mail and
repeats only the one in flight, once its lease ends).

Not covered here: two `flask vip tick` *processes* at once on PostgreSQL. The test schema
is reached through SQLALCHEMY_ENGINE_OPTIONS (search_path), which a subprocess reading
DATABASE_URL cannot be given; the thread tests below run the same code on two
connections instead."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import CONSULTANT, TODAY
from tests.support import in_app
from vip import mail
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    Notification,
    NotificationStatus,
    User,
)
from vip.services import outbox
from vip.services.customers import create_customer

TICK_DAY = "2026-12-15"
AD_A = date(2026, 12, 20)  # tenant a: renewal_due on the tick day (English VIP admin)
AD_B = date(2026, 12, 10)  # tenant b: renewal_missed on the tick day (Swedish VIP admin)
AD_GONE = date(2026, 11, 10)  # a third customer: 35 days after, access removed
REMINDER_KINDS = ("renewal_due", "renewal_missed", "access_removal")
SENDER = "no-reply@reseller.example"
NOW = datetime(2026, 12, 15, 6, 0, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------


def tick(runner, *args):
    return runner.invoke(args=["vip", "tick", *args])


def send_mail(runner):
    return runner.invoke(args=["vip", "send-mail"])


def mails(app) -> list[dict]:
    with in_app(app):
        return [
            {
                "id": n.id,
                "customer_id": n.customer_id,
                "kind": n.kind,
                "cycle_key": n.cycle_key,
                "recipient": n.recipient,
                "subject": n.subject,
                "status": n.status,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "next_attempt_at": n.next_attempt_at,
                "sent_at": n.sent_at,
            }
            for n in db.session.scalars(select(Notification).order_by(Notification.id))
        ]


def counts(app) -> dict[str, int]:
    with in_app(app):
        return {
            "notifications": db.session.scalar(select(func.count()).select_from(Notification)),
            "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
            "sent": db.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.status == NotificationStatus.SENT)
            ),
        }


def eml_files(app) -> list[Path]:
    return sorted(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(message) -> tuple[str, str]:
    """The text and HTML alternatives of a mail."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def move_retries_into_the_past(app) -> None:
    with in_app(app):
        db.session.execute(
            update(Notification)
            .where(Notification.status == NotificationStatus.QUEUED)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()


@pytest.fixture
def world(app, tenants):
    """On 2026-12-15: tenant a's customer is due to renew (English VIP admin), tenant b's
    has missed its anniversary (Swedish VIP admin), both have the fixture's authorization
    overdue (created 2026-11-29), and a third customer of tenant a loses access. Three
    invitation mails are queued already."""
    with in_app(app):
        for customer_id, anniversary in (
            (tenants.a.customer.id, AD_A),
            (tenants.b.customer.id, AD_B),
        ):
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(status=CustomerStatus.ACTIVE, anniversary_date=anniversary)
            )
        db.session.execute(
            update(User).where(User.id == tenants.a.vip_admin.id).values(language="en")
        )
        db.session.execute(
            update(User).where(User.id == tenants.b.vip_admin.id).values(language="sv")
        )
        gone = create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Utgången AB",
            country="SE",
            market_segment="commercial",
            admin_name="Ove Utgång",
            admin_email="ove@utgangen.example",
            admin_language="sv",
        )
        gone.status = CustomerStatus.ACTIVE
        gone.anniversary_date = AD_GONE
        db.session.commit()
        gone_id = gone.id
    return {"a": tenants.a, "b": tenants.b, "gone": gone_id}


COUNT_LINES = re.compile(
    r"Försenad: (\d+) set, (\d+) cleared\.\n"
    r"Access removed: (\d+)\.\n"
    r"Reminders queued, renewal_due: (\d+)\.\n"
    r"Reminders queued, renewal_missed: (\d+)\.\n"
    r"Reminders queued, access_removal: (\d+)\.\n"
)
MAIL_LINE = re.compile(r"Mail: (\d+) sent, (\d+) to retry, (\d+) failed, \d+ no longer relevant\.")


def printed_counts(output: str) -> tuple[int, ...]:
    found = COUNT_LINES.search(output)
    assert found, output
    return tuple(map(int, found.groups()))


def mail_line(output: str) -> tuple[int, int, int]:
    found = MAIL_LINE.search(output)
    assert found, output
    return tuple(map(int, found.groups()))


# --- vip tick --no-send --------------------------------------------------------------------


def test_tick_no_send_applies_the_rules_and_queues_the_reminders(app, runner, world):
    result = tick(runner, "--today", TICK_DAY, "--no-send")
    assert result.exit_code == 0, result.output
    delayed, cleared, removed, *_ = printed_counts(result.output)
    assert (delayed, cleared, removed) == (2, 0, 1)
    assert "Mail: not sent (--no-send)." in result.output

    queued = [m for m in mails(app) if m["kind"] in REMINDER_KINDS]
    assert sorted((m["customer_id"], m["kind"], m["cycle_key"]) for m in queued) == sorted(
        [
            (world["a"].customer.id, "renewal_due", AD_A.isoformat()),
            (world["b"].customer.id, "renewal_missed", AD_B.isoformat()),
        ]
    )
    assert all(m["status"] == NotificationStatus.QUEUED and m["attempts"] == 0 for m in mails(app))
    assert eml_files(app) == []
    with in_app(app):
        statuses = dict(db.session.execute(select(Customer.id, Customer.status)).all())
    assert statuses == {
        world["a"].customer.id: CustomerStatus.DELAYED,
        world["b"].customer.id: CustomerStatus.DELAYED,
        world["gone"]: CustomerStatus.INACTIVE,
    }


def test_tick_prints_the_reminders_it_queued(app, runner, world):
    result = tick(runner, "--today", TICK_DAY, "--no-send")
    assert result.exit_code == 0, result.output
    assert printed_counts(result.output) == (2, 0, 1, 1, 1, 0)


def test_s24_tick_twice_queues_nothing_new(app, runner, world):
    first = tick(runner, "--today", TICK_DAY, "--no-send")
    assert first.exit_code == 0, first.output
    before = counts(app)
    rows = mails(app)
    second = tick(runner, "--today", TICK_DAY, "--no-send")
    assert second.exit_code == 0, second.output
    assert printed_counts(second.output) == (0, 0, 0, 0, 0, 0)
    assert counts(app) == before
    assert mails(app) == rows


def test_tick_without_today_uses_the_apps_today(app, runner, world):
    # VIP_TODAY is 2026-11-29 in tests: both anniversaries are within 30 days ahead.
    result = tick(runner, "--no-send")
    assert result.exit_code == 0, result.output
    queued = {(m["customer_id"], m["kind"]) for m in mails(app) if m["kind"] in REMINDER_KINDS}
    assert queued == {
        (world["a"].customer.id, "renewal_due"),  # 21 days ahead
        (world["b"].customer.id, "renewal_due"),  # 11 days ahead
        (world["gone"], "renewal_missed"),  # 19 days behind
    }


@pytest.mark.parametrize("bad", ["2026-13-01", "15/12/2026", "tomorrow", "2026-02-30"])
def test_tick_refuses_a_bad_today_as_a_usage_error(app, runner, world, bad):
    before = counts(app)
    result = tick(runner, "--today", bad, "--no-send")
    assert result.exit_code == 2, result.output
    assert "--today" in result.output and "YYYY-MM-DD" in result.output
    assert counts(app) == before


@pytest.mark.parametrize("command", [("tick",), ("tick", "--dry-run")], ids=["tick", "dry-run"])
@pytest.mark.parametrize("bad", ["9999-12-31", "0001-01-01", "1999-12-31", "3000-01-01"])
def test_s37_row14_a_day_beyond_the_supported_dates_is_a_one_line_error(
    app, runner, world, command, bad
):
    """`vip tick --today 9999-12-31` ended in a traceback (issue 15, row 14)."""
    before = counts(app)
    result = tick(runner, *command, "--today", bad, "--no-send")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: --today:") and bad in lines[0]
    assert "2000-01-01 to 2999-12-31" in lines[0]
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert counts(app) == before


@pytest.mark.parametrize("edge", ["2000-01-01", "2999-12-31"])
def test_s37_row14_the_first_and_last_supported_days_run(app, runner, world, edge):
    result = tick(runner, "--today", edge, "--no-send")
    assert result.exit_code == 0, result.output


# --- delivery as .eml files ----------------------------------------------------------------


def test_tick_writes_eml_files_and_marks_them_sent(app, runner, world):
    started = datetime.now(UTC)
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 0, result.output
    rows = mails(app)
    assert len(rows) == 5  # three invitations, two reminders
    assert mail_line(result.output) == (5, 0, 0)
    files = eml_files(app)
    assert [f.name for f in files] == [f"{m['id']:08d}-{m['kind']}.eml" for m in rows]
    for row, path in zip(rows, files, strict=True):
        assert row["status"] == NotificationStatus.SENT
        assert row["attempts"] == 1 and row["last_error"] is None
        assert started <= row["sent_at"] <= datetime.now(UTC)
        message = parse(path.read_bytes())
        assert message["To"] == row["recipient"]
        assert message["Subject"] == row["subject"]
        assert SENDER in message["From"]
        text, html = parts(message)
        assert text.strip() and "<html" in html
    assert not list(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.tmp"))

    # A second delivery run finds nothing to send and writes nothing.
    stamps = {f: f.stat().st_mtime_ns for f in files}
    again = send_mail(runner)
    assert again.exit_code == 0, again.output
    assert mail_line(again.output) == (0, 0, 0)
    assert {f: f.stat().st_mtime_ns for f in eml_files(app)} == stamps
    again = tick(runner, "--today", TICK_DAY)
    assert again.exit_code == 0 and mail_line(again.output) == (0, 0, 0)


def test_send_mail_delivers_what_a_no_send_tick_queued(app, runner, world):
    assert tick(runner, "--today", TICK_DAY, "--no-send").exit_code == 0
    assert eml_files(app) == []
    result = send_mail(runner)
    assert result.exit_code == 0, result.output
    assert mail_line(result.output) == (5, 0, 0)
    assert len(eml_files(app)) == 5
    assert all(m["status"] == NotificationStatus.SENT for m in mails(app))


# --- delivery through SMTP -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps every envelope and refuses chosen recipients."""

    def __init__(self):
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, port: int):
        self.port = port
        self.handler = Recorder()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def envelopes(self):
        return list(self.handler.envelopes)


@pytest.fixture
def smtp_server(app):
    """An SMTP server on a free port the app is configured for, not yet started."""
    server = SMTPServer(free_port())
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.start()
    return smtp_server


def test_tick_sends_through_smtp_in_each_admins_language(
    app, runner, world, smtp, compiled_translations
):
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 0, result.output
    assert mail_line(result.output) == (5, 0, 0)
    assert eml_files(app) == []
    rows = mails(app)
    assert all(m["status"] == NotificationStatus.SENT and m["attempts"] == 1 for m in rows)
    assert len(smtp.envelopes) == 5
    assert sorted(r for _, rcpts, _ in smtp.envelopes for r in rcpts) == sorted(
        m["recipient"] for m in rows
    )
    assert all(mail_from == SENDER for mail_from, _, _ in smtp.envelopes)

    # Tenant a: the VIP admin user prefers English, the customer's contact Swedish. The
    # invitation and the reminder went to the same address.
    messages_a = [
        parse(raw) for _, rcpts, raw in smtp.envelopes if world["a"].customer.admin_email in rcpts
    ]
    assert len(messages_a) == 2
    due = next(m for m in messages_a if m["X-VIP-Notification"].startswith("renewal_due:"))
    assert due["To"] == world["a"].customer.admin_email
    assert due["Subject"] == "Time to renew: a Kund AB's VIP anniversary is December 20, 2026"
    text, html = parts(due)
    for body in (text, html):
        assert "Hello a It," in body
        assert "December 20, 2026" in body
        assert world["a"].customer.vip_id in body
    # The link opens this customer's console (a VIP admin may administer several).
    console = f"http://localhost/console/{world['a'].customer.id}"
    assert f"{console}\r\n" in text and f'href="{console}"' in html

    # Tenant b: Swedish, and the missed-renewal mail names the removal date.
    messages_b = [
        parse(raw) for _, rcpts, raw in smtp.envelopes if world["b"].customer.admin_email in rcpts
    ]
    missed = next(m for m in messages_b if m["X-VIP-Notification"].startswith("renewal_missed:"))
    assert missed["Subject"] == (
        "Förlängningen har missats: VIP-årsdagen för b Kund AB var 10 december 2026"
    )
    text, html = parts(missed)
    for body in (text, html):
        assert "Hej b It," in body
        assert "10 december 2026" in body and "9 januari 2027" in body
        assert "Hello" not in body and "December" not in body

    # Sending again delivers nothing.
    again = send_mail(runner)
    assert again.exit_code == 0 and mail_line(again.output) == (0, 0, 0)
    assert len(smtp.envelopes) == 5


def test_s25_smtp_down_then_up_retries_without_loss_or_duplicates(app, runner, world, smtp_server):
    started = datetime.now(UTC)
    result = tick(runner, "--today", TICK_DAY)  # nothing listens on the port yet
    finished = datetime.now(UTC)
    assert result.exit_code == 1, result.output
    assert mail_line(result.output) == (0, 5, 0)
    rows = mails(app)
    assert len(rows) == 5
    for row in rows:  # committed before sending, and still queued
        assert row["status"] == NotificationStatus.QUEUED
        assert row["attempts"] == 1
        assert "ConnectionRefusedError" in row["last_error"]
        assert row["sent_at"] is None
        # The first retry is 2 minutes after the run's start.
        assert started + timedelta(minutes=2) <= row["next_attempt_at"]
        assert row["next_attempt_at"] <= finished + timedelta(minutes=2)

    # Before the retry time, a delivery run leaves them alone, even with the server up.
    smtp_server.start()
    early = send_mail(runner)
    assert mail_line(early.output) == (0, 0, 0)
    assert smtp_server.envelopes == []
    assert [m["attempts"] for m in mails(app)] == [1] * 5

    move_retries_into_the_past(app)
    result = send_mail(runner)
    assert result.exit_code == 0, result.output
    assert mail_line(result.output) == (5, 0, 0)
    delivered = sorted(r for _, rcpts, _ in smtp_server.envelopes for r in rcpts)
    assert delivered == sorted(m["recipient"] for m in rows)
    ids = sorted(
        int(parse(raw)["X-VIP-Notification"].split(":")[1]) for *_, raw in smtp_server.envelopes
    )
    assert ids == [m["id"] for m in rows]  # each mail once
    for row in mails(app):
        assert row["status"] == NotificationStatus.SENT
        assert row["attempts"] == 2 and row["last_error"] is None

    assert mail_line(send_mail(runner).output) == (0, 0, 0)
    assert len(smtp_server.envelopes) == 5


@pytest.mark.parametrize("app_config", [{"VIP_MAIL_MAX_ATTEMPTS": 4}])
def test_s25_backoff_doubles_and_gives_up_at_the_maximum(app, world, smtp_server):
    """2, 4, 8 minutes between attempts; the fourth failure marks the mail failed."""
    with in_app(app):
        only = db.session.scalar(select(Notification.id).order_by(Notification.id).limit(1))
        db.session.execute(
            update(Notification)
            .where(Notification.id != only)
            .values(status=NotificationStatus.CANCELLED)
        )
        db.session.commit()

    def attempt(at: datetime):
        with in_app(app):
            return outbox.deliver_queued(now=at)

    def state():
        [row] = [m for m in mails(app) if m["id"] == only]
        return row["attempts"], row["status"], row["next_attempt_at"]

    t = NOW
    report = attempt(t)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    assert state() == (1, NotificationStatus.QUEUED, t + timedelta(minutes=2))
    for wait, attempts_after, next_wait in ((2, 2, 4), (4, 3, 8)):
        early = attempt(t + timedelta(minutes=wait) - timedelta(seconds=1))
        assert (early.sent, early.retrying, early.failed) == (0, 0, 0)
        t += timedelta(minutes=wait)
        report = attempt(t)
        assert (report.retrying, report.failed) == (1, 0)
        assert state() == (
            attempts_after,
            NotificationStatus.QUEUED,
            t + timedelta(minutes=next_wait),
        )
    t += timedelta(minutes=8)
    report = attempt(t)
    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    assert state() == (4, NotificationStatus.FAILED, None)
    report = attempt(t + timedelta(days=1))
    assert (report.sent, report.retrying, report.failed) == (0, 0, 0)
    assert state()[0] == 4


@pytest.mark.parametrize("app_config", [{"VIP_MAIL_MAX_ATTEMPTS": 1}])
def test_s25_send_mail_exits_non_zero_when_mail_failed(app, runner, world, smtp_server):
    result = send_mail(runner)
    assert result.exit_code == 1, result.output
    assert mail_line(result.output) == (0, 0, 3)
    assert all(m["status"] == NotificationStatus.FAILED for m in mails(app))


def test_s25_one_refused_recipient_does_not_block_the_others(app, runner, world, smtp):
    refused = world["a"].customer.admin_email
    smtp.handler.refuse.add(refused)
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 1, result.output
    assert mail_line(result.output) == (3, 2, 0)  # a's invitation and reminder wait
    for row in mails(app):
        if row["recipient"] == refused:
            assert row["status"] == NotificationStatus.QUEUED and row["attempts"] == 1
            assert "SMTPRecipientsRefused" in row["last_error"] and "550" in row["last_error"]
        else:
            assert row["status"] == NotificationStatus.SENT
    delivered = sorted(r for _, rcpts, _ in smtp.envelopes for r in rcpts)
    assert refused not in delivered and len(delivered) == 3

    # The mailbox comes back: the two waiting mails go out once, the rest not again.
    smtp.handler.refuse.clear()
    move_retries_into_the_past(app)
    result = send_mail(runner)
    assert result.exit_code == 0 and mail_line(result.output) == (2, 0, 0)
    delivered = sorted(r for _, rcpts, _ in smtp.envelopes for r in rcpts)
    assert delivered == sorted(m["recipient"] for m in mails(app))


# --- S20: no header injection --------------------------------------------------------------

INJECTION = "\r\nBcc: evil@example.com"


def _inject(app, customer_id: int, **values) -> None:
    with in_app(app):
        db.session.execute(update(Customer).where(Customer.id == customer_id).values(**values))
        db.session.commit()


def test_s20_names_with_crlf_cannot_add_headers(app, runner, world, smtp):
    customer = world["a"].customer
    _inject(
        app,
        customer.id,
        company_name="Ond AB" + INJECTION,
        admin_name="Maja" + INJECTION + "\nX-Injected: yes",
    )
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 0, result.output
    reminder = next(
        m for m in mails(app) if m["customer_id"] == customer.id and m["kind"] == "renewal_due"
    )
    assert reminder["status"] == NotificationStatus.SENT
    assert "\r" not in reminder["subject"] and "\n" not in reminder["subject"]
    for _, recipients, raw in smtp.envelopes:
        assert "evil@example.com" not in recipients
        message = parse(raw)
        assert message["Bcc"] is None and message["X-Injected"] is None
        assert len(message.get_all("To")) == 1 and "evil" not in message["To"]
        assert "\n" not in message["Subject"]
    [(_, recipients, raw)] = [
        e for e in smtp.envelopes if "renewal_due:" in parse(e[2])["X-VIP-Notification"]
    ]
    assert recipients == [customer.admin_email]
    assert parse(raw)["Subject"].startswith("Time to renew: Ond AB Bcc: evil@example.com")


def test_s20_names_with_crlf_cannot_add_headers_to_eml_files(app, runner, world):
    _inject(app, world["a"].customer.id, company_name="Ond AB" + INJECTION)
    assert tick(runner, "--today", TICK_DAY).exit_code == 0
    for path in eml_files(app):
        message = parse(path.read_bytes())
        assert message["Bcc"] is None
        assert len(message.get_all("To")) == 1


def test_s20_an_address_with_crlf_is_never_sent_and_others_are(app, runner, world, smtp):
    bad = world["a"].customer.admin_email + INJECTION
    _inject(app, world["a"].customer.id, admin_email=bad)
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 1, result.output
    [reminder] = [m for m in mails(app) if m["recipient"] == bad]
    assert reminder["kind"] == "renewal_due"
    assert reminder["status"] == NotificationStatus.QUEUED and reminder["attempts"] == 1
    assert "ValueError" in reminder["last_error"]
    recipients = [r for _, rcpts, _ in smtp.envelopes for r in rcpts]
    assert "evil@example.com" not in recipients
    assert len(recipients) == 4  # the three invitations and tenant b's reminder
    assert all(m["status"] == NotificationStatus.SENT for m in mails(app) if m["recipient"] != bad)


# --- S24: exactly once with two delivery runs at once --------------------------------------


def queue_many(app, customer_id: int, n: int) -> list[int]:
    with in_app(app):
        rows = [
            Notification(
                customer_id=customer_id,
                kind="notice",  # not a reminder: always deliverable, whatever the dates
                cycle_key=f"2027-01-{day:02d}",
                recipient=f"admin{day}@kund.example",
                language="sv",
                subject=f"Påminnelse {day}",
                body_text="Hej",
                body_html="<p>Hej</p>",
                status=NotificationStatus.QUEUED,
                attempts=0,
            )
            for day in range(1, n + 1)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def _cancel_all_mail(app) -> None:
    with in_app(app):
        db.session.execute(update(Notification).values(status=NotificationStatus.CANCELLED))
        db.session.commit()


def two_delivery_runs_at_once(app, monkeypatch, *, lockstep: bool) -> list:
    """Two threads run deliver_queued together. With `lockstep`, neither claims a mail
    before both have read the list of due mail: each mail is then contested, and only the
    claim (a conditional UPDATE) decides who sends it."""
    start = threading.Barrier(2)
    listed = threading.Barrier(2)
    reports: list = []
    errors: list[BaseException] = []
    first_claim = threading.local()
    real_claim = outbox._claim

    def claim_after_both_listed(notification_id, now):
        if not getattr(first_claim, "done", False):
            first_claim.done = True
            listed.wait(timeout=30)
        return real_claim(notification_id, now)

    if lockstep:
        monkeypatch.setattr(outbox, "_claim", claim_after_both_listed)

    def run():
        try:
            with in_app(app):
                start.wait(timeout=30)
                reports.append(outbox.deliver_queued(now=datetime.now(UTC)))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with in_app(app):
        db.session.remove()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(reports) == 2
    return reports


@pytest.mark.parametrize("lockstep", [True, False], ids=["lockstep", "free"])
def test_s24_two_delivery_runs_at_once_write_each_eml_once(app, tenants, monkeypatch, lockstep):
    _cancel_all_mail(app)
    ids = queue_many(app, tenants.a.customer.id, 20)
    written: list[int] = []

    class SlowFiles(mail.FileTransport):
        """The file transport, slowed down: the window in which another run could take
        the same mail is wide open."""

        def send(self, message, *, name):
            written.append(int(name.split("-")[0]))  # list.append is atomic
            time.sleep(0.01)
            super().send(message, name=name)

    slow = SlowFiles(Path(app.config["VIP_OUTBOX_DIR"]))
    monkeypatch.setattr(outbox, "transport_for", lambda _app: slow)
    reports = two_delivery_runs_at_once(app, monkeypatch, lockstep=lockstep)
    assert sorted(written) == ids  # no mail written twice, none left out
    assert sum(r.sent for r in reports) == 20
    assert len([p for p in eml_files(app) if "notice" in p.name]) == 20
    assert all(
        m["status"] == NotificationStatus.SENT and m["attempts"] == 1
        for m in mails(app)
        if m["id"] in ids
    )


def test_s24_two_delivery_runs_at_once_send_each_mail_once_over_smtp(
    app, tenants, smtp, monkeypatch
):
    _cancel_all_mail(app)
    ids = queue_many(app, tenants.a.customer.id, 20)
    reports = two_delivery_runs_at_once(app, monkeypatch, lockstep=True)
    assert sum(r.sent for r in reports) == 20
    sent_ids = sorted(
        int(parse(raw)["X-VIP-Notification"].split(":")[1]) for *_, raw in smtp.envelopes
    )
    assert sent_ids == ids


# --- S25: a crash between sending and marking ----------------------------------------------


class Crash(BaseException):
    """The process dies: not an Exception, so nothing in the app records it."""


def test_s25_a_crash_after_sending_repeats_only_the_mail_in_flight(app, tenants, monkeypatch):
    _cancel_all_mail(app)
    ids = queue_many(app, tenants.a.customer.id, 5)
    delivered: list[int] = []
    real_deliver = outbox.deliver

    def deliver_then_die_once(notification):
        real_deliver(notification)
        delivered.append(notification.id)
        if len(delivered) == 1:
            raise Crash

    monkeypatch.setattr(outbox, "deliver", deliver_then_die_once)
    t0 = datetime.now(UTC)
    with in_app(app):
        with pytest.raises(Crash):
            outbox.deliver_queued(now=t0)
        db.session.rollback()
    assert delivered == [ids[0]]
    first = next(m for m in mails(app) if m["id"] == ids[0])
    assert first["status"] == NotificationStatus.QUEUED  # the mark never happened
    assert first["next_attempt_at"] == t0 + outbox.LEASE  # but the lease holds it
    assert all(m["attempts"] == 0 for m in mails(app) if m["id"] in ids)

    # A rerun within the lease sends the others once and leaves the one in flight.
    with in_app(app):
        report = outbox.deliver_queued(now=t0 + timedelta(minutes=1))
    assert (report.sent, report.retrying, report.failed) == (4, 0, 0)
    assert delivered == ids

    # After the lease the one in flight is sent again, once; nothing else is.
    with in_app(app):
        report = outbox.deliver_queued(now=t0 + outbox.LEASE + timedelta(seconds=1))
    assert report.sent == 1
    assert delivered == [*ids, ids[0]]
    with in_app(app):
        report = outbox.deliver_queued(now=t0 + timedelta(days=1))
    assert report.sent == 0
    assert sorted(delivered) == sorted([*ids, ids[0]])
    assert all(m["status"] == NotificationStatus.SENT for m in mails(app) if m["id"] in ids)
    assert len([p for p in eml_files(app) if "notice" in p.name]) == 5


def test_s25_a_crash_after_sending_over_smtp_loses_nothing(app, tenants, smtp, monkeypatch):
    _cancel_all_mail(app)
    ids = queue_many(app, tenants.a.customer.id, 4)
    real_deliver = outbox.deliver
    calls: list[int] = []

    def deliver_then_die_once(notification):
        real_deliver(notification)
        calls.append(notification.id)
        if len(calls) == 2:
            raise Crash

    monkeypatch.setattr(outbox, "deliver", deliver_then_die_once)
    t0 = datetime.now(UTC)
    with in_app(app), pytest.raises(Crash):
        outbox.deliver_queued(now=t0)
    monkeypatch.undo()
    with in_app(app):
        assert outbox.deliver_queued(now=t0 + outbox.LEASE).sent == 3
    sent = [int(parse(raw)["X-VIP-Notification"].split(":")[1]) for *_, raw in smtp.envelopes]
    assert sorted(sent) == sorted([*ids, ids[1]])  # every mail, and only the one in flight twice
    assert all(m["status"] == NotificationStatus.SENT for m in mails(app) if m["id"] in ids)


def _row_seen_by_another_connection(notification_id: int) -> bool:
    """Reads through a separate DB-API connection in autocommit (no lock taken)."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT count(*) FROM notifications WHERE id = {int(notification_id)}")
        return cursor.fetchone()[0] == 1
    finally:
        connection.rollback()
        connection.close()


def test_s25_the_outbox_is_committed_before_anything_is_sent(app, runner, world, monkeypatch):
    """When delivery starts, every mail it sends is already a committed row."""
    seen: list[bool] = []
    real_deliver = outbox.deliver

    def check_committed(notification):
        seen.append(_row_seen_by_another_connection(notification.id))
        return real_deliver(notification)

    monkeypatch.setattr(outbox, "deliver", check_committed)
    result = tick(runner, "--today", TICK_DAY)
    assert result.exit_code == 0, result.output
    assert seen == [True] * 5


def _write_from_another_connection(notification_id: int) -> str:
    """Tries a small write on another connection with a half-second lock timeout."""
    if db.engine.dialect.name == "sqlite":
        import sqlite3

        connection = sqlite3.connect(db.engine.url.database, timeout=0.5, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE resellers SET name = name")
            connection.execute("COMMIT")
            return "ok"
        except sqlite3.OperationalError as error:
            return str(error)
        finally:
            connection.close()
    from sqlalchemy import text

    with db.engine.connect() as connection:
        try:
            connection.execute(text("SET LOCAL lock_timeout = '500ms'"))
            connection.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(subject=Notification.subject)
            )
            connection.rollback()
            return "ok"
        except Exception as error:  # noqa: BLE001 - the message is the result
            connection.rollback()
            return str(error)


def test_s26_no_write_lock_is_held_while_a_mail_is_being_sent(app, tenants, monkeypatch):
    _cancel_all_mail(app)
    queue_many(app, tenants.a.customer.id, 2)
    outcomes: list[str] = []
    real_deliver = outbox.deliver

    def deliver_while_someone_writes(notification):
        outcomes.append(_write_from_another_connection(notification.id))
        return real_deliver(notification)

    monkeypatch.setattr(outbox, "deliver", deliver_while_someone_writes)
    with in_app(app):
        report = outbox.deliver_queued(now=datetime.now(UTC))
    assert report.sent == 2
    assert outcomes == ["ok", "ok"]


# --- R10: a reminder that is no longer relevant is never sent -------------------------------


@pytest.mark.parametrize("change", ["renewed", "access-removed"])
def test_r10_a_queued_reminder_is_cancelled_when_it_is_no_longer_relevant(
    app, runner, world, change
):
    result = tick(runner, "--today", TICK_DAY, "--no-send")
    assert result.exit_code == 0, result.output
    customer_id = world["a"].customer.id
    with in_app(app):
        customer = db.session.get(Customer, customer_id)
        if change == "renewed":  # what recording the renewal does to the anniversary
            customer.anniversary_date = date(AD_A.year + 1, AD_A.month, AD_A.day)
        else:
            customer.status = CustomerStatus.INACTIVE
        db.session.commit()
    result = runner.invoke(args=["vip", "send-mail"])
    assert "1 no longer relevant" in result.output, result.output
    stale = [
        m for m in mails(app) if m["customer_id"] == customer_id and m["kind"] in REMINDER_KINDS
    ]
    assert [m["status"] for m in stale] == [NotificationStatus.CANCELLED]
    sent_files = [path.name for path in eml_files(app)]
    assert not any("renewal_due" in name for name in sent_files)
    assert any("renewal_missed" in name for name in sent_files)  # the other one still goes


# --- S55: a VIP admin of two customers gets each customer's reminders (R10) ---------------------


def test_s55_r10_a_vip_admin_of_two_customers_gets_each_customers_reminders(
    app, runner, shared_admin
):
    """One person administers Alfa AB (reseller a, renewal due on the tick day) and Beta
    Oy (reseller b, anniversary passed): two mails, each about its own customer, in the
    account's language, each linking that customer's console; the next run adds none."""
    shared = shared_admin
    with in_app(app):
        for customer_id, anniversary in ((shared.alfa_id, AD_A), (shared.beta_id, AD_B)):
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(status=CustomerStatus.ACTIVE, anniversary_date=anniversary)
            )
        db.session.execute(update(User).where(User.id == shared.user_id).values(language="sv"))
        db.session.commit()
    result = tick(runner, "--today", TICK_DAY, "--no-send")
    assert result.exit_code == 0, result.output
    with in_app(app):
        reminders = {
            n.customer_id: n
            for n in db.session.scalars(
                select(Notification).where(Notification.kind.in_(REMINDER_KINDS))
            )
        }
        assert {cid: (n.kind, n.recipient, n.language) for cid, n in reminders.items()} == {
            shared.alfa_id: ("renewal_due", CONSULTANT, "sv"),
            shared.beta_id: ("renewal_missed", CONSULTANT, "sv"),
        }
        for own, other, reseller in (
            (shared.alfa_id, shared.beta_id, "Reseller A AB"),
            (shared.beta_id, shared.alfa_id, "Reseller B AB"),
        ):
            mail_ = reminders[own]
            names = {shared.alfa_id: "Alfa AB", shared.beta_id: "Beta Oy"}
            for body in (mail_.body_text, mail_.body_html):
                assert names[own] in body and names[other] not in body
                assert f"http://localhost/console/{own}" in body
                assert f"/console/{other}" not in body
                assert reseller in body
            assert names[own] in mail_.subject
    again = tick(runner, "--today", TICK_DAY, "--no-send")
    assert again.exit_code == 0
    assert printed_counts(again.output)[3:] == (0, 0, 0)
