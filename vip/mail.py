"""Mail: rendered in the recipient's language, built into a message, and handed to a
transport (SMTP, `.eml` files, or memory for tests) chosen by configuration. When to send
is the outbox's business (vip.services.outbox).

Headers are built only by the standard library's EmailMessage, which refuses CR/LF in
header values (S20); names and addresses are never concatenated into headers by hand.
"""

from __future__ import annotations

import os
import smtplib
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from flask import render_template
from flask_babel import force_locale

from vip.links import external_url
from vip.models import Notification


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def console_url(customer=None) -> str:
    """The Admin Console's address as mailed (of the mail's customer, when it has one: a
    VIP admin may administer several): VIP_BASE_URL, whoever rendered the mail."""
    if customer is not None:
        return external_url("admin_console.index", customer_id=customer.id)
    return external_url("admin_console.home")


def render_mail(kind: str, *, language: str, **context) -> RenderedMail:
    context.setdefault("console_url", console_url)
    with force_locale(language):
        subject = render_template(f"mail/{kind}.subject.txt", **context)
        text = render_template(f"mail/{kind}.txt", **context)
        html = render_template(f"mail/{kind}.html", **context)
    subject = " ".join(subject.split())  # one line, whatever the template or data held
    return RenderedMail(subject=subject, text=text, html=html)


# -- Building and sending -------------------------------------------------------------------------


def message_id_domain(base_url: str) -> str:
    """The host of VIP_BASE_URL, the console's public name, as the domain of each
    Message-ID; the machine's own name (often `localhost`) counts against a mail."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"[{host}]" if ":" in host else host  # an IPv6 address as a domain literal


def build_message(
    notification: Notification, *, sender: str, base_url: str, automatic: bool
) -> EmailMessage:
    """The mail as it is sent now: `Date` (RFC 5322) and a Message-ID of the console's own
    domain on every mail, `Auto-Submitted: auto-generated` (RFC 3834) on `automatic` ones
    (the reminders), so vacation responders stay quiet. Headers only through EmailMessage,
    which refuses CR/LF in them (S20)."""
    message = EmailMessage()
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address))
    message["To"] = notification.recipient
    message["Subject"] = " ".join(notification.subject.split())
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(
        idstring=f"vip-{notification.id}", domain=message_id_domain(base_url)
    )
    if automatic:
        message["Auto-Submitted"] = "auto-generated"
    message["X-VIP-Notification"] = f"{notification.kind}:{notification.id}"
    message.set_content(notification.body_text)
    message.add_alternative(notification.body_html, subtype="html")
    return message


class Transport(Protocol):
    """Where mail goes: `send` hands over one message or raises."""

    def send(self, message: EmailMessage, *, name: str) -> None: ...


@dataclass(frozen=True)
class SMTPTransport:
    """An SMTP server (MAIL_SERVER, MAIL_PORT; STARTTLS with MAIL_USE_TLS; a login with
    MAIL_USERNAME and MAIL_PASSWORD)."""

    host: str
    port: int
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 20

    def send(self, message: EmailMessage, *, name: str) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class FileTransport:
    """`.eml` files in a folder (no MAIL_SERVER: development and demos), each written
    atomically: a reader sees all of a mail or nothing."""

    folder: Path

    def send(self, message: EmailMessage, *, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(bytes(message))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.folder / f"{name}.eml")


@dataclass
class MemoryTransport:
    """Keeps what it is given (VIP_MAIL_TRANSPORT=memory): for tests."""

    messages: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage, *, name: str) -> None:
        self.messages.append(message)


def transport_for(app) -> Transport:
    """The transport the configuration chooses: VIP_MAIL_TRANSPORT (`smtp`, `files` or
    `memory`), by default SMTP when MAIL_SERVER is set and files otherwise. The memory
    transport is one per app, so that a test reads what was sent."""
    config = app.config
    kind = config.get("VIP_MAIL_TRANSPORT") or ("smtp" if config.get("MAIL_SERVER") else "files")
    if kind == "memory":
        return app.extensions.setdefault("vip_mail_memory", MemoryTransport())
    if kind == "smtp":
        return SMTPTransport(
            host=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
        )
    if kind == "files":
        folder = config.get("VIP_OUTBOX_DIR") or Path(app.instance_path) / "outbox"
        return FileTransport(Path(folder))
    raise ValueError(f"VIP_MAIL_TRANSPORT must be smtp, files or memory, not {kind!r}")
