"""S24/S25 with real processes: two `vip tick` commands started at the same moment, and a
tick killed with SIGKILL while it talks to the mail server, then run again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import TODAY
from vip.extensions import db
from vip.models import AuditEvent, Customer, CustomerStatus, Notification, NotificationStatus

ROOT = Path(__file__).resolve().parents[2]


def _database_url(app) -> str:
    """The test database as an URL a new process can use (PostgreSQL: with the schema)."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options")
    if options:
        url = url.update_query_dict({"options": options})
    return url.render_as_string(hide_password=False)


def _environment(app, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "VIP_"))}
    env.update(
        DATABASE_URL=_database_url(app),
        SECRET_KEY="test-secret-key",
        VIP_OUTBOX_DIR=app.config["VIP_OUTBOX_DIR"],
        FLASK_APP="app",
    )
    env.update(extra)
    return env


def _tick(app, *args, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "vip", "tick", *args],
        cwd=ROOT,
        env=_environment(app, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def due_world(app, tenants):
    """Both customers with a reminder due on TODAY, plus 30 other queued mails."""
    with app.app_context():
        for tenant in (tenants.a, tenants.b):
            customer = db.session.get(Customer, tenant.customer.id)
            customer.status = CustomerStatus.ACTIVE
            customer.anniversary_date = TODAY + timedelta(days=10)
        for number in range(30):
            db.session.add(
                Notification(
                    customer_id=tenants.a.customer.id,
                    kind="notice",
                    cycle_key=f"n{number}",
                    recipient=f"person{number}@example.com",
                    language="sv",
                    subject=f"Notice {number}",
                    body_text="Hej",
                    body_html="<p>Hej</p>",
                    status=NotificationStatus.QUEUED,
                    attempts=0,
                )
            )
        db.session.commit()
        db.session.remove()
    return tenants


def _all_mail(app) -> list[Notification]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Notification)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_s24_two_tick_processes_at_once_queue_and_send_each_mail_once(app, due_world):
    runs = [_tick(app, "--today", TODAY.isoformat()) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    mails = _all_mail(app)
    reminders = [m for m in mails if m.kind == "renewal_due"]
    assert len(reminders) == 2  # one per customer, not one per process
    assert all(m.status == NotificationStatus.SENT and m.attempts == 1 for m in mails)
    files = sorted(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == len(mails)  # each mail written once
    with app.app_context():
        queued_audits = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "reminder.queued")
        )
        db.session.remove()
    assert queued_audits == 2


@pytest.fixture
def silent_mail_server():
    """Accepts connections and never answers: an SMTP client hangs in its greeting."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def test_s25_a_tick_killed_mid_send_loses_no_mail_and_repeats_none(
    app, due_world, silent_mail_server
):
    run = _tick(
        app,
        "--today",
        TODAY.isoformat(),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(silent_mail_server),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until it has claimed the first mail
        if any(m.next_attempt_at is not None for m in _all_mail(app)):
            break
        time.sleep(0.2)
    else:
        run.kill()
        pytest.fail("the tick never claimed a mail")
    time.sleep(0.5)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    mails = _all_mail(app)
    assert all(m.status == NotificationStatus.QUEUED for m in mails)  # nothing lost
    claimed = [m for m in mails if m.next_attempt_at is not None]
    assert len(claimed) == 1  # the one in flight, under its lease
    # The lease ends (10 minutes later), and the next run delivers everything once.
    with app.app_context():
        db.session.execute(
            sa.update(Notification).values(next_attempt_at=datetime.now(UTC) - timedelta(1))
        )
        db.session.commit()
        db.session.remove()
    rerun = _tick(app, "--today", TODAY.isoformat())
    output = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 0, output
    mails = _all_mail(app)
    assert all(m.status == NotificationStatus.SENT and m.attempts == 1 for m in mails)
    files = sorted(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == len(mails)
