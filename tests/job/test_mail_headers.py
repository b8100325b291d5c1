"""Mail that mail servers accept (issue 13): every kind of mail the job delivers, received
by a real SMTP server (aiosmtpd) and parsed with `email.policy.strict`, has a `Date` of
the moment it was sent, a Message-ID in the domain of VIP_BASE_URL, and the reminders
(RFC 3834) `Auto-Submitted: auto-generated`; the plain-text part stays readable."""

from __future__ import annotations

import email.policy
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import TODAY
from vip.extensions import db
from vip.models import Customer, CustomerStatus, User
from vip.services.customers import create_customer

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "https://vip.example.com"
REMINDERS = {"renewal_due", "renewal_missed", "access_removal"}
#: Every kind of mail there is a template for, and whether it is a reminder.
KINDS = {
    "invitation": False,
    "account_invitation": False,
    "renewal_due": True,
    "renewal_missed": True,
    "access_removal": True,
}
MESSAGE_ID = re.compile(r"<[^<>@\s]+@vip\.example\.com>")


@pytest.fixture
def app_config():
    return {"VIP_BASE_URL": BASE_URL}


class Recorder:
    def __init__(self):
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(app):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield recorder
    controller.stop()


@pytest.fixture
def every_kind_queued(app, tenants, runner):
    """On TODAY: tenant a's customer due to renew, tenant b's past its anniversary, a third
    customer a week from losing access (each also invited on creation), and a new
    reseller whose admin is mailed a set-password link."""
    with app.test_request_context():
        for customer_id, anniversary in (
            (tenants.a.customer.id, TODAY + timedelta(days=10)),
            (tenants.b.customer.id, TODAY - timedelta(days=5)),
        ):
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(status=CustomerStatus.ACTIVE, anniversary_date=anniversary)
            )
        lapsing = create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Förfallen AB",
            country="SE",
            market_segment="commercial",
            admin_name="Åsa Öberg",
            admin_email="asa@forfallen.example",
            admin_language="sv",
        )
        lapsing.status = CustomerStatus.ACTIVE
        lapsing.anniversary_date = TODAY - timedelta(days=25)
        db.session.commit()
        db.session.remove()
    created = runner.invoke(
        args=["vip", "create-reseller", "Ny Återförsäljare AB", "--admin", "ny@ny.example"]
        + ["--invite"]
    )
    assert created.exit_code == 0, created.output
    queued = runner.invoke(args=["vip", "tick", "--no-send"])
    assert queued.exit_code == 0, queued.output


def strict(raw: bytes) -> email.message.EmailMessage:
    """Parsed so that any defect raises, every header and part included."""
    message = BytesParser(policy=email.policy.strict).parsebytes(raw)
    for part in message.walk():
        assert part.defects == []
        for name, value in part.items():
            assert value.defects == (), name
    return message


def test_every_kind_of_mail_has_the_kinds_to_test():
    templates = {
        path.name.split(".")[0] for path in (ROOT / "templates/mail").glob("*.subject.txt")
    }
    assert templates == set(KINDS)
    assert {kind for kind, reminder in KINDS.items() if reminder} == REMINDERS


def test_every_mail_has_date_message_id_and_reminders_auto_submitted(
    app, runner, smtp, every_kind_queued
):
    started = datetime.now(UTC).replace(microsecond=0)
    result = runner.invoke(args=["vip", "send-mail"])
    finished = datetime.now(UTC)
    assert result.exit_code == 0, result.output

    messages = [strict(raw) for raw in smtp.messages]
    by_kind = {message["X-VIP-Notification"].split(":")[0]: message for message in messages}
    assert set(by_kind) == set(KINDS), result.output
    ids = [message["Message-ID"] for message in messages]
    assert len(set(ids)) == len(ids)
    for kind, message in by_kind.items():
        assert started <= message["Date"].datetime <= finished, kind
        assert message["Date"].datetime.utcoffset() == timedelta(0), kind
        assert MESSAGE_ID.fullmatch(str(message["Message-ID"])), message["Message-ID"]
        assert "localhost" not in str(message["Message-ID"])
        if KINDS[kind]:
            assert message["Auto-Submitted"] == "auto-generated", kind
        else:
            assert message["Auto-Submitted"] is None, kind


def test_the_plain_text_part_stays_readable(app, runner, smtp, every_kind_queued):
    assert runner.invoke(args=["vip", "send-mail"]).exit_code == 0
    messages = [strict(raw) for raw in smtp.messages]
    assert {m["X-VIP-Notification"].split(":")[0] for m in messages} == set(KINDS)
    for message in messages:
        text = message.get_body(preferencelist=("plain",))
        assert text["Content-Transfer-Encoding"] in {"7bit", "8bit", "quoted-printable"}
        content = text.get_content()
        assert BASE_URL in content  # every mail links to the console
        assert "<" not in content.replace("<" + BASE_URL, "")  # no markup in the text
