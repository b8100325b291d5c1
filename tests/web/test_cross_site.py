"""S36 (issue 15, row 13): a state change another site made the browser send is refused,
even with a valid CSRF token; requests without the headers keep working."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, build_tenant
from tests.support import count, csrf_token_in, in_app
from vip.models import AuditEvent, Customer
from vip.web import security

FORM = {
    "company_name": "Cross Site AB",
    "country": "SE",
    "market_segment": "commercial",
    "admin_name": "Cross Site",
    "admin_email": "cross@example.com",
    "admin_language": "sv",
}


@pytest.fixture
def signed_in(csrf_app):
    """A partner admin signed in with CSRF on, and a valid token for the next form."""
    with in_app(csrf_app):
        email = build_tenant("Origin AB", "o").admin.email
    client = csrf_app.test_client()
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    signed = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 303
    return client


def _create(client, headers: dict):
    token = csrf_token_in(client.get("/customers/new").get_data(as_text=True))
    return client.post("/customers/new", data={**FORM, "csrf_token": token}, headers=headers)


def _created(app) -> int:
    with in_app(app):
        return count(Customer, Customer.company_name == FORM["company_name"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "http://localhost:8080"},  # another port is another origin
        {"Origin": "null"},  # a sandboxed frame or a cross-site redirect
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
    ],
    ids=["other-site", "suffix", "other-port", "null", "fetch-site", "fetch-site-wins"],
)
def test_s36_row13_a_foreign_origin_is_refused_even_with_a_valid_token(
    csrf_app, signed_in, headers
):
    response = _create(signed_in, headers)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    # The partner admin's language is Swedish: the page is translated.
    assert "Begäran kom från en annan webbplats" in html
    assert _created(csrf_app) == 0
    with in_app(csrf_app):
        assert count(AuditEvent, AuditEvent.action == "access.denied_cross_site") == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a test client, curl, an old browser: CSRF alone decides
        {"Origin": "http://localhost"},
        {"Origin": "http://LOCALHOST", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the user
    ],
    ids=["no-headers", "same-origin", "same-origin-case", "fetch-same-origin", "fetch-none"],
)
def test_s36_row13_this_sites_requests_keep_working(csrf_app, signed_in, headers):
    assert _create(signed_in, headers).status_code == 303
    assert _created(csrf_app) == 1


def test_s36_row13_the_base_url_is_this_site_behind_a_proxy(csrf_app, signed_in):
    """Behind an HTTPS proxy the app may see another Host and scheme than the browser's
    address bar; the browser's Origin is then VIP_BASE_URL's."""
    csrf_app.config["VIP_BASE_URL"] = "https://vip.example.com/console"
    assert _create(signed_in, {"Origin": "https://vip.example.com"}).status_code == 303
    assert _created(csrf_app) == 1


def test_s36_row13_safe_methods_are_not_refused(signed_in):
    response = signed_in.get("/customers/new", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200


def test_s36_row13_signing_in_from_another_site_is_refused(csrf_app):
    """Login CSRF: another site cannot sign the browser in to an account of its choosing."""
    with in_app(csrf_app):
        email = build_tenant("Login Origin AB", "l").admin.email
    client = csrf_app.test_client()
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert client.get("/customers").status_code == 302  # not signed in


def test_s36_row13_only_the_api_blueprints_are_exempted_by_name(csrf_app, signed_in, monkeypatch):
    """The one place to exempt a blueprint authenticated without cookies: the API's, with
    bearer keys (tests/api/test_api.py); every page's blueprint is checked, and naming one
    is all it takes to exempt it."""
    under_api = {
        name
        for name, blueprint in csrf_app.blueprints.items()
        if (blueprint.url_prefix or "").startswith("/api/")
    }
    assert "Customers" in security.CROSS_SITE_BLUEPRINTS  # the API's customers resource
    assert security.CROSS_SITE_BLUEPRINTS <= under_api
    monkeypatch.setattr(security, "CROSS_SITE_BLUEPRINTS", {"customers"})
    assert _create(signed_in, {"Sec-Fetch-Site": "cross-site"}).status_code == 303
