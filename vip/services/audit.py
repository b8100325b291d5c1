"""Audit events (R13, S22). Services call `record` inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from vip.extensions import db
from vip.models import AuditEvent, Customer, User

#: The API key a change is made through, when it is (vip/web/api): named in every event.
_through_api_key: ContextVar[dict | None] = ContextVar("through_api_key", default=None)


@contextmanager
def through_api_key(*, key_id: int, name: str, prefix: str) -> Iterator[None]:
    """Every event recorded inside the block names the API key the change came through."""
    token = _through_api_key.set({"id": key_id, "name": name, "prefix": prefix})
    try:
        yield
    finally:
        _through_api_key.reset(token)


def record(
    *,
    actor: User | None,
    action: str,
    customer: Customer | None = None,
    reseller_id: int | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    details: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    if reseller_id is None:
        if customer is not None:
            reseller_id = customer.reseller_id
        elif actor is not None:
            reseller_id = actor.tenant_reseller_id
    if (api_key := _through_api_key.get()) is not None:
        details = {**(details or {}), "api_key": api_key}
    event = AuditEvent(
        actor=actor,
        actor_label=actor_label or (actor.email if actor is not None else "system"),
        reseller_id=reseller_id,
        customer=customer,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
    )
    db.session.add(event)
    return event


def history_for(*, customer: Customer, limit: int = 200) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            db.select(AuditEvent)
            .where(AuditEvent.customer_id == customer.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
