"""The pages' cached regions (vip/web/cached_regions.py): the customers list's results, the
renewals overview's results, the customer's header and VIP information are served from the
cache while nothing they show changed, and are exactly what a fresh render gives after
every kind of change: the customer's orders and licenses, its VIP admin's account, the
catalog, the reseller's settings, the day, the user's language. A kept region sends no
statement for its data, never carries another session's CSRF token and never reaches a
user of another reseller."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.conftest import PASSWORD, TODAY, build_tenant
from tests.support import csrf_token_in, in_app, order_licenses, pid, user
from vip.extensions import db
from vip.models import LicenseAssignment, Product, Reseller
from vip.services.customers import create_customer
from vip.services.licenses import assign_license, unassign_license

HX = {"HX-Request": "true"}
ANCHOR = TODAY - timedelta(days=330)  # the first order: the anniversary about a month ahead


def pages(tenants) -> list[tuple[str, bool]]:
    """(path, with htmx): the full page and its partial."""
    info = f"/customers/{tenants.a.customer.id}/info"
    paths = ["/customers", "/customers?q=a&sort=-name", "/renewals", "/renewals?window=30", info]
    return [(path, htmx) for path in paths for htmx in (False, True)]


TOKEN = re.compile(r'((?:name="csrf_token"(?: type="hidden")? value=|"X-CSRFToken": )")[^"]+"')


def without_tokens(html: str) -> str:
    """Two renders differ in their CSRF tokens alone (each is signed with its time)."""
    return TOKEN.sub(r'\1…"', html)


def fetch(app, client, path: str, htmx: bool, *, cached: bool) -> str:
    app.config["VIP_CACHED_REGIONS"] = cached
    try:
        response = client.get(path, headers=HX if htmx else {})
        assert response.status_code == 200, path
        return without_tokens(response.get_data(as_text=True))
    finally:
        app.config["VIP_CACHED_REGIONS"] = True


# --- the changes -----------------------------------------------------------------------------


def an_order(app, tenants) -> None:
    with in_app(app):
        order_licenses(tenants.a, [(pid("Photoshop"), 7)], on=ANCHOR + timedelta(days=20))


def a_license_assigned(app, tenants) -> None:
    with in_app(app):
        assign_license(
            user=user(tenants.a.vip_admin),
            customer_id=tenants.a.customer.id,
            product_id=pid("Photoshop"),
            email="new.user@kund.example",
            today=TODAY,
        )
        db.session.commit()


def a_license_taken_back(app, tenants) -> None:  # a DELETE statement
    with in_app(app):
        assignment = db.session.scalar(
            select(LicenseAssignment).where(LicenseAssignment.customer_id == tenants.a.customer.id)
        )
        unassign_license(
            user=user(tenants.a.vip_admin),
            customer_id=tenants.a.customer.id,
            assignment_id=assignment.id,
        )
        db.session.commit()


def the_catalog_changed(app, tenants) -> None:
    with in_app(app):
        db.session.get(Product, pid("Photoshop")).name = "Photoshop (renamed)"
        db.session.commit()


def the_vip_admin_deactivated(app, tenants) -> None:
    with in_app(app):
        user(tenants.a.vip_admin).active = False
        db.session.commit()


def the_reseller_moved_time_zone(app, tenants) -> None:
    with in_app(app):
        db.session.get(Reseller, tenants.a.reseller.id).time_zone = "America/New_York"
        db.session.commit()


def new_customer(admin, company_name: str, admin_email: str) -> int:
    """A customer created (and its VIP admin invited) by `admin`, committed; its id."""
    created = create_customer(
        user=admin,
        today=TODAY,
        company_name=company_name,
        country="SE",
        market_segment="commercial",
        admin_name="Ny Admin",
        admin_email=admin_email,
        admin_language="sv",
    ).id
    db.session.commit()
    return created


def a_new_customer(app, tenants) -> None:
    with in_app(app):
        new_customer(user(tenants.a.admin), "Aaaa Nykund AB", "ny@nykund.example")


def a_month_later(app, tenants) -> None:
    app.config["VIP_TODAY"] = (TODAY + timedelta(days=31)).isoformat()


def another_language(app, tenants, client) -> None:
    assert client.post("/language", data={"language": "en"}).status_code == 303


CHANGES = [
    an_order,
    a_license_assigned,
    a_license_taken_back,
    the_catalog_changed,
    the_vip_admin_deactivated,
    the_reseller_moved_time_zone,
    a_new_customer,
    a_month_later,
    another_language,
]


@pytest.fixture
def admin_a(app, tenants, client, login_as):
    an_order(app, tenants)  # the overview shows the customer from its first order on
    app.config["VIP_TODAY"] = TODAY.isoformat()
    login_as(tenants.a.admin)
    return client


def test_a_kept_region_is_what_a_fresh_render_shows_after_every_kind_of_change(
    app, tenants, admin_a
):
    client = admin_a
    for change in CHANGES:
        before = {page: fetch(app, client, *page, cached=True) for page in pages(tenants)}
        if change is another_language:
            change(app, tenants, client)
        else:
            change(app, tenants)
        changed = 0
        for page in pages(tenants):
            kept = fetch(app, client, *page, cached=True)
            assert kept == fetch(app, client, *page, cached=False), (change.__name__, page)
            changed += kept != before[page]
        assert changed, change.__name__  # each change shows somewhere


def statements_of(app, client, path: str, headers: dict) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return [text for text in seen if text != "BEGIN"]


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/customers", {}, 1),  # the user with its reseller (and its change counter)
        ("/customers", HX, 1),
        ("/renewals", {}, 1),
        ("/renewals", HX, 1),
        ("/customers/<id>/info", {}, 2),  # + the customer (may this user see it?)
        ("/customers/<id>/info", HX, 2),
    ],
)
def test_a_kept_region_reads_none_of_its_data(app, tenants, admin_a, path, headers, expected):
    path = path.replace("<id>", str(tenants.a.customer.id))
    first = statements_of(app, admin_a, path, headers)
    kept = statements_of(app, admin_a, path, headers)
    assert len(kept) == expected, kept
    assert len(first) > len(kept) + 2, first


def test_s75_each_session_gets_its_own_csrf_token_in_a_kept_region(csrf_app):
    """VIP information of a customer whose invitation awaits carries a form; the region
    kept from one session's render serves another session of the same user, with the
    other session's token (a POST with it passes the CSRF check)."""
    with in_app(csrf_app):
        admin = build_tenant("Token AB", "t").admin
        email = admin.email
        invited = new_customer(admin, "Inbjuden AB", "admin@inbjuden.example")
    first, second = csrf_app.test_client(), csrf_app.test_client()
    for client in (first, second):
        login = client.get("/login").get_data(as_text=True)
        response = client.post(
            "/login",
            data={
                "email": email,
                "password": PASSWORD,
                "csrf_token": csrf_token_in(login),
            },
        )
        assert response.status_code == 303
    path = f"/customers/{invited}/info"
    first_page = first.get(path, headers=HX).get_data(as_text=True)
    second_page = second.get(path, headers=HX).get_data(as_text=True)
    assert "/invitation/resend" in first_page and "/invitation/resend" in second_page
    tokens = [
        re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        for page in (
            first_page,
            second_page,
        )
    ]
    assert tokens[0] != tokens[1]
    # the second session's token from the kept region works for it, the first's does not
    refused = second.post(f"/customers/{invited}/invitation/resend", data={"csrf_token": tokens[0]})
    assert refused.status_code == 400
    sent = second.post(f"/customers/{invited}/invitation/resend", data={"csrf_token": tokens[1]})
    assert sent.status_code == 303


def test_s75_a_kept_region_never_reaches_another_reseller(app, tenants, admin_a, login_as):
    a_page = admin_a.get("/renewals").get_data(as_text=True)
    assert f'id="renewal-row-{tenants.a.customer.id}"' in a_page
    admin_a.get(f"/customers/{tenants.a.customer.id}/info")
    other = app.test_client()
    login = other.post("/login", data={"email": tenants.b.admin.email, "password": PASSWORD})
    assert login.status_code == 303
    assert f"renewal-row-{tenants.a.customer.id}" not in other.get("/renewals").get_data(
        as_text=True
    )
    assert tenants.a.customer.company_name not in other.get("/customers").get_data(as_text=True)
    assert other.get(f"/customers/{tenants.a.customer.id}/info").status_code == 404
    assert other.get(f"/customers/{tenants.a.customer.id}/info", headers=HX).status_code == 404
