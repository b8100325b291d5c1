"""Walks app.url_map: every route demands a session (S9) and answers 404 for another
tenant's ids (S10). A new route is covered automatically, or fails here until its
path parameters have a sample below."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.conftest import HX
from vip import create_app

PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.second_factor",  # the password step's session is the key (test_two_factor_http.py)
    "invitations.accept",
    "auth.set_password",  # the link is the key (tests/web/test_reseller_setup_http.py)
    "i18n.switch_language",
    "home.health",
    "calendar_feed.feed",  # the token is the key (tests/web/test_calendar_feed_http.py)
    "api_reference.openapi_document",  # the API's OpenAPI document: no data
    "api_reference.reference",  # its reference page
}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _rules():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    return sorted(
        (rule.endpoint, rule.rule, tuple(sorted(rule.methods - IGNORED_METHODS)))
        for rule in app.url_map.iter_rules()
    )


def _is_api(endpoint: str) -> bool:
    """The JSON API's own walk (tests/api/test_api.py): a key, never a session, and 404 for
    another reseller's ids."""
    from vip.web.api.resources import BLUEPRINTS

    return endpoint.split(".")[0] in {module.bp.name for module in BLUEPRINTS}


RULES = _rules()
PRIVATE_RULES = [rule for rule in RULES if rule[0] not in PUBLIC_ENDPOINTS and not _is_api(rule[0])]
# Routes with an object id in the path; list pages are scoped by their queries, tested below.
OBJECT_RULES = [rule for rule in PRIVATE_RULES if re.search(r"<(?:\w+:)?\w+_id>", rule[1])]


def test_public_routes_are_exactly_the_listed_ones():
    assert {rule[0] for rule in RULES} >= PUBLIC_ENDPOINTS
    assert len(OBJECT_RULES) >= 4  # the walk below really walks something


def _samples(objects) -> dict:
    """A value per path parameter, taken from the given tenant's objects."""
    tenant = objects.tenant
    return {
        "order_id": objects.order.id,
        "return_id": objects.return_request.id,
        "decision": "approve",
        "notification_id": objects.notification_id,
        "customer_id": tenant.customer.id,
        "user_id": tenant.sales.id,
        "pa_id": tenant.authorization.id,
        "tab": "info",
        "section": "order_due",  # a dashboard section
        "token": "x",
        "language": "sv",  # a sample import file's language
        "filename": "app.css",
        "assignment_id": objects.assignment_id,
        # A product the tenant's customer does not hold (products are the shared catalog).
        "product_id": objects.unheld_product_id,
        "endpoint_id": objects.webhook_endpoint_id,
        "delivery_id": objects.webhook_delivery_id,
        "key_id": objects.api_key_id,
    }


def _url(app, endpoint: str, rule_path: str, samples: dict) -> str:
    from flask import url_for

    rule = next(
        r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_path
    )
    missing = [name for name in rule.arguments if name not in samples]
    assert not missing, f"add a sample for {missing} of {rule_path} in tests/web/test_routes.py"
    with app.test_request_context():
        return url_for(endpoint, **{name: samples[name] for name in rule.arguments})


@pytest.mark.parametrize(("endpoint", "path", "methods"), PRIVATE_RULES)
def test_s9_every_route_demands_a_session(app, client, full_tenants, endpoint, path, methods):
    url = _url(app, endpoint, path, _samples(full_tenants["a"]))
    for method in methods:
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/login"), (method, url)
        htmx = client.open(url, method=method, headers=HX)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize(("endpoint", "path", "methods"), OBJECT_RULES)
@pytest.mark.parametrize("role", ["admin", "sales", "vip_admin"])
def test_s10_another_tenants_ids_answer_404(
    app, client, full_tenants, login_as, endpoint, path, methods, role
):
    tenants = SimpleNamespace(a=full_tenants["a"].tenant, b=full_tenants["b"].tenant)
    login_as(getattr(tenants.a, role))
    url = _url(app, endpoint, path, _samples(full_tenants["b"]))
    own_name = tenants.b.customer.company_name
    for method in methods:
        response = client.open(url, method=method)
        # Another tenant's object is "not found"; a role that may not act at all gets 403.
        assert response.status_code in (404, 403), (method, url, response.status_code)
        # The Admin Console is the VIP admin's; the other routes are the reseller's.
        own_area = endpoint.startswith("admin_console.") == (role == "vip_admin")
        if own_area and role != "sales":
            assert response.status_code == 404, (method, url)
        assert own_name not in response.get_data(as_text=True)


def _customer_tabs() -> list[str]:
    from vip.web.customers import TABS

    return [key for key, _ in TABS]


@pytest.mark.parametrize("tab", _customer_tabs())
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_s10_every_customer_tab_of_another_tenant_answers_404(
    app, client, full_tenants, login_as, tab, headers
):
    """The walk above samples one tab ("info"); every tab (the Timeline among them) is a
    value of the same route's <tab>, so each is walked here."""
    from flask import url_for

    login_as(full_tenants["a"].tenant.admin)
    other = full_tenants["b"].tenant.customer
    own = full_tenants["a"].tenant.customer
    with app.test_request_context():
        url = url_for("customers.tab", customer_id=other.id, tab=tab)
        own_url = url_for("customers.tab", customer_id=own.id, tab=tab)
    response = client.get(url, headers=headers)
    assert response.status_code == 404, (url, response.status_code)
    assert other.company_name not in response.get_data(as_text=True)
    assert client.get(own_url, headers=headers).status_code == 200, own_url


def test_s10_vip_admin_sees_only_its_console(client, tenants, login_as):
    login_as(tenants.a.vip_admin)
    assert client.get("/customers").status_code == 403
    assert client.get(f"/customers/{tenants.a.customer.id}/info").status_code == 403
    assert client.get("/console").headers["Location"] == f"/console/{tenants.a.customer.id}"
    console = client.get(f"/console/{tenants.a.customer.id}")
    assert console.status_code == 200
    html = console.get_data(as_text=True)
    assert tenants.a.customer.vip_id in html
    assert tenants.b.customer.company_name not in html
    assert client.get(f"/console/{tenants.b.customer.id}").status_code == 404


def test_s10_denied_access_changes_nothing_and_is_audited(app, client, tenants, login_as):
    from vip.extensions import db
    from vip.models import AuditEvent, User

    login_as(tenants.a.admin)
    response = client.post(f"/team/{tenants.b.sales.id}/deactivate")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(User, tenants.b.sales.id).active is True
        denial = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "access.denied_not_found")
        ).all()
        assert denial and denial[-1].actor_id == tenants.a.admin.id


def test_list_pages_show_only_own_tenant(client, tenants, login_as):
    login_as(tenants.a.admin)
    html = client.get("/customers").get_data(as_text=True)
    assert tenants.a.customer.company_name in html
    assert tenants.b.customer.company_name not in html
    team = client.get("/team").get_data(as_text=True)
    assert tenants.a.sales.email in team and tenants.b.sales.email not in team
    search = client.get("/customers", query_string={"q": tenants.b.customer.vip_id})
    assert tenants.b.customer.company_name not in search.get_data(as_text=True)


def _integer_id_rules():
    """Every (endpoint, path, methods, names of its integer parameters) of the route table."""
    from werkzeug.routing import IntegerConverter

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    found = []
    for rule in app.url_map.iter_rules():
        names = sorted(
            name
            for name, converter in rule._converters.items()
            if isinstance(converter, IntegerConverter)
        )
        if names:
            methods = tuple(sorted(rule.methods - IGNORED_METHODS))
            found.append((rule.endpoint, rule.rule, methods, tuple(names)))
    return sorted(found)


INTEGER_ID_RULES = _integer_id_rules()
#: Beyond PostgreSQL's integer, beyond SQLite's (and PostgreSQL's bigint), and absurd.
HUGE_IDS = (str(2**31), str(2**63), str(10**30), "9" * 5000)


def test_s28_row3_the_walk_finds_every_integer_id_route():
    # The 21 routes of the hostile test at least; a new one joins the walk by itself.
    assert len(INTEGER_ID_RULES) >= 21
    assert {"customers.details", "team.deactivate", "authorizations.cancel"} <= {
        rule[0] for rule in INTEGER_ID_RULES
    }


@pytest.mark.parametrize(("endpoint", "path", "methods", "names"), INTEGER_ID_RULES)
@pytest.mark.parametrize("role", ["admin", "vip_admin"])
def test_s28_row3_huge_integer_ids_answer_404(
    app, client, full_tenants, login_as, endpoint, path, methods, names, role
):
    """Ids beyond the database's integer range answer 404 on every route with one, on
    SQLite and PostgreSQL alike; the largest id that can exist answers 404 too (no row)."""
    login_as(getattr(full_tenants["a"].tenant, role))
    samples = _samples(full_tenants["a"])
    own_url = _url(app, endpoint, path, samples)
    for huge in (*HUGE_IDS, str(2**31 - 1)):
        url = own_url
        for name in names:
            # The sample's own value, in its place in the path, swapped for the huge one.
            url = re.sub(rf"/{samples[name]}(?=/|$)", f"/{huge}", url, count=1)
        assert url != own_url, (endpoint, names)
        for method in methods:
            response = client.open(url, method=method)
            if huge == str(2**31 - 1) and response.status_code == 403:
                continue  # a role that may not act at all learns nothing more
            assert response.status_code == 404, (method, url[:80], response.status_code)


@pytest.mark.parametrize("path", ["/customers", "/renewals"])
@pytest.mark.parametrize("page", [str(2**31), str(2**63), "9" * 30])
def test_s28_row3_a_page_number_past_every_row_is_clamped(
    client, tenants, login_as, monkeypatch, path, page
):
    """Beyond the count cap a list cannot clamp the page to its last one; the number is
    clamped to what the database's offset can hold."""
    from vip.services import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 0)  # every list is "more than the cap"
    login_as(tenants.a.admin)
    response = client.get(path, query_string={"page": page})
    assert response.status_code == 200, (path, page)
