"""The webhook events the services record (docs/webhooks.md): one small function each
service calls in its own transaction, so that an event is committed with the change that
causes it, or not at all (the outbox pattern of the mail). Each event gets one pending
delivery per endpoint of the reseller subscribed to its type; `vip deliver` sends them
(vip.services.webhooks). A reseller without such an endpoint records nothing.

The payloads use stable English codes, ISO 8601 dates and integers, and never a secret."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vip import clock
from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    DeliveryStatus,
    Notification,
    Order,
    PurchaseAuthorization,
    ReturnAuthorization,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

CUSTOMER_CREATED = "customer.created"
CUSTOMER_STATUS_CHANGED = "customer.status_changed"
AUTHORIZATION_CREATED = "purchase_authorization.created"
AUTHORIZATION_CANCELLED = "purchase_authorization.cancelled"
AUTHORIZATION_OVERDUE = "purchase_authorization.overdue"
ORDER_RECORDED = "order.recorded"
RETURN_REQUESTED = "return.requested"
RETURN_DECIDED = "return.decided"
RENEWAL_RECORDED = "renewal.recorded"
REMINDER_SENT = "reminder.sent"

#: Every event type an endpoint can subscribe to, in the order the page lists them.
EVENT_TYPES = (
    CUSTOMER_CREATED,
    CUSTOMER_STATUS_CHANGED,
    AUTHORIZATION_CREATED,
    AUTHORIZATION_CANCELLED,
    AUTHORIZATION_OVERDUE,
    ORDER_RECORDED,
    RETURN_REQUESTED,
    RETURN_DECIDED,
    RENEWAL_RECORDED,
    REMINDER_SENT,
)

#: Why a customer's status changed (`reason` of customer.status_changed).
INVITATION_ACCEPTED = "invitation_accepted"
AUTHORIZATION_WENT_OVERDUE = "authorization_overdue"
DELAY_CLEARED = "delay_cleared"
ACCESS_REMOVED = "access_removed"
NEW_TERM = "new_term"
RENEWED = "renewed"

#: How far back the job announces authorizations that became overdue (a job that missed
#: more days than this, or an endpoint registered later, does not hear of older ones).
OVERDUE_LOOKBACK_DAYS = 30


# -- Recording -----------------------------------------------------------------------------------


def _subscribers(reseller_id: int) -> list[tuple[int, list]]:
    """(endpoint id, event types) of the reseller's live endpoints, read once per
    transaction (a bulk import records thousands of events)."""
    info = db.session.info
    db.session.connection()  # begins the transaction the cache belongs to, if none has
    transaction = db.session().get_transaction()
    cached = info.get("webhook_subscribers")
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        info["webhook_subscribers"] = cached
    by_reseller = cached[1]
    if reseller_id not in by_reseller:
        by_reseller[reseller_id] = [
            (endpoint_id, list(types or []))
            for endpoint_id, types in db.session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.event_types)
                .where(
                    WebhookEndpoint.reseller_id == reseller_id,
                    WebhookEndpoint.deleted_at.is_(None),
                )
                .order_by(WebhookEndpoint.id)
            )
        ]
    return by_reseller[reseller_id]


def forget_subscribers() -> None:
    """After an endpoint changed in this transaction: read them again."""
    db.session.info.pop("webhook_subscribers", None)


def subscribed(reseller_id: int, event_type: str) -> list[int]:
    return [eid for eid, types in _subscribers(reseller_id) if event_type in types]


def record(
    *,
    event_type: str,
    reseller_id: int,
    customer_id: int | None,
    data: dict,
    once_key: str | None = None,
    occurred_at: datetime | None = None,
) -> str | None:
    """Records one event and a pending delivery per subscribed endpoint, in the caller's
    transaction. Returns its event id, or None when no endpoint wants it (or, with a
    `once_key`, it was recorded before)."""
    assert event_type in EVENT_TYPES, event_type
    endpoint_ids = subscribed(reseller_id, event_type)
    if not endpoint_ids:
        return None
    event_id = f"evt_{uuid.uuid4().hex}"
    occurred_at = occurred_at or clock.now()
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": occurred_at.isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    values = {
        "event_id": event_id,
        "reseller_id": reseller_id,
        "customer_id": customer_id,
        "type": event_type,
        "body": body,
        "once_key": once_key,
        "occurred_at": occurred_at,
    }
    dialect = db.session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(WebhookEvent).values(
        **values
    )
    if once_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["once_key"])
    row = db.session.execute(statement.returning(WebhookEvent.id)).first()
    if row is None:
        return None
    db.session.execute(
        insert(WebhookDelivery),
        [
            {
                "event_id": row[0],
                "endpoint_id": endpoint_id,
                "customer_id": customer_id,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "created_at": occurred_at,
            }
            for endpoint_id in endpoint_ids
        ],
    )
    return event_id


# -- What the payloads say -----------------------------------------------------------------------


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer_data(customer: Customer, *, status: CustomerStatus | None = None) -> dict:
    return {
        "vip_id": customer.vip_id,
        "company_name": customer.company_name,
        "status": (status or customer.status).value,
        "country": customer.country,
        "market_segment": customer.market_segment.value,
        "anniversary_date": _day(customer.anniversary_date),
    }


def _customer_ref(customer: Customer) -> dict:
    return {"vip_id": customer.vip_id, "company_name": customer.company_name}


def authorization_data(authorization: PurchaseAuthorization) -> dict:
    return {
        "number": authorization.number,
        "customer": _customer_ref(authorization.customer),
        "status": authorization.status.value,
        "license_type": authorization.license_type.value,
        "customer_po_number": authorization.customer_po_number,
        "deployment_date": _day(authorization.deployment_date),
        "created_on": _day(authorization.created_on),
        "order_due_on": _day(authorization.order_due_on),
        "lines": [
            {"sku": line.product.sku, "product": line.product.name, "quantity": line.quantity}
            for line in authorization.lines
        ],
    }


def order_data(order: Order) -> dict:
    return {
        "vendor_order_number": order.vendor_order_number,
        "customer": customer_data(order.customer),
        "order_type": order.order_type.value,
        "purchase_authorization": order.authorization.number if order.authorization else None,
        "order_date": _day(order.order_date),
        "duration_months": order.duration_months,
        "term_ends_on": _day(order.term_ends_on),
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
    }


def return_data(item: ReturnAuthorization) -> dict:
    return {
        "id": item.id,
        "order": item.order.vendor_order_number,
        "customer": _customer_ref(item.order.customer),
        "status": item.status.value,
        "reason": item.reason,
        "decision_comment": item.decision_comment,
        "lines": [{"sku": line.order_line.sku, "quantity": line.quantity} for line in item.lines],
    }


# -- The events, one function each, called by the services that make the change ----------------


def customer_created(customer: Customer, *, source: str = "console") -> str | None:
    return record(
        event_type=CUSTOMER_CREATED,
        reseller_id=customer.reseller_id,
        customer_id=customer.id,
        data={"customer": customer_data(customer), "source": source},
    )


def customer_status_changed(
    customer: Customer, *, previous: CustomerStatus, status: CustomerStatus, reason: str
) -> str | None:
    """A status change (`previous` and `status` given, since the job changes the row with
    an UPDATE the loaded object does not see). Nothing when the status stayed."""
    if previous == status:
        return None
    return record(
        event_type=CUSTOMER_STATUS_CHANGED,
        reseller_id=customer.reseller_id,
        customer_id=customer.id,
        data={
            "customer": customer_data(customer, status=status),
            "previous_status": previous.value,
            "status": status.value,
            "reason": reason,
        },
    )


def authorization_event(event_type: str, authorization: PurchaseAuthorization, **once):
    return record(
        event_type=event_type,
        reseller_id=authorization.customer.reseller_id,
        customer_id=authorization.customer_id,
        data={"purchase_authorization": authorization_data(authorization)},
        **once,
    )


def order_recorded(order: Order) -> str | None:
    event_type = RENEWAL_RECORDED if order.authorization_id is None else ORDER_RECORDED
    return record(
        event_type=event_type,
        reseller_id=order.customer.reseller_id,
        customer_id=order.customer_id,
        data={"order": order_data(order)},
    )


def return_event(event_type: str, item: ReturnAuthorization) -> str | None:
    return record(
        event_type=event_type,
        reseller_id=item.order.customer.reseller_id,
        customer_id=item.order.customer_id,
        data={"return": return_data(item)},
    )


def reminder_sent(notification: Notification, *, sent_at: datetime) -> str | None:
    customer = notification.customer
    return record(
        event_type=REMINDER_SENT,
        reseller_id=customer.reseller_id,
        customer_id=customer.id,
        data={
            "reminder": {
                "kind": notification.kind,
                "recipient": notification.recipient,
                "language": notification.language,
                "anniversary_date": notification.cycle_key,
                "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
            },
            "customer": customer_data(customer),
        },
    )


def announce_overdue_authorizations(*, today: date, reseller_ids: list[int]) -> int:
    """purchase_authorization.overdue for each authorization that became overdue
    (`PurchaseAuthorization.is_overdue`) in the last OVERDUE_LOOKBACK_DAYS, once per
    authorization whichever run sees it first, for the resellers with an endpoint that
    wants it. Commits; returns how many."""
    wanted = [rid for rid in reseller_ids if subscribed(rid, AUTHORIZATION_OVERDUE)]
    db.session.commit()
    if not wanted:
        return 0
    authorizations = db.session.scalars(
        select(PurchaseAuthorization)
        .join(Customer)
        .where(
            Customer.reseller_id.in_(wanted),
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
            PurchaseAuthorization.order_due_on.between(
                date.fromordinal(today.toordinal() - OVERDUE_LOOKBACK_DAYS),
                date.fromordinal(today.toordinal() - 1),
            ),
        )
        .order_by(PurchaseAuthorization.order_due_on, PurchaseAuthorization.id)
    ).all()
    keys = {pa.id: f"{AUTHORIZATION_OVERDUE}:{pa.id}" for pa in authorizations}
    done = set(
        db.session.scalars(
            select(WebhookEvent.once_key).where(WebhookEvent.once_key.in_(list(keys.values())))
        )
    )
    count = 0
    for authorization in authorizations:
        key = keys[authorization.id]
        if key in done:
            continue
        if authorization_event(AUTHORIZATION_OVERDUE, authorization, once_key=key):
            count += 1
        db.session.commit()
    return count
