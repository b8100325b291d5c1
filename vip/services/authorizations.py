"""Purchase authorizations (R2, R3, R6). The full dialog comes with its own issue."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from vip.extensions import db
from vip.models import PurchaseAuthorization


def issue_authorization_number() -> str:
    """`PA-` and six digits, unique."""
    while True:
        candidate = f"PA-{secrets.randbelow(900_000) + 100_000}"
        taken = db.session.scalar(
            select(PurchaseAuthorization.id).where(PurchaseAuthorization.number == candidate)
        )
        if taken is None:
            return candidate
