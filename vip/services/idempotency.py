"""Idempotent POSTs of the API (docs/api.md, S64): a request made again with the same
`Idempotency-Key` gets the first answer again and changes nothing.

The claim on a key is written in the same transaction as the change the request makes
(the service's commit carries both), so a change and its claim exist together or not at
all. A second request with the key waits on the unique index (PostgreSQL) or on the write
lock (SQLite) until the first has committed or rolled back: after a commit it finds the
claim and gets the stored answer; after a rollback (a refused request) it goes ahead
itself. Only answers of requests that changed something are kept: a refused request
changes nothing and may be sent again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vip.database import reading_then_release
from vip.extensions import db
from vip.models import IdempotentRequest

KEY_MAX_LENGTH = 255
#: How long a repeat waits for the first request's answer to be stored.
ANSWER_WAIT_SECONDS = 10.0
ANSWER_POLL_SECONDS = 0.05


class KeyTaken(Exception):
    """Another request holds the key (committed before this one's claim)."""


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status_code: int | None  # None: the first request's answer is not stored (yet)
    body: str | None
    location: str | None


def request_hash(*, method: str, path: str, body: bytes) -> str:
    """What the request asks, whatever the spacing and key order of its JSON body."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
        payload = canonical.encode("utf-8")
    except ValueError:
        payload = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("utf-8"), payload):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _answer(api_key_id: int, key: str) -> StoredAnswer | None:
    row = db.session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id,
            IdempotentRequest.idempotency_key == key,
        )
    )
    if row is None:
        return None
    return StoredAnswer(row.request_hash, row.status_code, row.response_body, row.location)


def stored_answer(*, api_key_id: int, key: str) -> StoredAnswer | None:
    return _answer(api_key_id, key)


def claim(*, api_key_id: int, key: str, fingerprint: str, now: datetime) -> int:
    """Claims the key inside the current transaction (not committed: the change the
    request makes commits it). Raises KeyTaken when another request has it."""
    row = IdempotentRequest(
        api_key_id=api_key_id, idempotency_key=key, request_hash=fingerprint, created_at=now
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise KeyTaken(key) from None
    return row.id


def store_answer(*, claim_id: int, status_code: int, body: str, location: str | None) -> None:
    """Keeps the answer of the request that made the change, in a transaction of its own."""
    db.session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == claim_id)
        .values(status_code=status_code, response_body=body, location=location)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def wait_for_answer(
    *, api_key_id: int, key: str, timeout: float = ANSWER_WAIT_SECONDS
) -> StoredAnswer | None:
    """The stored answer, once the request that holds the key has stored it; what there is
    after `timeout` seconds otherwise (an answer with no status: still in progress)."""
    deadline = time.monotonic() + timeout
    db.session.rollback()
    while True:
        # Each look in a fresh snapshot that takes no lock (on SQLite a deferred read, not a
        # write transaction), so the request that holds the key can store its answer.
        with reading_then_release():
            answer = _answer(api_key_id, key)
        if answer is None or answer.status_code is not None or time.monotonic() >= deadline:
            return answer
        time.sleep(ANSWER_POLL_SECONDS)
