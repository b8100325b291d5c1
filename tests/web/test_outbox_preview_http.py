"""The Outbox page's preview of tomorrow's job run over HTTP: the partner admin's own
customers and mails only (S10), in the admin's language, the partial for htmx and the
full page otherwise, only for a reseller_admin (S11), writing nothing, the same as
`job.preview_tick` for that reseller, and a constant number of SQL statements."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from tests.conftest import HX, PASSWORD, TODAY
from tests.job.test_dry_run import in_app, set_rows
from tests.job.test_dry_run import new_customer as add_customer
from vip.extensions import db
from vip.models import (
    Customer,
    CustomerStatus,
    MarketSegment,
    Notification,
    NotificationStatus,
    PurchaseAuthorization,
    Reseller,
    Role,
    User,
)
from vip.services import job
from vip.services.accounts import create_user

TOMORROW = TODAY + timedelta(days=1)  # VIP_TODAY is TODAY in the tests
PREVIEW_ROOT = '<section class="panel job-preview" id="job-preview"'
ENGLISH_ONLY = (
    "Tomorrow&#39;s job run",
    "Tomorrow's job run",
    "Changes to customers",
    "Mail it would deliver",
    "Becomes Delayed",
    "Access removed: no renewal",
    "it would be cancelled: access is removed",
)


# --- helpers -------------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def preview_section(page: str) -> str:
    start = page.index(PREVIEW_ROOT)
    return page[start : page.index("</section>", start) + len("</section>")]


def change_rows(section: str) -> list[tuple[int, str, str, str]]:
    """(customer id, customer cell, change cell, status cell) of each change row."""
    return [
        (int(customer_id), text_of(name), text_of(change), text_of(status))
        for customer_id, name, change, status in re.findall(
            r'<tr>\s*<td><a href="/customers/(\d+)/info">(.*?)</td>\s*<td>(.*?)</td>\s*'
            r"<td>(.*?)</td>\s*</tr>",
            section,
            re.S,
        )
    ]


def mail_items(section: str) -> list[str]:
    return [text_of(item) for item in re.findall(r"<li>(.*?)</li>", section, re.S)]


def snapshot(app) -> dict:
    with in_app(app):
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        content = {
            name: [tuple(row) for row in db.session.execute(select(t).order_by(t.c.id)).all()]
            for name, t in db.metadata.tables.items()
            if name in ("customers", "notifications", "audit_events", "purchase_authorizations")
        }
    return {"counts": counts, **content}


def queue_reminder(app, customer_id: int, kind: str, cycle: str, recipient: str) -> int:
    with in_app(app):
        notification = Notification(
            customer_id=customer_id,
            kind=kind,
            cycle_key=cycle,
            recipient=recipient,
            language="sv",
            subject=kind,
            body_text="-",
            body_html="-",
            status=NotificationStatus.QUEUED,
            attempts=0,
        )
        db.session.add(notification)
        db.session.commit()
        return notification.id


@dataclass
class Scene:
    reseller_id: int
    invited: int  # tenant a's customer: its authorization due today, overdue tomorrow
    due: int  # anniversary tomorrow + 30 (English admin contact)
    missed: int  # anniversary tomorrow
    removed: int  # anniversary tomorrow - 30, with a queued reminder gone stale
    foreign: list[int]  # tenant b's customers
    foreign_texts: list[str]  # their names and addresses


@pytest.fixture
def scene(app, tenants) -> Scene:
    a, b = tenants.a, tenants.b
    active = {"status": CustomerStatus.ACTIVE}
    for tenant in (a, b):
        set_rows(app, PurchaseAuthorization, tenant.authorization.id, order_due_on=TODAY)
    due = add_customer(
        app,
        a.admin.id,
        "Trettio AB",
        "it@trettio.example",
        language="en",
        anniversary_date=TOMORROW + timedelta(days=30),
        **active,
    )
    missed = add_customer(
        app, a.admin.id, "Årsdag AB", "it@arsdag.example", anniversary_date=TOMORROW, **active
    )
    removed = add_customer(
        app,
        a.admin.id,
        "Utgången AB",
        "it@utgangen.example",
        anniversary_date=TOMORROW - timedelta(days=30),
        **active,
    )
    queue_reminder(
        app,
        removed,
        "access_removal",
        (TOMORROW - timedelta(days=30)).isoformat(),
        "it@utgangen.example",
    )
    stranger = add_customer(
        app,
        b.admin.id,
        "Främling AB",
        "it@framling.example",
        anniversary_date=TOMORROW + timedelta(days=30),
        **active,
    )
    return Scene(
        reseller_id=a.reseller.id,
        invited=a.customer.id,
        due=due,
        missed=missed,
        removed=removed,
        foreign=[b.customer.id, stranger],
        foreign_texts=[
            b.customer.company_name,
            b.customer.admin_email,
            b.customer.vip_id,
            "Främling AB",
            "it@framling.example",
        ],
    )


@pytest.fixture
def admin_in(app, tenants, login_as):
    """Signs tenant a's reseller_admin in with the given UI language."""

    def _admin_in(language: str):
        set_rows(app, User, tenants.a.admin.id, language=language)
        return login_as(tenants.a.admin)

    return _admin_in


# --- the page ------------------------------------------------------------------------------


def test_the_outbox_shows_tomorrows_run_in_english(app, client, tenants, scene, admin_in):
    admin_in("en")
    response = client.get("/outbox")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    section = preview_section(page)
    assert text_of(section).startswith("Tomorrow's job run: November 30, 2026")
    assert '<div id="outbox-list"' in page  # the list is still there, after the preview

    rows = change_rows(section)
    assert [(customer_id, change) for customer_id, _, change, _ in rows] == [
        (scene.invited, "Becomes Delayed: an authorization's order is overdue"),
        (scene.removed, "Access removed: no renewal 30 days after the anniversary"),
        (scene.due, "Reminder queued: Renewal due (30 days before) → it@trettio.example"),
        (scene.missed, "Reminder queued: Renewal missed (anniversary) → it@arsdag.example"),
    ]
    assert [status for *_, status in rows] == [
        "Invited → Delayed",
        "Active → Inactive",
        "Active",
        "Active",
    ]
    assert rows[0][1].startswith(tenants.a.customer.company_name)
    assert tenants.a.customer.vip_id in rows[0][1]

    assert mail_items(section) == [
        f"VIP invitation → {tenants.a.customer.admin_email} · a Kund AB",
        "Access removal (7 days before) → it@utgangen.example"
        " (it would be cancelled: access is removed) · Utgången AB",
        "Renewal due (30 days before) → it@trettio.example · Trettio AB new",
        "Renewal missed (anniversary) → it@arsdag.example · Årsdag AB new",
    ]
    assert section.count("<s>") == 1


def test_the_outbox_shows_tomorrows_run_in_swedish(app, client, tenants, scene, admin_in):
    admin_in("sv")
    page = client.get("/outbox").get_data(as_text=True)
    section = preview_section(page)
    text = text_of(section)
    assert "30 november 2026" in text
    rows = change_rows(section)
    assert [customer_id for customer_id, *_ in rows] == [
        scene.invited,
        scene.removed,
        scene.due,
        scene.missed,
    ]
    assert [status for *_, status in rows] == [
        "Inbjuden → Försenad",
        "Aktiv → Inaktiv",
        "Aktiv",
        "Aktiv",
    ]
    assert "Påminnelse köad: Dags att förlänga (30 dagar före) → it@trettio.example" in text
    assert "Förlängning missad (årsdagen) → it@arsdag.example · Årsdag AB" in text
    assert f"VIP-inbjudan → {tenants.a.customer.admin_email} · a Kund AB" in text


def test_the_swedish_preview_has_no_english_left(app, client, scene, admin_in):
    admin_in("sv")
    for path in ("/outbox", "/outbox/preview"):
        section = preview_section(client.get(path).get_data(as_text=True))
        left = [phrase for phrase in ENGLISH_ONLY if phrase in section]
        assert left == [], path


def test_the_preview_never_shows_another_resellers_customers(app, client, scene, admin_in):
    admin_in("en")
    for path, headers in (("/outbox", {}), ("/outbox/preview", {}), ("/outbox/preview", HX)):
        section = preview_section(client.get(path, headers=headers).get_data(as_text=True))
        shown = {customer_id for customer_id, *_ in change_rows(section)}
        assert shown and not shown & set(scene.foreign), path
        for text in scene.foreign_texts:
            assert text not in section, (path, text)


def test_the_other_reseller_sees_only_its_own(app, client, tenants, scene, login_as):
    login_as(tenants.b.admin)
    section = preview_section(client.get("/outbox/preview").get_data(as_text=True))
    assert sorted(customer_id for customer_id, *_ in change_rows(section)) == sorted(scene.foreign)
    for name in ("Trettio AB", "Årsdag AB", "Utgången AB", tenants.a.customer.company_name):
        assert name not in section


def test_preview_is_a_partial_for_htmx_and_a_page_otherwise(app, client, scene, admin_in):
    admin_in("en")
    partial = client.get("/outbox/preview", headers=HX)
    assert partial.status_code == 200
    body = partial.get_data(as_text=True)
    assert body.lstrip().startswith(PREVIEW_ROOT)
    assert "<html" not in body and '<div id="outbox-list"' not in body
    assert 'hx-trigger="vip:changed from:body"' in body
    assert "HX-Request" in partial.headers.get("Vary", "")

    page = client.get("/outbox/preview")
    assert page.status_code == 200
    full = page.get_data(as_text=True)
    assert "<html" in full and full.count('id="job-preview"') == 1
    assert 'href="/outbox"' in full
    assert "HX-Request" in page.headers.get("Vary", "")
    # The same preview either way.
    assert preview_section(full) == preview_section(body)


def test_the_outbox_list_partial_carries_no_preview(app, client, scene, admin_in):
    admin_in("en")
    body = client.get("/outbox?status=queued", headers=HX).get_data(as_text=True)
    assert body.lstrip().startswith('<div id="outbox-list"')
    assert 'id="job-preview"' not in body


@pytest.mark.parametrize("who", ["sales", "vip_admin"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_s11_only_a_reseller_admin_sees_the_preview(app, client, tenants, login_as, who, headers):
    login_as(getattr(tenants.a, who))
    assert client.get("/outbox/preview", headers=headers).status_code == 403


def test_signed_out_the_preview_asks_for_a_login(client, tenants):
    response = client.get("/outbox/preview")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]
    htmx = client.get("/outbox/preview", headers=HX)
    assert htmx.status_code == 401 and "/login" in htmx.headers["HX-Redirect"]


def test_viewing_the_preview_changes_nothing(app, client, scene, admin_in):
    admin_in("en")
    client.get("/outbox")  # a first view: anything a view would write, it has written now
    before = snapshot(app)
    for path, headers in (("/outbox", {}), ("/outbox/preview", {}), ("/outbox/preview", HX)):
        assert client.get(path, headers=headers).status_code == 200
        assert snapshot(app) == before, path
    assert list(Path(app.config["VIP_OUTBOX_DIR"]).iterdir()) == []


def test_the_preview_is_job_preview_tick_for_the_resellers_tomorrow(
    app, client, tenants, scene, admin_in
):
    admin_in("en")
    section = preview_section(client.get("/outbox/preview").get_data(as_text=True))
    with in_app(app):
        expected = job.preview_tick(
            days={TOMORROW: [scene.reseller_id]},
            now=datetime.now(UTC) + timedelta(days=1),
            send=True,
        )
    rows = change_rows(section)
    assert [(customer_id, name.split(" ")[:-1]) for customer_id, name, _, _ in rows] == [
        (change.customer_id, change.customer_name.split(" "))
        for change in expected.deadlines.changes
    ]
    for (_, _, change_text, _), change in zip(rows, expected.deadlines.changes, strict=True):
        if change.reminder:
            assert change_text.endswith(f"→ {change.recipient}")
    items = mail_items(section)
    assert len(items) == len(expected.deliveries) == 4
    for item, step in zip(items, expected.deliveries, strict=True):
        assert step.recipient in item and f"· {step.customer_name}" in item
        assert ("would be cancelled" in item) == (step.action == "cancel")
        assert item.endswith(" new") == (step.notification_id is None)


def test_a_retried_mail_joins_the_preview(app, client, tenants, scene, admin_in):
    """The preview reads the outbox as it is now: a failed mail is not delivered, the same
    mail queued again by Retry is."""
    admin_in("en")
    with in_app(app):
        invitation = db.session.scalar(
            select(Notification.id).where(
                Notification.customer_id == scene.invited, Notification.kind == "invitation"
            )
        )
    set_rows(app, Notification, invitation, status=NotificationStatus.FAILED, attempts=6)
    email = tenants.a.customer.admin_email
    before = mail_items(preview_section(client.get("/outbox/preview").get_data(as_text=True)))
    assert not any(email in item for item in before)
    response = client.post(f"/outbox/{invitation}/retry", headers=HX)
    assert response.status_code == 200
    assert "vip:changed" in response.headers.get("HX-Trigger", "")
    after = mail_items(
        preview_section(client.get("/outbox/preview", headers=HX).get_data(as_text=True))
    )
    assert after[0] == f"VIP invitation → {email} · a Kund AB"


# --- SQL statements per request ------------------------------------------------------------


def build_reseller(app, name: str, size: int) -> str:
    """A reseller with `size` customers, each Försenad tomorrow (an authorization due
    today), reminded tomorrow (anniversary 30 days on) and with a queued invitation mail;
    returns its admin's email."""
    slug = name.split()[0].lower()
    with in_app(app):
        reseller = Reseller(name=name, country="SE", time_zone="Europe/Stockholm")
        db.session.add(reseller)
        db.session.commit()
        create_user(
            email=f"admin@{slug}.example",
            name="Admin",
            password=PASSWORD,
            role=Role.RESELLER_ADMIN,
            reseller=reseller,
            language="en",
        )
        for i in range(size):
            customer = Customer(
                reseller_id=reseller.id,
                company_name=f"{name} kund {i}",
                country="SE",
                market_segment=MarketSegment.COMMERCIAL,
                admin_name="It",
                admin_email=f"it{i}@{slug}.example",
                admin_language="sv",
                vip_id=f"{len(slug)}{size:03d}{i:06d}",
                status=CustomerStatus.ACTIVE,
                anniversary_date=TOMORROW + timedelta(days=30),
            )
            db.session.add(customer)
            db.session.flush()
            db.session.add(
                PurchaseAuthorization(
                    number=f"PA-{size:03d}{i:03d}",
                    customer_id=customer.id,
                    license_type="team",
                    deployment_date=TODAY - timedelta(days=14),
                    status="pending",
                    created_on=TODAY - timedelta(days=14),
                    order_due_on=TODAY,
                )
            )
            db.session.add(
                Notification(
                    customer_id=customer.id,
                    kind="invitation",
                    cycle_key=f"invitation:{customer.id}",
                    recipient=customer.admin_email,
                    language="sv",
                    subject="Välkommen",
                    body_text="-",
                    body_html="-",
                    status=NotificationStatus.QUEUED,
                    attempts=0,
                )
            )
        db.session.commit()
    return f"admin@{slug}.example"


def statements(app, client, path: str) -> tuple[int, str]:
    """The statements of the second of two identical requests, and its body."""
    assert client.get(path).status_code == 200
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
        body = response.get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(seen), body


@pytest.mark.parametrize(
    "path",
    [
        "/outbox",
        "/outbox/preview",
    ],
)
def test_perf_query_count_of_the_preview_is_constant(app, path):
    counts = {}
    for name, size in (("Liten AB", 1), ("Stor AB", 50)):
        email = build_reseller(app, name, size)
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 303
        counts[size], body = statements(app, client, path)
        section = preview_section(body)
        # Each customer is delayed and reminded, and its invitation plus reminder sent: the
        # first job.PREVIEW_SHOWN of each kind are listed.
        assert len(change_rows(section)) == min(2 * size, job.PREVIEW_SHOWN)
        assert len(mail_items(section)) == min(2 * size, job.PREVIEW_SHOWN)
        if path == "/outbox":
            assert body.count('<tr id="mail-') == size
    assert counts[1] == counts[50], counts


def test_a_long_preview_shows_the_first_hundred_of_each_kind_and_counts_the_rest(app):
    """A day after a long outage can change thousands of customers: the page stays short."""
    from datetime import date

    from flask import render_template
    from flask_babel import force_locale

    from vip.services.deadlines import DELAY, DeadlineChange, TickReport
    from vip.services.job import TickPreview
    from vip.services.outbox import SEND, DeliveryStep

    changes = [
        DeadlineChange(DELAY, i, f"Kund {i} AB", f"{i:010d}", "active", "delayed")
        for i in range(1, 131)
    ]
    deliveries = [
        DeliveryStep(SEND, "invitation", f"it{i}@kund.example", "Kund") for i in range(101)
    ]
    # As job.bounded_preview returns it: the first hundred of each kind, and the totals.
    preview = TickPreview(
        days={date(2026, 11, 30): [1]},
        deadlines=TickReport(delayed=130, changes=changes[:100]),
        deliveries=deliveries[:100],
        changes_total=len(changes),
        deliveries_total=len(deliveries),
    )
    with app.test_request_context(), force_locale("en"):
        html = render_template("outbox/_preview.html", preview=preview)
    assert html.count("Kund 1") >= 1 and "Kund 100 AB" in html and "Kund 101 AB" not in html
    assert "… and 30 more changes" in html
    assert html.count("it1@kund.example") == 1 and "it100@kund.example" not in html
    assert "… and 1 more mail." in html
