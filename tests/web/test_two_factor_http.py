"""Two-factor sign-in through HTTP (docs/security.md S40, S42-S44): the sign-in's second
step, enrolment with the QR code and the key, the reseller's requirement with enrolment as
the only page, and the Team page's reset. The clock is fixed (`fixed_now`)."""

from __future__ import annotations

import re

from tests.conftest import HX, PASSWORD, login
from tests.support import count, enrol_two_factor, in_app, totp_code, user
from vip.extensions import db
from vip.models import AuditEvent
from vip.services import two_factor


def _enrolled(app, user_id, fixed_now) -> str:
    with in_app(app):
        secret, _ = enrol_two_factor(user_id, now=fixed_now.at)
    fixed_now.advance(seconds=30)
    return secret


def test_s40_password_then_code_signs_in(app, client, tenants, fixed_now):
    secret = _enrolled(app, tenants.a.sales.id, fixed_now)
    response = client.post(
        "/login",
        data={"email": tenants.a.sales.email, "password": PASSWORD, "next": "/renewals"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/login/code"
    # Not signed in yet: every page still asks for a sign-in.
    assert client.get("/customers").status_code == 302
    page = client.get("/login/code")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    done = client.post("/login/code", data={"code": totp_code(secret, fixed_now.at)})
    assert done.status_code == 303 and done.headers["Location"] == "/renewals"
    assert client.get("/customers").status_code == 200


def test_s40_a_wrong_code_answers_422_at_the_field_and_counts(app, client, tenants, fixed_now):
    _enrolled(app, tenants.a.sales.id, fixed_now)
    login(client, tenants.a.sales.email)
    response = client.post("/login/code", data={"code": "000000"})
    assert response.status_code == 422
    assert 'id="code-error"' in response.get_data(as_text=True)
    with in_app(app):
        assert user(tenants.a.sales).failed_logins == 1
        assert count(AuditEvent, AuditEvent.action == "two_factor.failed") == 1
    assert client.get("/customers").status_code == 302


def test_s40_the_code_step_expires_after_five_minutes(app, client, tenants, fixed_now):
    secret = _enrolled(app, tenants.a.sales.id, fixed_now)
    login(client, tenants.a.sales.email)
    fixed_now.advance(minutes=5, seconds=1)
    response = client.post("/login/code", data={"code": totp_code(secret, fixed_now.at)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/customers").status_code == 302


def test_s40_code_step_without_a_password_step_leads_to_sign_in(client):
    response = client.post("/login/code", data={"code": "123456"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"


def test_s40_a_replayed_code_is_refused_over_http(app, tenants, fixed_now):
    secret = _enrolled(app, tenants.a.sales.id, fixed_now)
    code = totp_code(secret, fixed_now.at)
    first, second = app.test_client(), app.test_client()
    login(first, tenants.a.sales.email)
    login(second, tenants.a.sales.email)
    assert first.post("/login/code", data={"code": code}).status_code == 303
    assert second.post("/login/code", data={"code": code}).status_code == 422
    assert second.get("/customers").status_code == 302


def test_s40_enrolment_page_shows_qr_code_and_key_and_turns_it_on(
    app, client, tenants, login_as, fixed_now
):
    login_as(tenants.a.sales)
    page = client.get("/account/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "<path" in html  # drawn on the server
    key = re.search(r'<code class="manual-key" id="manual-key">([A-Z2-7 ]+)</code>', html)
    secret = key.group(1).replace(" ", "")
    assert len(secret) == 32
    # The same key until it is confirmed, whatever reloads the page.
    assert key.group(1) in client.get("/account/two-factor").get_data(as_text=True)
    wrong = client.post("/account/two-factor", data={"code": "000000"})
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.get_data(as_text=True)
    done = client.post("/account/two-factor", data={"code": totp_code(secret, fixed_now.at)})
    codes = re.findall(
        r"<li><code>([A-Z2-9]{5}-[A-Z2-9]{5})</code></li>", done.get_data(as_text=True)
    )
    assert done.status_code == 200 and len(codes) == 10
    with in_app(app):
        assert user(tenants.a.sales).totp_secret == secret
    # Shown once: the page now says it is on, and shows no code and no key.
    after = client.get("/account/two-factor").get_data(as_text=True)
    assert codes[0] not in after and secret not in after and "<svg" not in after


def test_s44_vip_admin_can_enrol_from_the_admin_console(app, client, tenants, login_as):
    login_as(tenants.a.vip_admin)
    assert "/account/two-factor" in client.get("/account/password").get_data(as_text=True)
    assert client.get("/account/two-factor").status_code == 200


def test_s43_required_second_factor_makes_enrolment_the_only_page(
    app, client, tenants, login_as, fixed_now
):
    with in_app(app):
        two_factor.set_requirement(user=user(tenants.a.admin), required=True)
    response = login(client, tenants.a.sales.email)
    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor"
    for path in (
        "/",
        "/customers",
        f"/customers/{tenants.a.customer.id}/info",
        "/account/password",
    ):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/account/two-factor"
    assert client.get("/", headers=HX).headers["HX-Redirect"] == "/account/two-factor"
    blocked_post = client.post(f"/authorizations/{tenants.a.authorization.id}/cancel")
    assert blocked_post.status_code == 303
    html = client.get("/account/two-factor").get_data(as_text=True)
    assert "requires two-factor sign-in" in html or "kräver" in html
    secret = re.search(r'id="manual-key">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    client.post("/account/two-factor", data={"code": totp_code(secret, fixed_now.at)})
    assert client.get("/customers").status_code == 200
    # Another tenant's users are not affected.
    assert login(app.test_client(), tenants.b.sales.email).headers["Location"] == "/"


def test_s43_requirement_switch_on_the_settings_page(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    assert 'name="required"' in client.get("/settings").get_data(as_text=True)
    assert client.post("/settings/two-factor", data={"required": "y"}).status_code == 303
    with in_app(app):
        assert user(tenants.a.admin).reseller.require_two_factor
        assert count(AuditEvent, AuditEvent.action == "reseller.two_factor_required") == 1
    assert client.post("/settings/two-factor", data={}).status_code == 303
    with in_app(app):
        assert not user(tenants.a.admin).reseller.require_two_factor


def test_s43_sales_user_cannot_require_it(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    assert client.post("/settings/two-factor", data={"required": "y"}).status_code == 403
    with in_app(app):
        assert not user(tenants.a.sales).reseller.require_two_factor


def test_s44_team_page_resets_a_members_second_factor(app, client, tenants, login_as, fixed_now):
    _enrolled(app, tenants.a.sales.id, fixed_now)
    login_as(tenants.a.admin)
    html = client.get("/team").get_data(as_text=True)
    assert f"/team/{tenants.a.sales.id}/reset-two-factor" in html
    response = client.post(f"/team/{tenants.a.sales.id}/reset-two-factor")
    assert response.status_code == 303
    with in_app(app):
        assert not user(tenants.a.sales).two_factor_enabled
        assert count(AuditEvent, AuditEvent.action == "two_factor.reset") == 1
    # After the reset the password alone signs in again.
    assert login(app.test_client(), tenants.a.sales.email).headers["Location"] == "/"


def test_s44_reset_of_another_tenants_user_is_404(app, client, tenants, login_as, fixed_now):
    _enrolled(app, tenants.b.sales.id, fixed_now)
    login_as(tenants.a.admin)
    assert client.post(f"/team/{tenants.b.sales.id}/reset-two-factor").status_code == 404
    with in_app(app):
        assert user(tenants.b.sales).two_factor_enabled
        assert db.session.get(type(user(tenants.b.sales)), tenants.b.sales.id).totp_secret
