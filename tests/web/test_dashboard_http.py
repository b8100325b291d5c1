"""Översikt over HTTP: the landing page of reseller users (VIP admins go to their console),
its sections as htmx partials of their own, the customers list each "show all" opens, the
`vip:changed` event every successful htmx action announces (merged into any HX-Trigger a
route sets), S10 (another reseller's rows never appear) and both languages. The app's
today is VIP_TODAY (TODAY unless a test sets it through `app_config`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from babel.dates import format_date as babel_format_date
from flask import make_response
from sqlalchemy import select, update

from tests.conftest import HX, TODAY
from tests.services.test_dashboard import (
    authorization_due,
    committed_at_risk,
    failed_mail,
    new_customer,
    order_on,
    with_anniversary,
)
from tests.support import in_app
from vip import clock
from vip.extensions import db
from vip.models import Customer, Order, PurchaseAuthorization, User
from vip.services import audit
from vip.services.dashboard import SectionKey
from vip.web.htmx import with_event

KEYS = [key.value for key in SectionKey]
ENGLISH_TITLES = {
    "order_due": "Purchase authorizations due within 3 days",
    "order_overdue": "Delayed purchase authorizations",
    "return_closing": "Return windows closing within 3 days",
    "window_opening": "Renewal windows opening in the next 7 days",
    "anniversary": "Anniversaries in the next 7 days",
    "in_grace": "Customers in the grace period",
    "commitment_at_risk": "3YC at risk",
    "failed_mail": "Failed mail",
}
ENGLISH_EMPTY = {
    "order_due": "Nothing due.",
    "order_overdue": "Nothing delayed.",
    "return_closing": "No return window closes soon.",
    "window_opening": "No renewal window opens soon.",
    "anniversary": "No anniversaries soon.",
    "in_grace": "No customer is in the grace period.",
    "commitment_at_risk": "No three-year commitment is at risk.",
    "failed_mail": "No failed mail.",
}


@pytest.fixture
def app_config(request):
    """The app's configuration, per test through `indirect` parametrization."""
    return dict(getattr(request, "param", {}))


@dataclass
class Board:
    """One tenant's row in every section on TODAY: section key -> the name it shows."""

    names: dict[str, str]
    pa_id: int  # its authorization due in 2 days
    pa_number: str


def fill(app, tenant, prefix: str) -> Board:
    with in_app(app):
        # The tenant's own authorization: due TODAY + 2 (created 12 days ago).
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == tenant.authorization.id)
            .values(created_on=TODAY - timedelta(days=12), order_due_on=TODAY + timedelta(days=2))
        )
        db.session.commit()
        late = new_customer(tenant, f"{prefix} Sen AB")
        authorization_due(tenant, TODAY - timedelta(days=3), customer_id=late.id)
        order_on(tenant, TODAY - timedelta(days=12), name=f"{prefix} Retur AB")
        with_anniversary(tenant, f"{prefix} Fönster AB", TODAY + timedelta(days=33))
        with_anniversary(tenant, f"{prefix} Årsdag AB", TODAY + timedelta(days=2))
        with_anniversary(tenant, f"{prefix} Respit AB", TODAY - timedelta(days=10))
        committed_at_risk(tenant, f"{prefix} Åtagande AB", TODAY + timedelta(days=40))
        post = new_customer(tenant, f"{prefix} Post AB")
        failed_mail(post.id)
    return Board(
        names={
            "order_due": tenant.customer.company_name,
            "order_overdue": f"{prefix} Sen AB",
            "return_closing": f"{prefix} Retur AB",
            "window_opening": f"{prefix} Fönster AB",
            "anniversary": f"{prefix} Årsdag AB",
            "in_grace": f"{prefix} Respit AB",
            "commitment_at_risk": f"{prefix} Åtagande AB",
            "failed_mail": f"{prefix} Post AB",
        },
        pa_id=tenant.authorization.id,
        pa_number=tenant.authorization.number,
    )


@pytest.fixture
def boards(app, tenants) -> dict[str, Board]:
    return {"a": fill(app, tenants.a, "Alfa"), "b": fill(app, tenants.b, "Bravo")}


def section_of(page: str, key: str) -> str:
    match = re.search(rf'<section id="section-{key}".*?</section>', page, re.S)
    assert match, f"no section {key}"
    return match.group(0)


def count_of(section: str) -> str:
    match = re.search(r'class="dashboard-count[^"]*"[^>]*>([^<]*)<', section)
    assert match
    return match.group(1)


def text_of(page: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def english(app, user) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user.id).values(language="en"))
        db.session.commit()


# --- the page ------------------------------------------------------------------------------


def test_admin_lands_on_the_dashboard_with_every_section(app, client, tenants, login_as, boards):
    english(app, tenants.a.admin)
    login_as(tenants.a.admin)

    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert re.findall(r'<section id="section-(\w+)"', page) == KEYS
    for key, name in boards["a"].names.items():
        section = section_of(page, key)
        assert ENGLISH_TITLES[key] in section
        assert name in section, key
        assert count_of(section) == "1", key
        assert "Show all" in section
    # Each row leads to the item: the customer's tab of it.
    assert f'href="/customers/{tenants.a.customer.id}/plans"' in section_of(page, "order_due")
    # The sections refresh themselves, each on its own route.
    assert 'hx-get="/dashboard/sections/order_due"' in page
    assert 'hx-trigger="vip:changed from:body, vip:refresh from:body"' in page
    assert '<div id="dialog-slot"></div>' in page
    # The nav's first item is the dashboard, the current page.
    nav = re.search(r'<nav class="main-nav".*?</nav>', page, re.S).group(0)
    first = re.search(r"<a [^>]*>[^<]*</a>", nav).group(0)
    assert 'href="/"' in first and 'aria-current="page"' in first and "Dashboard" in first


def test_record_order_opens_the_orders_dialog(app, client, tenants, login_as, boards):
    login_as(tenants.a.admin)
    due = section_of(client.get("/").get_data(as_text=True), "order_due")
    url = f"/authorizations/{boards['a'].pa_id}/order/new"
    link = re.search(rf'<a [^>]*href="{url}"[^>]*>', due).group(0)
    assert f'hx-get="{url}"' in link and 'hx-target="#dialog-slot"' in link
    assert "data-opens-dialog" in link
    dialog = client.get(url, headers=HX)
    assert dialog.status_code == 200
    assert dialog.get_data(as_text=True).startswith('<dialog id="order-dialog"')
    # Overdue authorizations can be ordered from the dashboard too.
    overdue = section_of(client.get("/").get_data(as_text=True), "order_overdue")
    assert re.search(r'hx-get="/authorizations/\d+/order/new"', overdue)


def test_show_all_links_open_the_filtered_lists(client, tenants, login_as, boards):
    login_as(tenants.a.admin)
    page = client.get("/").get_data(as_text=True)
    expected = {
        "order_due": "/customers?attention=order_due",
        "order_overdue": "/customers?attention=order_overdue",
        "return_closing": "/customers?attention=return_closing",
        "window_opening": "/customers?attention=window_opening&amp;sort=anniversary",
        "anniversary": "/customers?attention=anniversary&amp;sort=anniversary",
        "in_grace": "/renewals?stage=in_grace",
        "commitment_at_risk": "/renewals?commitment=at_risk",
        "failed_mail": "/outbox?status=failed",
    }
    for key, url in expected.items():
        assert f'<a href="{url}">' in section_of(page, key), key
        listed = client.get(url.replace("&amp;", "&"))
        assert listed.status_code == 200, url
        assert boards["a"].names[key] in listed.get_data(as_text=True), url


def test_sales_sees_the_dashboard_without_failed_mail(app, client, tenants, login_as, boards):
    login_as(tenants.a.sales)  # English
    page = client.get("/").get_data(as_text=True)
    assert re.findall(r'<section id="section-(\w+)"', page) == KEYS[:-1]
    assert "Failed mail" not in page and boards["a"].names["failed_mail"] not in page
    assert "/outbox" not in page
    assert client.get("/outbox").status_code == 403  # the Outbox is the partner admin's
    assert client.get("/dashboard/sections/failed_mail", headers=HX).status_code == 403


def test_empty_sections_say_so(app, client, tenants, login_as):
    with in_app(app):
        db.session.execute(update(PurchaseAuthorization).values(status="cancelled"))
        db.session.commit()
    english(app, tenants.a.admin)
    login_as(tenants.a.admin)
    page = client.get("/").get_data(as_text=True)
    for key in KEYS:
        section = section_of(page, key)
        assert count_of(section) == "0"
        assert f'<p class="empty">{ENGLISH_EMPTY[key]}</p>' in section, key
        assert "Show all" not in section


def test_vip_admin_goes_to_the_console(client, tenants, login_as, boards):
    login_as(tenants.a.vip_admin)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/console"
    for key in KEYS:
        assert client.get(f"/dashboard/sections/{key}", headers=HX).status_code == 403


# --- the sections' own routes --------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_each_section_is_an_htmx_partial(client, tenants, login_as, boards, key):
    login_as(tenants.a.admin)
    response = client.get(f"/dashboard/sections/{key}", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="section-{key}"')
    assert "<html" not in fragment
    assert "HX-Request" in response.headers["Vary"]
    assert boards["a"].names[key] in fragment
    assert boards["b"].names[key] not in fragment
    assert 'hx-swap="outerHTML"' in fragment
    # Without htmx the route leads to the dashboard, at that section.
    plain = client.get(f"/dashboard/sections/{key}")
    assert plain.status_code == 302 and plain.headers["Location"] == f"/#section-{key}"


def test_unknown_section_is_not_found(client, tenants, login_as):
    login_as(tenants.a.admin)
    assert client.get("/dashboard/sections/everything", headers=HX).status_code == 404


def test_s10_another_reseller_never_sees_the_rows(client, tenants, login_as, boards):
    login_as(tenants.b.admin)
    page = client.get("/").get_data(as_text=True)
    for name in boards["b"].names.values():
        assert name in page
    for name in boards["a"].names.values():
        assert name not in page
    assert boards["a"].pa_number not in page
    for key in KEYS:
        fragment = client.get(f"/dashboard/sections/{key}", headers=HX).get_data(as_text=True)
        assert boards["a"].names[key] not in fragment and boards["b"].names[key] in fragment


# --- recording the order from the dashboard refreshes it -------------------------------


def test_recording_an_order_announces_vip_changed_and_the_section_empties(
    app, client, tenants, login_as, boards
):
    login_as(tenants.a.admin)
    response = client.post(
        f"/authorizations/{boards['a'].pa_id}/order",
        data={
            "vendor_order_number": "DASH123456",
            "order_date": TODAY.isoformat(),
            "duration_months": "12",
        },
        headers=HX,
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "vip:changed"
    fragment = client.get("/dashboard/sections/order_due", headers=HX).get_data(as_text=True)
    assert count_of(fragment) == "0"
    assert boards["a"].names["order_due"] not in fragment
    with in_app(app):
        assert db.session.scalar(select(Order.id).where(Order.vendor_order_number == "DASH123456"))


def test_no_event_for_errors_gets_or_plain_posts(client, tenants, login_as, boards):
    login_as(tenants.a.admin)
    url = f"/authorizations/{boards['a'].pa_id}/order"
    invalid = client.post(url, data={"vendor_order_number": "x"}, headers=HX)
    assert invalid.status_code == 422 and "HX-Trigger" not in invalid.headers
    assert "HX-Trigger" not in client.get("/dashboard/sections/order_due", headers=HX).headers
    plain = client.post(
        url,
        data={
            "vendor_order_number": "PLAIN12345",
            "order_date": TODAY.isoformat(),
            "duration_months": "12",
        },
    )
    assert plain.status_code == 303 and "HX-Trigger" not in plain.headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "vip:changed"),
        ("", "vip:changed"),
        ("pa:created", "pa:created, vip:changed"),
        ("pa:created, order:recorded", "pa:created, order:recorded, vip:changed"),
        ("pa:created,vip:changed", "pa:created, vip:changed"),
        ("vip:changed", "vip:changed"),
    ],
)
def test_hx_trigger_names_are_merged(header, expected):
    assert with_event(header, "vip:changed") == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('{"showMessage": "Saved"}', {"showMessage": "Saved", "vip:changed": None}),
        (
            '{"showMessage": {"level": "info"}, "vip:changed": {"id": 3}}',
            {"showMessage": {"level": "info"}, "vip:changed": {"id": 3}},
        ),
    ],
)
def test_hx_trigger_json_is_merged(header, expected):
    assert json.loads(with_event(header, "vip:changed")) == expected


@pytest.mark.parametrize("header", ["{not json", '{"a": 1'])
def test_hx_trigger_htmx_could_not_read_is_left_alone(header):
    assert with_event(header, "vip:changed") == header


@pytest.mark.parametrize(
    ("method", "status", "set_header", "htmx", "change", "expected"),
    [
        ("POST", 200, None, True, "committed", "vip:changed"),
        ("POST", 200, "showMessage", True, "committed", "showMessage, vip:changed"),
        ("POST", 200, "a, b", True, "committed", "a, b, vip:changed"),
        (
            "POST",
            200,
            '{"showMessage": "Saved"}',
            True,
            "committed",
            '{"showMessage":"Saved","vip:changed":null}',
        ),
        ("POST", 204, None, True, "committed", "vip:changed"),
        ("POST", 303, None, True, "committed", "vip:changed"),
        ("DELETE", 200, None, True, "committed", "vip:changed"),
        # nothing committed: a form sent back with its errors, a proposal, a rollback
        ("POST", 200, None, True, "none", None),
        ("POST", 200, "showMessage", True, "none", "showMessage"),
        ("POST", 200, None, True, "rolled back", None),
        ("POST", 400, "showMessage", True, "committed", "showMessage"),
        ("POST", 422, None, True, "committed", None),
        ("POST", 200, None, False, "committed", None),
        ("GET", 200, "showMessage", True, "committed", "showMessage"),
    ],
)
@pytest.mark.fresh_app  # it adds a route to the app
def test_the_after_request_hook(app, method, status, set_header, htmx, change, expected):
    """Through a route of its own, so each case (a route that sets HX-Trigger, an error, a
    GET, a request without htmx, one that changed nothing) is exact. A change is what
    every state change writes: an audit event, committed."""

    def view():
        if change != "none":
            audit.record(actor=None, action="test.changed", reseller_id=None)
            if change == "committed":
                db.session.commit()
            else:
                db.session.flush()
                db.session.rollback()
        response = make_response("", status)
        if set_header is not None:
            response.headers["HX-Trigger"] = set_header
        return response

    app.add_url_rule("/test-only/trigger", "test_trigger", view, methods=["GET", "POST", "DELETE"])
    client = app.test_client()
    response = client.open("/test-only/trigger", method=method, headers=HX if htmx else {})
    assert response.status_code == status
    assert response.headers.get("HX-Trigger") == expected


# --- languages and the app's clock ---------------------------------------------------------


def test_swedish_dashboard(app, client, tenants, login_as, boards):
    login_as(tenants.a.admin)  # Swedish
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="sv">' in page
    assert babel_format_date(TODAY, "full", locale="sv") in page
    text = text_of(page)
    assert "Registrera order" in text
    assert "Försenad" in section_of(page, "order_overdue")
    due_on = babel_format_date(TODAY + timedelta(days=2), "medium", locale="sv")
    assert f"order senast {due_on}, 2 dagar kvar" in text
    assert "årsdagen" in text_of(section_of(page, "anniversary"))
    assert "åtkomsten tas bort om 20 dagar" in text_of(section_of(page, "in_grace"))


def test_english_dashboard(app, client, tenants, login_as, boards):
    english(app, tenants.a.admin)
    login_as(tenants.a.admin)
    page = client.get("/").get_data(as_text=True)
    assert babel_format_date(TODAY, "full", locale="en") in page
    due_on = babel_format_date(TODAY + timedelta(days=2), "medium", locale="en")
    sections = {key: text_of(section_of(page, key)) for key in KEYS}
    assert f"order due by {due_on}, 2 days left" in sections["order_due"]
    overdue_on = babel_format_date(TODAY - timedelta(days=3), "medium", locale="en")
    assert f"order was due {overdue_on}, 3 days ago" in sections["order_overdue"]
    assert "Return window closes" in sections["return_closing"]
    assert "2 days left" in sections["return_closing"]
    assert "window opens in 3 days" in sections["window_opening"]
    assert "2 days to the anniversary" in sections["anniversary"]
    assert "access removed in 20 days" in sections["in_grace"]
    assert "VIP invitation" in sections["failed_mail"]


@pytest.mark.parametrize(
    "app_config", [{"VIP_TODAY": (TODAY + timedelta(days=2)).isoformat()}], indirect=True
)
def test_the_sections_follow_the_apps_clock(app, client, tenants, login_as, boards):
    """Two days on: the authorization is due today, the anniversary is today, and the order's
    return window closes today; the window opens in one day."""
    english(app, tenants.a.admin)
    login_as(tenants.a.admin)
    page = client.get("/").get_data(as_text=True)
    due_on = babel_format_date(TODAY + timedelta(days=2), "medium", locale="en")
    assert f"order due today, {due_on}" in text_of(section_of(page, "order_due"))
    assert "the anniversary is today" in text_of(section_of(page, "anniversary"))
    assert "closes today" in text_of(section_of(page, "return_closing"))
    assert "window opens in 1 day" in text_of(section_of(page, "window_opening"))
    assert "order was due" in text_of(section_of(page, "order_overdue"))


# --- the customers list's filter -----------------------------------------------------------


def test_customers_list_filtered_to_a_section(app, client, tenants, login_as, boards):
    english(app, tenants.a.admin)
    login_as(tenants.a.admin)
    page = client.get("/customers?attention=order_overdue").get_data(as_text=True)
    results = re.search(r'<div id="customer-results".*', page, re.S).group(0)
    assert boards["a"].names["order_overdue"] in results
    assert tenants.a.customer.company_name not in results
    assert "Only customers from the dashboard: Delayed purchase authorizations." in text_of(page)
    assert '<input type="hidden" name="attention" value="order_overdue">' in page
    # Sorting and searching keep the filter.
    assert "attention=order_overdue" in re.search(r'<th scope="col".*?</th>', results, re.S).group(
        0
    )
    partial = client.get("/customers?attention=order_overdue&q=alfa", headers=HX)
    fragment = partial.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="customer-results"')
    assert boards["a"].names["order_overdue"] in fragment
    assert boards["a"].names["order_due"] not in fragment


def test_customers_list_ignores_an_unknown_filter(client, tenants, login_as, boards):
    login_as(tenants.a.admin)
    page = client.get("/customers?attention=everything").get_data(as_text=True)
    assert 'id="attention-filter"' not in page
    for name in boards["a"].names.values():
        assert name in page


def test_a_card_beyond_its_cap_says_99_plus(app):
    """The badge of a card counts to 99 and says "99+" beyond (the lists say "1 000+")."""
    from datetime import date

    from flask import render_template

    from vip.services.dashboard import COUNT_CAP, Section
    from vip.web.labels import dashboard_section_labels

    with app.test_request_context():
        html = render_template(
            "dashboard/_section.html",
            section=Section(SectionKey.ORDER_OVERDUE, COUNT_CAP + 1, [], COUNT_CAP),
            titles=dashboard_section_labels(),
            today=date(2026, 11, 29),
        )
    assert 'id="section-order_overdue-count">99+</span>' in html


# --- unchanged refreshes: 204, nothing rendered ------------------------------------------------

SHOWN = re.compile(r'id="section-(\w+)"[^>]*?"X-VIP-Shown": "([0-9a-f]+)"', re.S)


def shown_tags(html: str) -> dict[str, str]:
    return dict(SHOWN.findall(html))


def refresh(client, key: str, tag: str | None):
    headers = {**HX, "X-VIP-Background": "1"} | ({"X-VIP-Shown": tag} if tag else {})
    return client.get(f"/dashboard/sections/{key}", headers=headers)


def test_an_unchanged_section_answers_204_until_something_it_shows_changes(
    app, client, tenants, login_as, boards
):
    login_as(tenants.a.admin)
    tags = shown_tags(client.get("/").get_data(as_text=True))
    assert sorted(tags) == sorted(KEYS)
    for key, tag in tags.items():
        unchanged = refresh(client, key, tag)
        assert unchanged.status_code == 204 and unchanged.get_data() == b""
        # The section rendered now carries the very tag the page did.
        assert shown_tags(refresh(client, key, None).get_data(as_text=True)) == {key: tag}
    # Another reseller's change, and a stale or missing tag, change nothing here.
    with in_app(app):
        other = new_customer(tenants.b, "Annan Kund AB")
        assert other.reseller_id == tenants.b.reseller.id
    assert refresh(client, "order_due", tags["order_due"]).status_code == 204
    assert refresh(client, "order_due", "0" * 40).status_code == 200
    # Recording the order changes the section: the old tag gets the new section.
    response = client.post(
        f"/authorizations/{boards['a'].pa_id}/order",
        data={
            "vendor_order_number": "SEEN123456",
            "order_date": TODAY.isoformat(),
            "duration_months": "12",
        },
        headers=HX,
    )
    assert response.status_code == 200
    changed = refresh(client, "order_due", tags["order_due"])
    assert changed.status_code == 200 and count_of(changed.get_data(as_text=True)) == "0"
    new_tags = shown_tags(client.get("/").get_data(as_text=True))
    assert all(new_tags[key] != tags[key] for key in KEYS)


@pytest.mark.parametrize("change", ["rename", "failed-mail", "language", "other-user", "next-day"])
def test_the_section_tag_follows_what_it_shows(
    app, client, tenants, login_as, boards, monkeypatch, change
):
    login_as(tenants.a.admin)
    before = shown_tags(client.get("/").get_data(as_text=True))
    with in_app(app):
        if change == "rename":
            customer = db.session.get(Customer, tenants.a.customer.id)
            customer.company_name = "Omdöpt AB"
        elif change == "failed-mail":
            failed_mail(tenants.a.customer.id)
        elif change == "language":
            admin = db.session.get(User, tenants.a.admin.id)
            admin.language = "sv" if admin.language == "en" else "en"
        db.session.commit()
    if change == "other-user":
        login_as(tenants.a.sales)
    if change == "next-day":
        monkeypatch.setattr(clock, "today_for", lambda _user: TODAY + timedelta(days=1))
    after = shown_tags(client.get("/").get_data(as_text=True))
    for key in after:
        assert after[key] != before[key], key
        assert refresh(client, key, before[key]).status_code == 200
