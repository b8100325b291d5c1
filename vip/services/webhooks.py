"""Webhooks (docs/webhooks.md): a partner admin's endpoints, their delivery log and
redelivery, and the delivery run that sends the events the services record
(vip.services.events).

Delivery is at-least-once with a stable event id (S72): each event is committed before
anything sends it, each delivery is claimed with a lease so two runs never send it
together, and it is marked delivered right after the receiver answered 2xx; a run killed
in between sends that one again, with the same `webhook-id`, once the lease has passed.
Deliveries of one customer to one endpoint go out in the order they were recorded: a
pending one (waiting for its retry) holds back the later ones (S73). A failure is retried
after 1, 2, 4, ... minutes and given up after VIP_WEBHOOK_MAX_ATTEMPTS; a delivery given
up no longer holds back the later ones, and the admin can redeliver it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased, joinedload, selectinload

from vip import clock, webhook_client
from vip.extensions import db
from vip.models import (
    DeliveryStatus,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from vip.services import audit, events
from vip.services.access import require
from vip.services.errors import DomainError, NotVisible

URL_MAX = 500
DESCRIPTION_MAX = 120
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
ERROR_MAX = 1000

#: How a refused URL is worded (webhook_client.TargetRefused.reason).
REFUSALS = {
    "scheme": _l("Enter an address that starts with https://."),
    "http": _l("Use https://. Plain http:// is allowed only when VIP_WEBHOOK_ALLOW_HTTP is on."),
    "credentials": _l("Leave the user name and password out of the address."),
    "host": _l("Enter an address with a host name."),
    "port": _l("The port of this address is not valid."),
    "unresolvable": _l("The host name of this address could not be found."),
    "address": _l(
        "This address leads to a local, private or otherwise internal network, which "
        "webhooks may not call."
    ),
}


class EndpointInvalid(DomainError):
    """Field errors at once: {"url": [message], "event_types": [message]}."""

    def __init__(self, errors: dict[str, list]):
        first = next(iter(errors))
        super().__init__(errors[first][0], field=first)
        self.errors = errors


def allow_http() -> bool:
    return bool(current_app.config.get("VIP_WEBHOOK_ALLOW_HTTP"))


def allowed_networks():
    return webhook_client.parse_networks(current_app.config.get("VIP_WEBHOOK_ALLOWED_NETWORKS"))


@dataclass(frozen=True)
class EndpointInput:
    url: str
    description: str
    event_types: list[str]


def _checked(data: EndpointInput) -> EndpointInput:
    """The input cleaned, or EndpointInvalid. The URL is resolved now and refused when it
    leads to an internal address (S70); delivery checks again (S71)."""
    errors: dict[str, list] = {}
    url = (data.url or "").strip()
    if not url:
        errors["url"] = [_l("Enter the endpoint's address.")]
    elif len(url) > URL_MAX:
        errors["url"] = [_l("Use at most %(count)d characters.", count=URL_MAX)]
    else:
        try:
            webhook_client.check_target(
                url, allow_http=allow_http(), allowed_networks=allowed_networks()
            )
        except webhook_client.TargetRefused as refused:
            errors["url"] = [REFUSALS[refused.reason]]
    description = " ".join((data.description or "").split())
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_l("Use at most %(count)d characters.", count=DESCRIPTION_MAX)]
    chosen = [kind for kind in events.EVENT_TYPES if kind in set(data.event_types or [])]
    if not chosen or len(chosen) != len(set(data.event_types or [])):
        errors["event_types"] = [_l("Choose at least one event.")]
    if errors:
        raise EndpointInvalid(errors)
    return EndpointInput(url, description, chosen)


def _describe(endpoint: WebhookEndpoint) -> dict:
    """What the audit log keeps of an endpoint: never its secret (S22)."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
    }


def create_endpoint(
    *, user: User, data: EndpointInput, now: datetime
) -> tuple[WebhookEndpoint, str]:
    """Registers an endpoint; returns it and its secret, which is shown this once."""
    require(user, "webhooks.manage")
    data = _checked(data)
    secret = webhook_client.new_secret()
    endpoint = WebhookEndpoint(
        reseller_id=user.reseller_id,
        url=data.url,
        description=data.description,
        event_types=data.event_types,
        secret=secret,
        created_at=now,
        created_by=user,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(
        actor=user,
        action="webhook_endpoint.created",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        details=_describe(endpoint),
    )
    events.forget_subscribers()
    db.session.commit()
    return endpoint, secret


def get_endpoint_for(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    """A live endpoint of the user's reseller, or NotVisible (404)."""
    require(user, "webhooks.manage")
    endpoint = db.session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.reseller_id == user.reseller_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    if endpoint is None:
        raise NotVisible(f"webhook endpoint {endpoint_id}")
    return endpoint


def update_endpoint(*, user: User, endpoint_id: int, data: EndpointInput) -> WebhookEndpoint:
    endpoint = get_endpoint_for(user=user, endpoint_id=endpoint_id)
    data = _checked(data)
    before = _describe(endpoint)
    endpoint.url = data.url
    endpoint.description = data.description
    endpoint.event_types = data.event_types
    after = _describe(endpoint)
    if after != before:
        audit.record(
            actor=user,
            action="webhook_endpoint.changed",
            object_type="webhook_endpoint",
            object_id=endpoint.id,
            details={"before": before, "after": after},
        )
    events.forget_subscribers()
    db.session.commit()
    return endpoint


def rotate_secret(*, user: User, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown once; the old one stops signing at once."""
    endpoint = get_endpoint_for(user=user, endpoint_id=endpoint_id)
    secret = webhook_client.new_secret()
    endpoint.secret = secret
    audit.record(
        actor=user,
        action="webhook_endpoint.secret_rotated",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        details={"url": endpoint.url},
    )
    db.session.commit()
    return endpoint, secret


def delete_endpoint(*, user: User, endpoint_id: int, now: datetime) -> WebhookEndpoint:
    """It receives nothing more; its pending deliveries are cancelled, its log stays."""
    endpoint = get_endpoint_for(user=user, endpoint_id=endpoint_id)
    endpoint.deleted_at = now
    cancelled = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    audit.record(
        actor=user,
        action="webhook_endpoint.deleted",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        details={**_describe(endpoint), "deliveries_cancelled": cancelled},
    )
    events.forget_subscribers()
    db.session.commit()
    return endpoint


@dataclass(frozen=True)
class EndpointRow:
    endpoint: WebhookEndpoint
    pending: int
    failed: int


def endpoints_of(*, user: User) -> list[EndpointRow]:
    """The reseller's live endpoints with their pending and failed deliveries: two queries."""
    require(user, "webhooks.manage")
    endpoints = list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.reseller_id == user.reseller_id,
                WebhookEndpoint.deleted_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        )
    )
    counts: dict[tuple[int, DeliveryStatus], int] = {}
    if endpoints:
        for endpoint_id, status, number in db.session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .where(
                WebhookDelivery.endpoint_id.in_([e.id for e in endpoints]),
                WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]),
            )
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
        ):
            counts[(endpoint_id, status)] = number
    return [
        EndpointRow(
            e,
            counts.get((e.id, DeliveryStatus.PENDING), 0),
            counts.get((e.id, DeliveryStatus.FAILED), 0),
        )
        for e in endpoints
    ]


# -- The delivery log ----------------------------------------------------------------------------


def _with_log(query):
    return query.options(
        joinedload(WebhookDelivery.event).joinedload(WebhookEvent.customer),
        selectinload(WebhookDelivery.log),
    )


@dataclass(frozen=True)
class DeliveryLog:
    endpoint: WebhookEndpoint
    deliveries: list[WebhookDelivery]


def delivery_log(
    *, user: User, endpoint_id: int, status: str = "", limit: int = 100
) -> DeliveryLog:
    """An endpoint and its deliveries, newest first, each with its event, customer and
    attempts: a fixed number of queries."""
    endpoint = get_endpoint_for(user=user, endpoint_id=endpoint_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status in {s.value for s in DeliveryStatus}:
        query = query.where(WebhookDelivery.status == DeliveryStatus(status))
    return DeliveryLog(endpoint, list(db.session.scalars(_with_log(query)).unique()))


def get_delivery_for(*, user: User, delivery_id: int) -> WebhookDelivery:
    require(user, "webhooks.manage")
    delivery = db.session.scalar(
        _with_log(
            select(WebhookDelivery)
            .join(WebhookEndpoint)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookEndpoint.reseller_id == user.reseller_id,
                WebhookEndpoint.deleted_at.is_(None),
            )
        )
    )
    if delivery is None:
        raise NotVisible(f"webhook delivery {delivery_id}")
    return delivery


def redeliver(*, user: User, delivery_id: int) -> WebhookDelivery:
    """Queues a delivered or failed event again for the next run: the same event id and
    body, a new signature."""
    delivery = get_delivery_for(user=user, delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        raise DomainError(_l("This event is already waiting to be delivered."))
    if delivery.status not in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        raise DomainError(_l("This event can no longer be delivered."))
    changed = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == delivery.status)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise DomainError(_l("This event is already waiting to be delivered."))
    audit.record(
        actor=user,
        action="webhook.redelivered",
        customer=delivery.event.customer,
        reseller_id=user.reseller_id,
        object_type="webhook_delivery",
        object_id=delivery.id,
        details={
            "event_id": delivery.event.event_id,
            "type": delivery.event.type,
            "url": delivery.endpoint.url,
        },
    )
    db.session.commit()
    db.session.refresh(delivery)
    return delivery


# -- The delivery run ----------------------------------------------------------------------------


@dataclass
class WebhookReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    lines: list[str] = field(default_factory=list)


def _due(now: datetime):
    """Pending deliveries whose time has come and that no earlier pending delivery of the
    same customer to the same endpoint holds back."""
    earlier = aliased(WebhookDelivery)
    held_back = (
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.customer_id == WebhookDelivery.customer_id,
            earlier.status == DeliveryStatus.PENDING,
            earlier.id < WebhookDelivery.id,
        )
        .exists()
    )
    return [
        WebhookDelivery.status == DeliveryStatus.PENDING,
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        ~held_back,
    ]


def _claim(delivery_id: int, now: datetime) -> bool:
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            or_(
                WebhookDelivery.next_attempt_at.is_(None),
                WebhookDelivery.next_attempt_at <= now,
            ),
        )
        .values(next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def retry_after(attempts: int) -> timedelta:
    """The pause before the next attempt after `attempts` failed ones: 1, 2, 4, ... minutes."""
    return FIRST_RETRY * (2 ** (attempts - 1))


def _send_one(delivery_id: int, now: datetime, report: WebhookReport) -> bool:
    """One claimed delivery: sent, and its outcome recorded. Returns whether it is settled
    (delivered, given up or cancelled), which lets the customer's next one go."""
    config = current_app.config
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    label = f"{event.type} {event.event_id} to {endpoint.url}"
    if endpoint.deleted_at is not None:
        delivery.status = DeliveryStatus.CANCELLED
        delivery.next_attempt_at = None
        report.cancelled += 1
        db.session.commit()
        return True
    body = event.body.encode()
    headers = webhook_client.signed_headers(
        secret=endpoint.secret, event_id=event.event_id, timestamp=clock.now(), body=body
    )
    url = endpoint.url
    db.session.commit()  # no transaction stays open while the request travels
    outcome = webhook_client.post(
        url,
        body=body,
        headers=headers,
        allow_http=allow_http(),
        allowed_networks=allowed_networks(),
        timeout=float(config.get("VIP_WEBHOOK_TIMEOUT_SECONDS", 10)),
    )
    delivery = db.session.get(WebhookDelivery, delivery_id)
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:ERROR_MAX] if outcome.error else None
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=outcome.status_code,
            error=delivery.last_error,
            duration_ms=outcome.duration_ms,
        )
    )
    if outcome.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        report.delivered += 1
        result = f"delivered [{outcome.status_code}]"
    elif delivery.attempts >= int(config.get("VIP_WEBHOOK_MAX_ATTEMPTS", 10)):
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        report.failed += 1
        result = f"failed [{outcome.error}]"
    else:
        delivery.next_attempt_at = now + retry_after(delivery.attempts)
        report.retrying += 1
        result = f"retrying [{outcome.error}]"
    report.lines.append(f"{label}: {result}")
    settled = delivery.status != DeliveryStatus.PENDING
    db.session.commit()
    return settled


def deliver_pending(*, now: datetime, limit: int = 1000) -> WebhookReport:
    """Sends what is due, in rounds: each round the first pending delivery of every
    (endpoint, customer), so that a customer's next event goes out in the same run once
    the one before it settled. Stops when a round settles nothing, or after `limit`."""
    report = WebhookReport()
    tried = 0
    while tried < limit:
        due = db.session.scalars(
            select(WebhookDelivery.id)
            .where(*_due(now))
            .order_by(WebhookDelivery.id)
            .limit(limit - tried)
        ).all()
        db.session.commit()
        if not due:
            break
        settled = False
        for delivery_id in due:
            if not _claim(delivery_id, now):
                continue  # another run has it
            tried += 1
            settled = _send_one(delivery_id, now, report) or settled
        if not settled:
            break
    return report
