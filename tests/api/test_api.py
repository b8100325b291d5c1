"""The JSON API (docs/api.md; S60-S66): keys, every resource through the services, problem
details, tenant isolation, the rate limit and idempotency. Every response is validated
against the OpenAPI document by the `api` fixture (tests/api/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.api.conftest import make_key
from tests.conftest import TODAY
from tests.support import count, in_app, pid
from vip.extensions import db
from vip.models import (
    ApiKey,
    AuditEvent,
    AuthorizationStatus,
    Customer,
    IdempotentRequest,
    Notification,
    PurchaseAuthorization,
    ReturnAuthorization,
)
from vip.services import api_keys
from vip.services.bearer_secrets import digest_of

PROBLEM = "urn:vip-reseller-console:problem:"
NEW_CUSTOMER = {
    "company_name": "Api Kund AB",
    "country": "SE",
    "market_segment": "commercial",
    "admin_name": "Ada Admin",
    "admin_email": "ada@api-kund.example",
    "admin_language": "sv",
}


def _pa_body(sku="65297921CA01A12", quantity=3):
    return {
        "license_type": "team",
        "lines": [{"sku": sku, "quantity": quantity}],
        "deployment_date": TODAY.isoformat(),
        "customer_po_number": "PO-API-1",
    }


def _sku(app, name="Photoshop"):
    from vip.models import Product

    with in_app(app):
        return db.session.get(Product, pid(name)).sku


# -- Keys (S60-S63) -------------------------------------------------------------------------


def test_s60_a_key_is_stored_only_as_its_hash_and_creation_is_audited(app, tenants):
    secret = make_key(app, tenants.a.admin.id, "read")
    with in_app(app):
        key = db.session.scalar(sa.select(ApiKey))
        assert secret.startswith("vip_") and len(secret) >= 40
        assert key.key_hash == digest_of(secret) and secret not in repr(vars(key))
        assert key.prefix == secret[:12]
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "api_key.created")
        )
        assert event.actor_id == tenants.a.admin.id and secret not in str(event.details)


def test_s61_without_a_valid_key_every_request_is_401(api, keys, tenants):
    vip_id = tenants.a.customer.vip_id
    for key in (None, "vip_unknown", "not-even-a-key", keys.a_write + "x"):
        response = api.get(f"/api/v1/customers/{vip_id}", key=key)
        assert response.status_code == 401
        assert response.get_json()["type"] == PROBLEM + "unauthenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get(f"/api/v1/customers/{vip_id}", key=keys.a_write).status_code == 200


def test_s61_a_revoked_key_is_401_at_once_and_revocation_is_audited(app, api, keys, tenants):
    with in_app(app):
        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest_of(keys.a_write)))
        admin = db.session.get(type(tenants.a.admin), tenants.a.admin.id)
        api_keys.revoke_key(user=admin, key_id=key.id, now=api_keys_now())
        assert count(AuditEvent, AuditEvent.action == "api_key.revoked") == 1
    assert api.get("/api/v1/customers", key=keys.a_write).status_code == 401
    assert api.get("/api/v1/customers", key=keys.a_read).status_code == 200


def api_keys_now():
    from vip import clock

    return clock.now()


def test_s61_a_deactivated_creators_keys_stop_working(app, api, keys, tenants):
    with in_app(app):
        admin = db.session.get(type(tenants.a.admin), tenants.a.admin.id)
        admin.active = False
        db.session.commit()
    assert api.get("/api/v1/customers", key=keys.a_write).status_code == 401
    assert api.get("/api/v1/customers", key=keys.b_write).status_code == 200


def test_s62_a_read_only_key_may_not_write_and_nothing_changes(app, api, keys):
    response = api.post("/api/v1/customers", key=keys.a_read, json=NEW_CUSTOMER)
    assert response.status_code == 403
    assert response.get_json()["type"] == PROBLEM + "read-only-key"
    with in_app(app):
        assert count(Customer, Customer.company_name == NEW_CUSTOMER["company_name"]) == 0


def test_s63_a_session_cookie_authenticates_nothing_and_none_is_set(
    app, api, client, login_as, tenants
):
    login_as(tenants.a.admin)
    assert client.get("/customers").status_code == 200  # the session works on the pages
    response = api.get("/api/v1/customers")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    posted = api.post("/api/v1/customers", json=NEW_CUSTOMER)
    assert posted.status_code == 401


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_s63_the_api_is_exempt_from_csrf_and_the_origin_check(app, api, keys):
    """Bearer keys are not sent by browsers on their own, so no other site can borrow
    them: the API needs no CSRF token, and a cross-site Origin changes nothing."""
    response = api.post(
        "/api/v1/customers",
        key=keys.a_write,
        json=NEW_CUSTOMER,
        headers={"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_s60_last_use_is_recorded(app, api, keys):
    assert api.get("/api/v1/customers", key=keys.a_read).status_code == 200
    with in_app(app):
        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest_of(keys.a_read)))
        assert key.last_used_at is not None


# -- Resources ----------------------------------------------------------------------------------


def test_customers_list_filters_and_pages_with_a_next_link(app, api, keys, tenants):
    for number in range(3):
        body = {
            **NEW_CUSTOMER,
            "company_name": f"Sida Kund {number}",
            "admin_email": f"s{number}@x.example",
        }
        assert api.post("/api/v1/customers", key=keys.a_write, json=body).status_code == 201
    first = api.get("/api/v1/customers?limit=2&q=Sida", key=keys.a_read).get_json()
    assert [c["company_name"] for c in first["items"]] == ["Sida Kund 0", "Sida Kund 1"]
    assert first["next"] and "cursor=" in first["next"]
    path = first["next"].split("localhost", 1)[1]
    second = api.get(path, key=keys.a_read).get_json()
    assert [c["company_name"] for c in second["items"]] == ["Sida Kund 2"]
    assert second["next"] is None
    invited = api.get("/api/v1/customers?status=invited", key=keys.a_read).get_json()["items"]
    assert tenants.b.customer.vip_id not in {c["vip_id"] for c in invited}
    bad = api.get("/api/v1/customers?limit=201&cursor=zz", key=keys.a_read)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"limit"}


def test_customers_anniversary_range(app, api, keys, tenants):
    with in_app(app):
        customer = db.session.get(Customer, tenants.a.customer.id)
        customer.anniversary_date = TODAY + timedelta(days=40)
        db.session.commit()
    found = api.get(
        f"/api/v1/customers?anniversary_from={(TODAY + timedelta(days=30)).isoformat()}"
        f"&anniversary_to={(TODAY + timedelta(days=50)).isoformat()}",
        key=keys.a_read,
    ).get_json()["items"]
    assert [c["vip_id"] for c in found] == [tenants.a.customer.vip_id]
    assert found[0]["anniversary_date"] == (TODAY + timedelta(days=40)).isoformat()


def test_r1_post_customers_creates_it_and_sends_the_invitation(app, api, keys):
    response = api.post("/api/v1/customers", key=keys.a_write, json=NEW_CUSTOMER)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "invited" and len(body["vip_id"]) == 10
    assert response.headers["Location"].endswith(f"/api/v1/customers/{body['vip_id']}")
    with in_app(app):
        customer = db.session.scalar(sa.select(Customer).where(Customer.vip_id == body["vip_id"]))
        assert count(Notification, Notification.customer_id == customer.id) == 1
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "customer.created", AuditEvent.customer_id == customer.id
            )
        )
        assert event.details["api_key"]["name"] == "ERP"  # the key is named in the audit trail


@pytest.mark.parametrize(
    ("language", "title"),
    [("sv", "Begäran har ogiltiga fält"), ("en", "The request has invalid fields")],
)
def test_422_names_each_field_in_the_accept_language(app, api, keys, language, title):
    body = {**NEW_CUSTOMER, "company_name": "AB", "admin_email": "not-an-email"}
    response = api.post(
        "/api/v1/customers", key=keys.a_write, json=body, headers={"Accept-Language": language}
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"] == PROBLEM + "validation-failed" and problem["title"] == title
    # Every problem at once, each from the service (as on the page), in the reader's language.
    assert set(problem["errors"]) == {"company_name", "admin_email"}
    assert ("e-postadress" in problem["errors"]["admin_email"][0]) == (language == "sv")
    assert response.headers["Content-Language"] == language
    # The service's own rule, in the same language, once the parse passes.
    body = {**NEW_CUSTOMER, "company_name": "AB"}
    problem = api.post(
        "/api/v1/customers", key=keys.a_write, json=body, headers={"Accept-Language": language}
    ).get_json()
    assert set(problem["errors"]) == {"company_name"}
    assert ("tecken" in problem["errors"]["company_name"][0]) == (language == "sv")
    with in_app(app):
        assert count(Customer) == 2  # the two tenants' customers only


def test_r3_purchase_authorizations_create_list_and_cancel(app, api, keys, tenants):
    vip_id = tenants.a.customer.vip_id
    sku = _sku(app)
    created = api.post(
        f"/api/v1/customers/{vip_id}/purchase-authorizations", key=keys.a_write, json=_pa_body(sku)
    )
    assert created.status_code == 201, created.get_json()
    pa = created.get_json()
    assert pa["status"] == "pending" and pa["lines"][0]["sku"] == sku
    assert pa["order_due_on"] == (TODAY + timedelta(days=14)).isoformat()
    listed = api.get(f"/api/v1/customers/{vip_id}/purchase-authorizations", key=keys.a_read)
    assert pa["number"] in {item["number"] for item in listed.get_json()["items"]}
    cancelled = api.post(f"/api/v1/purchase-authorizations/{pa['number']}/cancel", key=keys.a_write)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = api.post(f"/api/v1/purchase-authorizations/{pa['number']}/cancel", key=keys.a_write)
    assert again.status_code == 409 and again.get_json()["type"] == PROBLEM + "conflict"


def test_r3_invalid_rows_are_refused_at_their_fields(app, api, keys, tenants):
    vip_id = tenants.a.customer.vip_id
    body = {
        "license_type": "team",
        "lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}, {"sku": _sku(app), "quantity": 0}],
        "deployment_date": (TODAY - timedelta(days=1)).isoformat(),
    }
    response = api.post(
        f"/api/v1/customers/{vip_id}/purchase-authorizations", key=keys.a_write, json=body
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {
        "lines.0.sku",
        "lines.1.quantity",
        "deployment_date",
    }
    with in_app(app):
        assert count(PurchaseAuthorization) == 2


def test_r5_recording_the_order_carries_the_proposal_and_409_on_cancel(app, api, keys, tenants):
    number = tenants.a.authorization.number
    response = api.post(
        f"/api/v1/purchase-authorizations/{number}/order",
        key=keys.a_write,
        json={"vendor_order_number": "APIORDER01", "order_date": TODAY.isoformat()},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["proposal"] == {
        "order_type": "new",
        "months": 12,
        "anniversary_date": TODAY.replace(year=TODAY.year + 1).isoformat(),
        "period_start": None,
        "period_end": None,
    }
    assert (
        body["order"]["duration_months"] == 12 and body["order"]["purchase_authorization"] == number
    )
    cancel = api.post(f"/api/v1/purchase-authorizations/{number}/cancel", key=keys.a_write)
    assert cancel.status_code == 409
    again = api.post(
        f"/api/v1/purchase-authorizations/{number}/order",
        key=keys.a_write,
        json={"vendor_order_number": "APIORDER02", "order_date": TODAY.isoformat()},
    )
    assert again.status_code == 409 and "vendor_order_number" in again.get_json()["errors"]
    orders = api.get(f"/api/v1/customers/{tenants.a.customer.vip_id}/orders", key=keys.a_read)
    assert [o["vendor_order_number"] for o in orders.get_json()["items"]] == ["APIORDER01"]
    licenses = api.get(f"/api/v1/customers/{tenants.a.customer.vip_id}/licenses", key=keys.a_read)
    item = licenses.get_json()["items"][0]
    assert (item["purchased"], item["returned"], item["assigned"], item["available"]) == (
        5,
        0,
        0,
        5,
    )


def test_r7_return_request_by_sku(app, api, keys, full_tenants):
    order = full_tenants["a"].order
    with in_app(app):
        sku = db.session.get(type(order), order.id).lines[0].sku
    response = api.post(
        f"/api/v1/orders/{order.vendor_order_number}/returns",
        key=keys.a_write,
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "Ordered one too many"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["lines"] == [{"sku": sku, "quantity": 1}]
    too_many = api.post(
        f"/api/v1/orders/{order.vendor_order_number}/returns",
        key=keys.a_write,
        json={"lines": [{"sku": sku, "quantity": 99}], "reason": "x"},
    )
    assert too_many.status_code == 422 and set(too_many.get_json()["errors"]) == {
        "lines.0.quantity"
    }


def test_r8_r9_renewals_overview_and_recording(app, api, keys, full_tenants):
    tenant = full_tenants["a"].tenant
    with in_app(app):
        customer = db.session.get(Customer, tenant.customer.id)
        anniversary = customer.anniversary_date
    # The order of full_tenants set the anniversary a year ahead: move today into its window.
    day = anniversary - timedelta(days=10)
    app.config["VIP_TODAY"] = day.isoformat()
    overview = api.get("/api/v1/renewals?window=30", key=keys.a_read).get_json()
    row = next(
        item for item in overview["items"] if item["customer_vip_id"] == tenant.customer.vip_id
    )
    # Illustrator: 7 ordered; 2 asked back by a return still undecided.
    assert row["stage"] == "window_open" and row["lines"][0]["suggested"] == 7
    line = row["lines"][0]
    recorded = api.post(
        f"/api/v1/customers/{tenant.customer.vip_id}/renewals",
        key=keys.a_write,
        json={
            "vendor_order_number": "APIRENEW01",
            "order_date": day.isoformat(),
            "lines": [{"sku": line["renewal_sku"], "quantity": 4}],
        },
    )
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["order_type"] == "renewal"


def test_deadlines_between_two_dates(app, api, keys, tenants):
    response = api.get(
        f"/api/v1/deadlines?from={TODAY.isoformat()}&to={(TODAY + timedelta(days=30)).isoformat()}",
        key=keys.a_read,
    )
    items = response.get_json()["items"]
    assert {"kind": "order_due", "reference": tenants.a.authorization.number}.items() <= items[
        0
    ].items()
    assert all(item["customer_vip_id"] != tenants.b.customer.vip_id for item in items)
    backwards = api.get("/api/v1/deadlines?from=2026-12-01&to=2026-11-01", key=keys.a_read)
    assert backwards.status_code == 422 and set(backwards.get_json()["errors"]) == {"to"}


# -- Tenant isolation: every route, another reseller's key (S10) --------------------------------


def _routes(objects):
    tenant = objects.tenant
    vip_id = tenant.customer.vip_id
    number = tenant.authorization.number
    order = objects.order.vendor_order_number
    return [
        ("GET", f"/api/v1/customers/{vip_id}", None),
        ("GET", f"/api/v1/customers/{vip_id}/licenses", None),
        ("GET", f"/api/v1/customers/{vip_id}/orders", None),
        ("GET", f"/api/v1/customers/{vip_id}/purchase-authorizations", None),
        ("POST", f"/api/v1/customers/{vip_id}/purchase-authorizations", _pa_body()),
        ("POST", f"/api/v1/customers/{vip_id}/renewals", {"vendor_order_number": "X12345"}),
        ("POST", f"/api/v1/purchase-authorizations/{number}/cancel", None),
        (
            "POST",
            f"/api/v1/purchase-authorizations/{number}/order",
            {"vendor_order_number": "Y12345"},
        ),
        ("POST", f"/api/v1/orders/{order}/returns", {"lines": [], "reason": "x"}),
    ]


def test_s10_every_api_route_answers_404_for_another_resellers_ids(app, api, full_tenants):
    key = make_key(app, full_tenants["b"].tenant.admin.id, "write")
    before = _snapshot(app)
    own = full_tenants["a"].tenant.customer.company_name
    for method, path, body in _routes(full_tenants["a"]):
        response = api.open(method, path, key=key, json=body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.get_json()["type"] == PROBLEM + "not-found"
        assert own not in response.get_data(as_text=True)
    assert _snapshot(app) == before
    lists = [
        api.get("/api/v1/customers", key=key),
        api.get("/api/v1/renewals", key=key),
        api.get("/api/v1/deadlines?from=2026-01-01&to=2027-01-01", key=key),
    ]
    for response in lists:
        assert response.status_code == 200 and own not in response.get_data(as_text=True)


def test_every_api_route_is_in_the_isolation_walk(app, full_tenants):
    """A new route under /api/v1 must be added to `_routes` (or be a list, walked below it,
    or the public document)."""
    adapter = app.url_map.bind("localhost")
    walked = {
        (method, adapter.match(path, method=method)[0])
        for method, path, _ in _routes(full_tenants["a"])
    }
    walked |= {
        ("GET", "Customers.list_customers"),
        ("POST", "Customers.create_customer"),  # creates in the key's own reseller only
        ("GET", "Renewals.list_renewals"),
        ("GET", "Deadlines.list_deadlines"),
    }
    public = {"api_reference.openapi_document", "api_reference.reference"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint in public:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, rule.endpoint) in walked, (method, rule.rule)


def _snapshot(app):
    with in_app(app):
        return (
            count(Customer),
            count(
                PurchaseAuthorization, PurchaseAuthorization.status == AuthorizationStatus.PENDING
            ),
            count(ReturnAuthorization),
        )


# -- Rate limit (S65) -----------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"VIP_API_RATE_LIMIT": "3 per minute"}])
def test_s65_over_the_per_key_limit_429_with_retry_after(api, keys):
    for left in (2, 1, 0):
        response = api.get("/api/v1/customers", key=keys.a_read)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(left)
    response = api.get("/api/v1/customers", key=keys.a_read)
    assert response.status_code == 429
    assert response.get_json()["type"] == PROBLEM + "rate-limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert api.get("/api/v1/customers", key=keys.b_write).status_code == 200  # per key


# -- Idempotency (S64) -----------------------------------------------------------------------------


def test_s64_a_repeat_gets_the_first_answer_and_changes_nothing(app, api, keys):
    headers = {"Idempotency-Key": "create-ada-1"}
    first = api.post("/api/v1/customers", key=keys.a_write, json=NEW_CUSTOMER, headers=headers)
    again = api.post("/api/v1/customers", key=keys.a_write, json=NEW_CUSTOMER, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    with in_app(app):
        assert count(Customer, Customer.company_name == NEW_CUSTOMER["company_name"]) == 1
    other = api.post(
        "/api/v1/customers",
        key=keys.a_write,
        json={**NEW_CUSTOMER, "company_name": "Another AB"},
        headers=headers,
    )
    assert other.status_code == 422
    assert other.get_json()["type"] == PROBLEM + "idempotency-key-reused"
    # Keys are per API key: another key may use the same text.
    other_key = api.post("/api/v1/customers", key=keys.b_write, json=NEW_CUSTOMER, headers=headers)
    assert other_key.status_code == 201


def test_s64_a_refused_request_keeps_no_answer(app, api, keys):
    headers = {"Idempotency-Key": "retry-me"}
    bad = api.post(
        "/api/v1/customers",
        key=keys.a_write,
        json={**NEW_CUSTOMER, "company_name": "AB"},
        headers=headers,
    )
    assert bad.status_code == 422
    with in_app(app):
        assert count(IdempotentRequest) == 0
    good = api.post("/api/v1/customers", key=keys.a_write, json=NEW_CUSTOMER, headers=headers)
    assert good.status_code == 201


# -- Errors never leak (S66) --------------------------------------------------------------------


def test_s66_an_unexpected_error_is_a_problem_with_an_incident_id(app, api, keys, monkeypatch):
    from vip.services import customers

    def broken(**_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(customers, "customers_after", broken)
    response = api.get("/api/v1/customers", key=keys.a_read)
    assert response.status_code == 500
    problem = response.get_json()
    assert problem["type"] == PROBLEM + "internal-error" and len(problem["incident"]) == 12
    assert "secret internals" not in response.get_data(as_text=True)


def test_s66_a_denial_is_audited_with_the_keys_user(app, api, keys, tenants):
    api.get(f"/api/v1/customers/{tenants.b.customer.vip_id}", key=keys.a_read)
    with in_app(app):
        denial = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "access.denied_not_found")
        )
        assert denial.actor_id == tenants.a.admin.id
        assert denial.details["api_key"]["name"] == "Reports"
