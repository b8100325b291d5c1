"""A reseller's API keys (docs/api.md, S60-S62): created, named, scoped and revoked by a
partner admin on the API keys page.

A key is `vip_` and 43 random characters (`secrets.token_urlsafe(32)`, 256 bits), shown
once, when it is created; only its SHA-256 is stored, with its first characters to tell
keys apart. A key acts for the partner admin who created it, inside that admin's reseller
and with the key's scope: `read` keys may only read, `write` keys read and write. A
revoked key, or a key whose creator is deactivated or no longer a partner admin of the
same reseller, authenticates nothing.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import contains_eager

from vip.extensions import db
from vip.models import ApiKey, ApiKeyScope, Reseller, Role, User
from vip.services import audit
from vip.services.access import require
from vip.services.bearer_secrets import digest_of
from vip.services.errors import DomainError, NotVisible, StateConflict

log = logging.getLogger(__name__)

KEY_PREFIX = "vip_"
KEY_BYTES = 32
KEY_MAX_LENGTH = 128  # longer "keys" are not looked up at all
SHOWN_PREFIX_LENGTH = 12  # "vip_" and 8 characters, shown in the list
NAME_LENGTH = (2, 80)
#: last_used_at is written at most this often per key.
USE_RECORD_INTERVAL = timedelta(minutes=1)


def keys_of(*, user: User) -> list[ApiKey]:
    """The reseller's keys, active ones first, newest first."""
    require(user, "api_keys.manage")
    return list(
        db.session.scalars(
            select(ApiKey)
            .where(ApiKey.reseller_id == user.reseller_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
            .options(contains_eager(ApiKey.created_by))
            .join(ApiKey.created_by)
        )
    )


def create_key(*, user: User, name: str, scope: str, now: datetime) -> tuple[ApiKey, str]:
    """Makes a key and returns it with its secret: the only time the secret exists
    outside the caller's hands."""
    require(user, "api_keys.manage")
    name = " ".join((name or "").split())
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise DomainError(
            _l("Use %(low)d to %(high)d characters.", low=low, high=high), field="name"
        )
    if not name.isprintable():
        raise DomainError(_l("Use printable characters only."), field="name")
    if scope not in {s.value for s in ApiKeyScope}:
        raise DomainError(_l("Choose read, or read and write."), field="scope")
    secret = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    key = ApiKey(
        reseller_id=user.reseller_id,
        created_by=user,
        name=name,
        scope=ApiKeyScope(scope),
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=digest_of(secret),
        created_at=now,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        actor=user,
        action="api_key.created",
        object_type="api_key",
        object_id=key.id,
        details={"name": name, "scope": key.scope.value, "prefix": key.prefix},
    )
    db.session.commit()
    return key, secret


def revoke_key(*, user: User, key_id: int, now: datetime) -> ApiKey:
    """Revokes one of the reseller's keys: it answers 401 from the next request on."""
    require(user, "api_keys.manage")
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.reseller_id == user.reseller_id)
    )
    if key is None:
        raise NotVisible(f"api key {key_id}")
    revoked = db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if revoked != 1:
        db.session.rollback()
        raise StateConflict(_l("The key %(name)s is already revoked.", name=key.name))
    db.session.refresh(key)
    audit.record(
        actor=user,
        action="api_key.revoked",
        object_type="api_key",
        object_id=key.id,
        details={"name": key.name, "prefix": key.prefix},
    )
    db.session.commit()
    return key


def key_for_secret(secret: str) -> ApiKey | None:
    """The active key with this secret, with its creator and reseller loaded, when the
    creator is still an active partner admin of the key's reseller; else None."""
    if not secret or len(secret) > KEY_MAX_LENGTH or not secret.startswith(KEY_PREFIX):
        return None
    return db.session.scalar(
        select(ApiKey)
        .join(ApiKey.created_by)
        .join(Reseller, Reseller.id == User.reseller_id)
        .where(
            ApiKey.key_hash == digest_of(secret),
            ApiKey.revoked_at.is_(None),
            User.active.is_(True),
            User.role == Role.RESELLER_ADMIN,
            User.reseller_id == ApiKey.reseller_id,
        )
        .options(contains_eager(ApiKey.created_by).contains_eager(User.reseller))
    )


def record_use(*, key_id: int, now: datetime) -> bool:
    """Notes the key's use, at most once per USE_RECORD_INTERVAL, in a transaction of its
    own; a write that fails (a busy database) is logged and skipped."""
    try:
        changed = db.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - USE_RECORD_INTERVAL
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        log.warning("could not record the use of API key %s", key_id, exc_info=True)
        return False
    return changed == 1
