"""Mail transports (vip.mail): chosen by configuration, SMTP when MAIL_SERVER is set, `.eml`
files otherwise, and in memory for tests; the delivery run hands each mail to the one the
configuration chooses."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import TODAY
from vip import mail
from vip.extensions import db
from vip.models import User
from vip.services import outbox
from vip.services.customers import create_customer


@pytest.fixture
def app_config():
    return {"VIP_MAIL_TRANSPORT": "memory"}


def test_the_memory_transport_keeps_what_the_delivery_run_sends(app, tenants, runner):
    result = runner.invoke(args=["vip", "send-mail"])
    assert result.exit_code == 0, result.output
    sent = mail.transport_for(app).messages
    assert sorted(message["To"] for message in sent) == [
        "a-it@customer.example",
        "b-it@customer.example",
    ]
    assert all(message["Subject"] and message["Date"] for message in sent)
    assert not list(Path(app.config["VIP_OUTBOX_DIR"]).glob("*.eml"))


def test_a_mail_queued_later_goes_the_same_way(app, tenants):
    with app.test_request_context():
        create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Minne AB",
            country="SE",
            market_segment="commercial",
            admin_name="Mia",
            admin_email="mia@minne.example",
            admin_language="sv",
        )
        report = outbox.deliver_queued(now=datetime.now(UTC))
        assert report.sent == 3
        assert "mia@minne.example" in [m["To"] for m in mail.transport_for(app).messages]
        db.session.remove()


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"MAIL_SERVER": "smtp.example.com", "MAIL_PORT": 587}, mail.SMTPTransport),
        ({"MAIL_SERVER": None}, mail.FileTransport),
        ({"MAIL_SERVER": "smtp.example.com", "VIP_MAIL_TRANSPORT": "files"}, mail.FileTransport),
        ({"VIP_MAIL_TRANSPORT": "memory"}, mail.MemoryTransport),
    ],
)
def test_the_configuration_chooses_the_transport(app, config, kind):
    app.config.update({"VIP_MAIL_TRANSPORT": None, **config})
    assert isinstance(mail.transport_for(app), kind)


def test_an_unknown_transport_is_refused(app):
    app.config["VIP_MAIL_TRANSPORT"] = "pigeon"
    with pytest.raises(ValueError, match="smtp, files or memory"):
        mail.transport_for(app)


def test_the_file_transport_writes_each_mail_whole(tmp_path):
    message = EmailMessage()
    message["Subject"] = "Hej"
    message.set_content("Brödtext")
    mail.FileTransport(tmp_path / "out").send(message, name="00000001-invitation")
    written = tmp_path / "out" / "00000001-invitation.eml"
    assert written.read_bytes() == bytes(message)
    assert list((tmp_path / "out").iterdir()) == [written]  # no temporary file left
