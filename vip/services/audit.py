"""Audit events (R13, S22). Services call `record` inside their own transaction."""

from __future__ import annotations

from typing import Any

from vip.extensions import db
from vip.models import AuditEvent, Customer, User


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
