"""Helpers the test modules share (fixtures live in tests/conftest.py)."""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pyotp
import sqlalchemy as sa
from flask_babel import force_locale

from tests.conftest import product_id
from vip.extensions import db
from vip.models import User, VipAdminCustomer
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.orders import record_order


@contextmanager
def in_app(app):
    """A request context for calling services directly; the session is removed after."""
    with app.test_request_context():
        try:
            yield
        finally:
            db.session.remove()


def user(obj_or_id) -> User:
    """A user (or its id) of the detached fixture objects, loaded into the current session."""
    return db.session.get(User, getattr(obj_or_id, "id", obj_or_id))


def english(error_or_message) -> str:
    """A DomainError's (or a lazy string's) English text."""
    with force_locale("en"):
        return str(error_or_message)


def pid(name: str, license_type: str = "team", segment: str = "commercial", **kw) -> int:
    """A catalog product's id (team, commercial unless said otherwise); it must exist."""
    found = product_id(name, license_type, segment, **kw)
    assert found is not None, (name, license_type, segment, kw)
    return found


def administered_ids(obj_or_id) -> set[int]:
    """The ids of the customers a VIP admin (or its id) administers."""
    user_id = getattr(obj_or_id, "id", obj_or_id)
    return set(
        db.session.scalars(
            sa.select(VipAdminCustomer.customer_id).where(VipAdminCustomer.user_id == user_id)
        )
    )


def count(model, *where) -> int:
    """How many rows of `model` (matching `where`)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def reminder_stage(offset: int) -> str | None:
    """R10 written out for the simulations, independently of the job: the reminder due
    `offset` days after the anniversary."""
    if -30 <= offset <= -1:
        return "renewal_due"
    if 0 <= offset <= 22:
        return "renewal_missed"
    if 23 <= offset <= 29:
        return "access_removal"
    return None


def totp_code(secret: str, at: datetime, *, steps: int = 0) -> str:
    """The authenticator app's code for `secret` at `at` (or `steps` 30-second steps on)."""
    return pyotp.TOTP(secret).at(at + timedelta(seconds=30 * steps))


def enrol_two_factor(user_id: int, *, now: datetime) -> tuple[str, list[str]]:
    """Turns the user's second factor on through the service, as the enrolment page does;
    returns the key and the recovery codes. The code of `now`'s step is spent."""
    from vip.services import two_factor

    secret = two_factor.new_secret()
    codes = two_factor.enrol(
        user=user(user_id), secret=secret, code=totp_code(secret, now), now=now
    )
    return secret, codes


def verified_webhooks(receiver, secret: str) -> list[dict]:
    """Every request the tests' webhook receiver got, verified with the standardwebhooks
    library against `secret` (it raises on a bad signature), as the parsed payloads."""
    from standardwebhooks.webhooks import Webhook

    return [Webhook(secret).verify(item.body, item.headers) for item in receiver.received]


def public_dns(monkeypatch, names: dict[str, str]) -> None:
    """The resolver answers `names` (host -> address) and nothing else: tests register
    endpoints on public-looking host names without the network."""
    import ipaddress

    from vip import webhook_client

    def resolve(host, port):
        if host in names:
            return [ipaddress.ip_address(names[host])]
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            return []

    monkeypatch.setattr(webhook_client, "resolve", resolve)


def subscribe(admin, url: str, event_types=None, description: str = ""):
    """A webhook endpoint of the admin's reseller (all event types unless given), made
    through the service; returns (endpoint id, secret)."""
    from vip import clock
    from vip.services import events, webhooks

    endpoint, secret = webhooks.create_endpoint(
        user=user(admin),
        data=webhooks.EndpointInput(
            url=url,
            description=description,
            event_types=list(event_types or events.EVENT_TYPES),
        ),
        now=clock.now(),
    )
    return endpoint.id, secret


def recorded_events(**where) -> list[dict]:
    """The webhook events recorded so far (optionally of one reseller), oldest first, as
    their payloads."""
    import json

    from vip.models import WebhookEvent

    query = sa.select(WebhookEvent).order_by(WebhookEvent.id)
    if "reseller_id" in where:
        query = query.where(WebhookEvent.reseller_id == where["reseller_id"])
    return [json.loads(event.body) for event in db.session.scalars(query)]


def fixture_bytes(name: str) -> bytes:
    """A file of tests/fixtures/import/."""
    from pathlib import Path

    return (Path(__file__).resolve().parent / "fixtures" / "import" / name).read_bytes()


_vendor_numbers = itertools.count(1)


def order_licenses(tenant, lines: list[tuple[int, int]], *, on: date) -> None:
    """Through the services, as the tenant's sales user: a purchase authorization of `lines`
    (product id, quantity) created and its order recorded on `on`. The customer's first
    order sets its anniversary; later ones are add-ons."""
    sales = user(tenant.sales)
    authorization = create_purchase_authorization(
        user=sales,
        customer_id=tenant.customer.id,
        today=on,
        license_type="team",
        lines=[LineInput(product_id=product, quantity=quantity) for product, quantity in lines],
        deployment_date=on,
        customer_po_number=None,
    )
    record_order(
        user=sales,
        pa_id=authorization.id,
        today=on,
        vendor_order_number=f"LV{next(_vendor_numbers):08d}",
        order_date=on,
        duration_months=12,
    )


def csrf_token_in(html: str) -> str:
    """The CSRF token a rendered form carries (for the apps with CSRF on: `csrf_app`)."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
