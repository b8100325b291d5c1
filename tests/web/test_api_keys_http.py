"""API-nycklar / API keys (S60, S61): a partner admin creates, names, scopes and revokes
keys; the key is shown once; the page works with htmx and without JavaScript."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.conftest import HX
from tests.support import count, in_app
from vip.extensions import db
from vip.models import ApiKey, ApiKeyScope, AuditEvent

SECRET = re.compile(r'value="(vip_[A-Za-z0-9_-]{40,})"')


def _keys(app):
    with in_app(app):
        return [
            (key.name, key.scope, key.revoked_at is not None)
            for key in db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id))
        ]


def test_the_page_is_the_partner_admins_in_both_languages(client, login_as, tenants):
    login_as(tenants.a.admin)
    page = client.get("/settings/api-keys")
    assert page.status_code == 200
    assert "<h1>API-nycklar</h1>" in page.get_data(as_text=True)
    client.post("/language", data={"language": "en"})
    assert "<h1>API keys</h1>" in client.get("/settings/api-keys").get_data(as_text=True)
    assert "/settings/api-keys" in client.get("/settings").get_data(as_text=True)


def test_sales_users_may_not_manage_keys(app, client, login_as, tenants):
    login_as(tenants.a.sales)
    assert client.get("/settings/api-keys").status_code == 403
    assert client.post("/settings/api-keys", data={"name": "ERP"}).status_code == 403
    assert _keys(app) == []


def test_s60_a_new_key_is_shown_once_without_javascript(app, client, api, login_as, tenants):
    login_as(tenants.a.admin)
    created = client.post("/settings/api-keys", data={"name": "  Odoo  ERP ", "scope": "write"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    secret = SECRET.search(html)[1]
    assert _keys(app) == [("Odoo ERP", ApiKeyScope.WRITE, False)]
    again = client.get("/settings/api-keys").get_data(as_text=True)
    assert secret not in again and secret[:12] in again  # the prefix tells keys apart
    assert "Set-Cookie" not in created.headers or secret not in created.headers["Set-Cookie"]
    assert api.get("/api/v1/customers", key=secret).status_code == 200


def test_s60_htmx_creation_answers_the_keys_panel(app, client, login_as, tenants):
    login_as(tenants.a.admin)
    response = client.post("/settings/api-keys", data={"name": "Billing"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="api-keys">') and "<html" not in html
    assert SECRET.search(html) and "hx-swap-oob" in html
    assert _keys(app) == [("Billing", ApiKeyScope.READ, False)]  # read unless asked


def test_bad_input_is_refused_at_the_field_and_nothing_is_written(app, client, login_as, tenants):
    login_as(tenants.a.admin)
    for data in ({"name": "x"}, {"name": "ERP", "scope": "admin"}, {"name": "E\x01RP"}):
        response = client.post("/settings/api-keys", data=data)
        assert response.status_code == 422, data
        assert 'class="error"' in response.get_data(as_text=True)
        htmx = client.post("/settings/api-keys", data=data, headers=HX)
        assert htmx.status_code == 422 and 'class="error"' in htmx.get_data(as_text=True)
    assert _keys(app) == []


def test_s61_revoking_stops_the_key_and_is_audited(app, client, api, login_as, tenants):
    login_as(tenants.a.admin)
    html = client.post("/settings/api-keys", data={"name": "ERP", "scope": "write"}).get_data(
        as_text=True
    )
    secret = SECRET.search(html)[1]
    with in_app(app):
        key_id = db.session.scalar(sa.select(ApiKey.id))
    response = client.post(f"/settings/api-keys/{key_id}/revoke")
    assert response.status_code == 303
    assert _keys(app) == [("ERP", ApiKeyScope.WRITE, True)]
    assert api.get("/api/v1/customers", key=secret).status_code == 401
    again = client.post(f"/settings/api-keys/{key_id}/revoke", headers=HX)
    assert again.status_code == 200 and "redan återkallad" in again.get_data(as_text=True)
    with in_app(app):
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("api_key.%"))
        ).all()
        assert actions == ["api_key.created", "api_key.revoked"]
        assert count(AuditEvent, AuditEvent.action == "api_key.revoked") == 1


def test_s10_another_resellers_key_cannot_be_revoked(app, client, login_as, full_tenants):
    login_as(full_tenants["a"].tenant.admin)
    other = full_tenants["b"].api_key_id
    assert client.post(f"/settings/api-keys/{other}/revoke").status_code == 404
    with in_app(app):
        key = db.session.get(ApiKey, other)
        assert key.revoked_at is None
    assert key.prefix not in client.get("/settings/api-keys").get_data(as_text=True)
