"""S64 under load: 20 identical POSTs with one Idempotency-Key at the same moment make one
change and all get its answer, on SQLite and on PostgreSQL (`--db=postgres`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tests.conftest import ApiClient
from tests.support import count, in_app
from vip.extensions import db
from vip.models import AuditEvent, Customer, IdempotentRequest, Notification

REQUESTS = 20
BODY = {
    "company_name": "Samtidig Kund AB",
    "country": "SE",
    "market_segment": "commercial",
    "admin_name": "Sam Tidig",
    "admin_email": "sam@samtidig.example",
    "admin_language": "sv",
}


def test_s64_twenty_concurrent_identical_requests_make_one_change(app, keys, openapi_document):
    start = threading.Barrier(REQUESTS)

    def post(_):
        api = ApiClient(app.test_client(), openapi_document)
        start.wait()
        response = api.post(
            "/api/v1/customers",
            key=keys.a_write,
            json=BODY,
            headers={"Idempotency-Key": "one-customer-please"},
        )
        return response.status_code, response.get_json(), response.headers.get("Location")

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        answers = list(pool.map(post, range(REQUESTS)))

    assert {status for status, _, _ in answers} == {201}, [a[:2] for a in answers]
    assert len({repr(body) for _, body, _ in answers}) == 1
    assert len({location for _, _, location in answers}) == 1
    with in_app(app):
        created = db.session.scalars(
            sa.select(Customer).where(Customer.company_name == BODY["company_name"])
        ).all()
        assert len(created) == 1
        assert count(Notification, Notification.customer_id == created[0].id) == 1
        assert count(AuditEvent, AuditEvent.action == "customer.created") == 3  # 2 tenants + 1
        assert count(IdempotentRequest) == 1
