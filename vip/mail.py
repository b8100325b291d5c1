"""Rendering mail in the recipient's language. Delivery lives in the outbox job.

Headers are built only by the standard library's EmailMessage, which refuses CR/LF in
header values (S20); names and addresses are never concatenated into headers by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template, url_for
from flask_babel import force_locale


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def console_url() -> str:
    """The Admin Console's address as mailed: VIP_BASE_URL, whoever rendered the mail."""
    return current_app.config["VIP_BASE_URL"].rstrip("/") + url_for("admin_console.index")


def render_mail(kind: str, *, language: str, **context) -> RenderedMail:
    context.setdefault("console_url", console_url)
    with force_locale(language):
        subject = render_template(f"mail/{kind}.subject.txt", **context)
        text = render_template(f"mail/{kind}.txt", **context)
        html = render_template(f"mail/{kind}.html", **context)
    subject = " ".join(subject.split())  # one line, whatever the template or data held
    return RenderedMail(subject=subject, text=text, html=html)
