"""The API's fixtures: keys for both tenants. `api`, the client whose every response is
validated against the OpenAPI document, is in tests/conftest.py (any test may use it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from vip.extensions import db
from vip.models import User
from vip.services import api_keys


@dataclass
class Keys:
    a_write: str
    a_read: str
    b_write: str


def make_key(app, user_id: int, scope: str, name: str = "ERP") -> str:
    with app.test_request_context():
        user = db.session.get(User, user_id)
        _key, secret = api_keys.create_key(
            user=user, name=name, scope=scope, now=datetime(2026, 11, 29, 9, tzinfo=UTC)
        )
        db.session.remove()
    return secret


@pytest.fixture
def keys(app, tenants) -> Keys:
    return Keys(
        a_write=make_key(app, tenants.a.admin.id, "write"),
        a_read=make_key(app, tenants.a.admin.id, "read", "Reports"),
        b_write=make_key(app, tenants.b.admin.id, "write"),
    )
