"""Throttling (docs/security.md S47-S49): sign-in, second factor, password change,
invitation acceptance and resend, and calendar-feed fetches, each limited per client
address and per account; a refused request answers 429 with Retry-After, translated, a
partial for htmx, audited once per window. The limits are lowered here (VIP_RATE_LIMITS);
the defaults are high enough for people and for the rest of the suite."""

from __future__ import annotations

import pytest

from tests.conftest import HX, PASSWORD, login
from tests.support import count, in_app
from vip.config import Config
from vip.models import AuditEvent

LOW = {
    action: {"address": "5 per minute", "account": "3 per minute"}
    for action in Config.VIP_RATE_LIMITS
}


@pytest.fixture
def app_config():
    return {"VIP_RATE_LIMITS": LOW}


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_s47_sign_in_is_limited_per_account_across_addresses(app, client, tenants):
    for number in range(3):
        response = client.post(
            "/login",
            data={"email": tenants.a.sales.email, "password": "wrong password!"},
            **_from(f"10.0.0.{number}"),
        )
        assert response.status_code == 400
    refused = client.post(
        "/login",
        data={"email": tenants.a.sales.email.upper(), "password": PASSWORD},
        **_from("10.0.0.9"),
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another account from the same addresses is not affected.
    other = client.post(
        "/login", data={"email": tenants.a.admin.email, "password": PASSWORD}, **_from("10.0.0.9")
    )
    assert other.status_code == 303


def test_s47_sign_in_is_limited_per_address_across_accounts(app, tenants):
    client = app.test_client()
    for number in range(5):
        response = client.post(
            "/login",
            data={"email": f"guess{number}@example.com", "password": "whatever12345"},
            **_from("192.0.2.7"),
        )
        assert response.status_code == 400
    refused = client.post(
        "/login", data={"email": tenants.a.admin.email, "password": PASSWORD}, **_from("192.0.2.7")
    )
    assert refused.status_code == 429
    # Only the sign-in's POST counts: the page itself still opens.
    assert client.get("/login", **_from("192.0.2.7")).status_code == 200
    # Another address signs in.
    ok = client.post(
        "/login", data={"email": tenants.a.admin.email, "password": PASSWORD}, **_from("192.0.2.8")
    )
    assert ok.status_code == 303


def test_s49_refusal_is_translated_and_audited_once_per_window(app, client, tenants):
    for _ in range(3):
        login(client, tenants.a.sales.email, "wrong password!")
    answers = [login(client, tenants.a.sales.email, "wrong password!") for _ in range(3)]
    assert {answer.status_code for answer in answers} == {429}
    html = answers[0].get_data(as_text=True)
    assert "<h1>För många förfrågningar</h1>" in html  # Swedish by default
    with in_app(app):
        assert count(AuditEvent, AuditEvent.action == "request.throttled") == 1
        event = AuditEvent.query.filter_by(action="request.throttled").one()
        assert event.reseller_id == tenants.a.reseller.id
        assert event.object_id == str(tenants.a.sales.id)
        assert event.details["endpoint"] == "auth.login"
        assert "wrong password" not in str(event.details)


def test_s49_htmx_gets_the_message_in_the_flash_region(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    url = f"/customers/{tenants.a.customer.id}/invitation/resend"
    statuses = [client.post(url, headers=HX).status_code for _ in range(4)]
    assert statuses[-1] == 429, statuses
    refused = client.post(url, headers=HX)
    assert refused.headers["HX-Retarget"] == "#flash"
    assert refused.headers["HX-Reswap"] == "innerHTML"
    assert "Retry-After" in refused.headers
    body = refused.get_data(as_text=True)
    assert "<html" not in body and 'class="flash flash-error"' in body


def test_s47_password_change_is_limited_per_account(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    data = {"current_password": "wrong password!", "password": "x" * 20, "confirm": "x" * 20}
    statuses = [client.post("/account/password", data=data).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_s47_second_factor_is_limited_per_pending_account(app, client, tenants, fixed_now):
    from tests.support import enrol_two_factor

    with in_app(app):
        enrol_two_factor(tenants.a.sales.id, now=fixed_now.at)
    login(client, tenants.a.sales.email)
    statuses = [client.post("/login/code", data={"code": "000000"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_s48_invitation_acceptance_is_limited(app, client, tenants):
    statuses = [client.post("/invitations/not-a-real-token", data={}).status_code for _ in range(4)]
    assert 429 not in statuses[:3] and statuses[3] == 429


def test_s48_calendar_feed_is_limited_per_link(app, client, tenants):
    statuses = [client.get("/calendar/unknown-token.ics").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_s47_default_limits_cover_every_throttled_action():
    for action in (
        "sign_in",
        "second_factor",
        "password_change",
        "invitation_accept",
        "invitation_resend",
        "calendar_feed",
    ):
        limits = Config.VIP_RATE_LIMITS[action]
        assert set(limits) == {"address", "account"}


def test_s47_trusted_proxy_count_makes_the_client_address_the_forwarded_one(database):
    from tests.conftest import empty_all_tables, make_app

    app = make_app(database, "proxied", VIP_TRUSTED_PROXIES=1, VIP_RATE_LIMITS=LOW)
    try:
        client = app.test_client()
        for number in range(5):
            client.post(
                "/login",
                data={"email": f"g{number}@example.com", "password": "whatever12345"},
                headers={"X-Forwarded-For": "203.0.113.5"},
            )
        refused = client.post(
            "/login",
            data={"email": "g9@example.com", "password": "whatever12345"},
            headers={"X-Forwarded-For": "203.0.113.5"},
        )
        other = client.post(
            "/login",
            data={"email": "g9@example.com", "password": "whatever12345"},
            headers={"X-Forwarded-For": "203.0.113.6"},
        )
        assert (refused.status_code, other.status_code) == (429, 400)
    finally:
        empty_all_tables(app)
