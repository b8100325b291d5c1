"""The Outbox page over HTTP: only a reseller_admin sees it (S11), only its own reseller's
mail (S10), the status filter as an htmx partial, and retrying a failed mail (audited)
while a sent one is refused."""

from __future__ import annotations

import html as htmllib

import pytest
from sqlalchemy import func, select, update

from tests.conftest import HX
from tests.support import in_app
from vip.extensions import db
from vip.models import AuditEvent, Notification, NotificationStatus, User


def text_of(page: str) -> str:
    return " ".join(htmllib.unescape(page).split())


def mail_of(app, customer_id: int) -> dict:
    with in_app(app):
        n = db.session.scalar(
            select(Notification).where(Notification.customer_id == customer_id).limit(1)
        )
        return {
            "id": n.id,
            "status": n.status,
            "attempts": n.attempts,
            "last_error": n.last_error,
            "next_attempt_at": n.next_attempt_at,
            "recipient": n.recipient,
            "subject": n.subject,
        }


def set_mail(app, mail_id: int, **values) -> None:
    with in_app(app):
        db.session.execute(update(Notification).where(Notification.id == mail_id).values(**values))
        db.session.commit()


def retried_events(app) -> list[tuple[int | None, str | None, dict]]:
    with in_app(app):
        return [
            (e.actor_id, e.object_id, e.details)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "mail.retried")
                .order_by(AuditEvent.id)
            )
        ]


def notification_rows(app) -> list:
    with in_app(app):
        return sorted(
            db.session.execute(
                select(Notification.id, Notification.status, Notification.attempts)
            ).all()
        )


@pytest.fixture
def admin(app, tenants, login_as):
    """Tenant a's reseller_admin, signed in, with the English UI."""
    with in_app(app):
        db.session.execute(update(User).where(User.id == tenants.a.admin.id).values(language="en"))
        db.session.commit()
    return login_as(tenants.a.admin)


@pytest.fixture
def failed_mail(app, tenants) -> dict:
    mail = mail_of(app, tenants.a.customer.id)
    set_mail(
        app,
        mail["id"],
        status=NotificationStatus.FAILED,
        attempts=6,
        last_error="SMTPRecipientsRefused: 550 mailbox unavailable",
        next_attempt_at=None,
    )
    return mail_of(app, tenants.a.customer.id)


# --- the page ------------------------------------------------------------------------------


def test_the_outbox_lists_the_resellers_invitation_mail(app, client, tenants, admin):
    response = client.get("/outbox")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page and '<div id="outbox-list"' in page
    own = mail_of(app, tenants.a.customer.id)
    other = mail_of(app, tenants.b.customer.id)
    assert f'id="mail-{own["id"]}"' in page
    assert own["recipient"] in page and htmllib.escape(own["subject"]) in page
    assert "mail-status-queued" in page
    # S10: never the other reseller's mail.
    assert f'id="mail-{other["id"]}"' not in page and other["recipient"] not in page
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_the_status_filter_answers_the_list_partial_to_htmx(app, client, tenants, admin):
    own = mail_of(app, tenants.a.customer.id)
    response = client.get("/outbox?status=sent", headers=HX)
    assert response.status_code == 200
    partial = response.get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="outbox-list"')
    assert "<html" not in partial and '<nav class="site' not in partial
    assert f'id="mail-{own["id"]}"' not in partial
    assert "No mail in this state." in text_of(partial)
    assert 'aria-current="page"' in partial
    assert "HX-Request" in response.headers.get("Vary", "")

    queued = client.get("/outbox?status=queued", headers=HX).get_data(as_text=True)
    assert queued.lstrip().startswith('<div id="outbox-list"')
    assert f'id="mail-{own["id"]}"' in queued

    set_mail(app, own["id"], status=NotificationStatus.SENT)
    sent = client.get("/outbox?status=sent", headers=HX).get_data(as_text=True)
    assert f'id="mail-{own["id"]}"' in sent and "mail-status-sent" in sent
    assert f'id="mail-{own["id"]}"' not in client.get("/outbox?status=queued", headers=HX).get_data(
        as_text=True
    )


def test_an_unknown_status_filter_lists_everything(app, client, tenants, admin):
    own = mail_of(app, tenants.a.customer.id)
    response = client.get("/outbox?status=nonsense")
    assert response.status_code == 200
    assert f'id="mail-{own["id"]}"' in response.get_data(as_text=True)


def test_a_failed_mail_shows_its_error_and_a_retry_button(app, client, admin, failed_mail):
    page = client.get("/outbox?status=failed").get_data(as_text=True)
    assert f'id="mail-{failed_mail["id"]}"' in page
    assert "mail-status-failed" in page
    assert "SMTPRecipientsRefused: 550 mailbox unavailable" in text_of(page)
    assert f"/outbox/{failed_mail['id']}/retry" in page


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sales", "vip_admin"])
def test_s11_only_a_reseller_admin_sees_the_outbox(app, client, tenants, login_as, who):
    login_as(getattr(tenants.a, who))
    assert client.get("/outbox").status_code == 403
    assert client.get("/outbox?status=failed", headers=HX).status_code == 403


@pytest.mark.parametrize("htmx", [False, True])
def test_s11_sales_cannot_retry(app, client, tenants, login_as, failed_mail, htmx):
    login_as(tenants.a.sales)
    before = notification_rows(app)
    response = client.post(f"/outbox/{failed_mail['id']}/retry", headers=HX if htmx else {})
    assert response.status_code == 403
    assert notification_rows(app) == before and retried_events(app) == []


def test_signed_out_the_outbox_asks_for_a_login(client, tenants):
    response = client.get("/outbox")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("htmx", [False, True])
def test_s10_another_tenants_mail_cannot_be_retried(app, client, tenants, admin, htmx):
    other = mail_of(app, tenants.b.customer.id)
    set_mail(app, other["id"], status=NotificationStatus.FAILED, attempts=6)
    before = notification_rows(app)
    response = client.post(f"/outbox/{other['id']}/retry", headers=HX if htmx else {})
    assert response.status_code == 404
    assert client.post("/outbox/999999/retry").status_code == 404
    assert notification_rows(app) == before and retried_events(app) == []


def test_retry_requires_post(client, admin, failed_mail):
    assert client.get(f"/outbox/{failed_mail['id']}/retry").status_code == 405


# --- retrying ------------------------------------------------------------------------------


def test_retrying_a_failed_mail_queues_it_again_and_audits(
    app, client, tenants, admin, failed_mail
):
    response = client.post(f"/outbox/{failed_mail['id']}/retry")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/outbox")
    mail = mail_of(app, tenants.a.customer.id)
    assert mail["status"] == NotificationStatus.QUEUED
    assert mail["attempts"] == 0 and mail["next_attempt_at"] is None
    [(actor_id, object_id, details)] = retried_events(app)
    assert actor_id == tenants.a.admin.id and object_id == str(failed_mail["id"])
    assert details == {"kind": "invitation", "recipient": failed_mail["recipient"]}

    page = client.get("/outbox").get_data(as_text=True)
    assert f"The mail to {failed_mail['recipient']} is queued again." in text_of(page)
    assert "flash-success" in page

    # A second retry is refused: it is queued now.
    client.post(f"/outbox/{failed_mail['id']}/retry")
    assert len(retried_events(app)) == 1


def test_retrying_with_htmx_swaps_the_row_showing_queued(app, client, tenants, admin, failed_mail):
    response = client.post(f"/outbox/{failed_mail['id']}/retry", headers=HX)
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="mail-{failed_mail["id"]}"')
    assert "mail-status-queued" in row and "mail-status-failed" not in row
    assert 'hx-swap-oob="innerHTML"' in row and "flash-success" in row
    assert f"The mail to {failed_mail['recipient']} is queued again." in text_of(row)
    assert len(retried_events(app)) == 1


def test_retrying_a_sent_mail_is_refused(app, client, tenants, admin):
    mail = mail_of(app, tenants.a.customer.id)
    set_mail(app, mail["id"], status=NotificationStatus.SENT, attempts=1)
    before = notification_rows(app)
    response = client.post(f"/outbox/{mail['id']}/retry", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "flash-error" in page
    assert "Only a failed mail can be retried." in text_of(page)
    assert notification_rows(app) == before and retried_events(app) == []


def test_retrying_a_sent_mail_with_htmx_shows_the_refusal_in_place(app, client, tenants, admin):
    mail = mail_of(app, tenants.a.customer.id)
    set_mail(app, mail["id"], status=NotificationStatus.SENT, attempts=1)
    before = notification_rows(app)
    response = client.post(f"/outbox/{mail['id']}/retry", headers=HX)
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert f'<tr id="mail-{mail["id"]}"' in row and "mail-status-sent" in row
    assert "flash-error" in row and "Only a failed mail can be retried." in text_of(row)
    assert notification_rows(app) == before and retried_events(app) == []


def test_the_audit_counts_nothing_for_a_refused_retry(app, client, tenants, admin):
    mail = mail_of(app, tenants.a.customer.id)  # queued, not failed
    with in_app(app):
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    client.post(f"/outbox/{mail['id']}/retry")
    with in_app(app):
        after = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert after == before
