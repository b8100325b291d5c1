"""What every API blueprint shares: authentication by key (S60-S63), the key's scope, the
per-key rate limit (S65), idempotent POSTs (S64) and problem+json errors."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, request
from flask_login import AnonymousUserMixin
from flask_smorest import Blueprint, abort

from vip import clock
from vip.database import READ_ONLY_METHODS, writing
from vip.extensions import csrf, limiter
from vip.models import ApiKey, User
from vip.services import api_keys, audit, idempotency
from vip.services.authorizations import AuthorizationInvalid
from vip.services.bearer_secrets import digest_of
from vip.web.api import API_PREFIX, KEY_AUTHENTICATED_BLUEPRINTS
from vip.web.api.problems import PROBLEM_MEDIA_TYPE, problem, register_handlers
from vip.web.api.schemas import Problem

BEARER = "bearer"
IDEMPOTENCY_HEADER = "Idempotency-Key"

#: Documented on every operation that authenticates (components.securitySchemes).
SECURITY = [{"apiKey": []}]


def _bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != BEARER or not secret.strip():
        return None
    return secret.strip()


def rate_limit_key() -> str:
    """The limit counts per key (a hash of the presented secret, so even unknown keys are
    counted apart from each other), and per address for requests without one."""
    secret = _bearer_secret()
    if secret is None:
        return "address:" + (request.remote_addr or "unknown")
    return "key:" + digest_of(secret)


def rate_limit() -> str:
    return current_app.config["VIP_API_RATE_LIMIT"]


def authenticate() -> None:
    """Before every API request: the bearer key, or 401; a read-only key on a write, 403.
    The session cookie is never read: the signed-in user of a browser is not an API
    client (S63)."""
    g._login_user = AnonymousUserMixin()  # Flask-Login's current_user: never the session's
    secret = _bearer_secret()
    key = api_keys.key_for_secret(secret) if secret else None
    if key is None:
        abort(401, detail="Send an active API key as `Authorization: Bearer <key>`.")
    if request.method not in READ_ONLY_METHODS and not key.can_write:
        abort(403, slug="read-only-key", detail="Create a read and write key to change data.")
    g.api_key = key
    g.api_user = key.created_by
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= api_keys.USE_RECORD_INTERVAL:
        with writing():
            api_keys.record_use(key_id=key.id, now=now)
        g.api_key = key = api_keys.key_for_secret(secret)
        g.api_user = key.created_by


def api_blueprint(name: str, *, description: str) -> Blueprint:
    """A blueprint of the API: under /api/v1, key-authenticated, CSRF-exempt (no cookie
    authenticates it, so no other site can borrow one), rate-limited per key."""
    blueprint = Blueprint(name, __name__, url_prefix=API_PREFIX, description=description)
    blueprint.before_request(authenticate)
    register_handlers(blueprint)
    csrf.exempt(blueprint)
    KEY_AUTHENTICATED_BLUEPRINTS.add(blueprint.name)
    limiter.limit(rate_limit, key_func=rate_limit_key)(blueprint)
    return blueprint


ERROR_DESCRIPTIONS = {
    401: "No key, or an unknown or revoked one.",
    403: "A read-only key on a write.",
    404: "No such object for this key's reseller (another reseller's ids too).",
    409: "The object's state refuses the action.",
    422: "Invalid input; `errors` names each field. Or an Idempotency-Key reused.",
    429: "Over the key's rate limit; see Retry-After.",
    500: "An unexpected error, logged; quote its `incident` id to support.",
}
IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A repeat with the same key and body gets the first answer and changes "
    "nothing; the same key with another body answers 422.",
}
READ_ERRORS = (401, 404, 422, 429, 500)
WRITE_ERRORS = (401, 403, 404, 409, 422, 429, 500)


def documented(blueprint: Blueprint, errors: tuple[int, ...]):
    """Documents an operation's key, its problem responses and its operationId (the view's
    name, which client generators use as the method's)."""

    def decorate(view):
        for code in errors:
            view = blueprint.alt_response(
                code,
                schema=Problem,
                content_type=PROBLEM_MEDIA_TYPE,
                description=ERROR_DESCRIPTIONS[code],
            )(view)
        doc = {"security": SECURITY, "operationId": view.__name__}
        if 409 in errors:  # the writes: every POST takes an Idempotency-Key
            doc["parameters"] = [IDEMPOTENCY_PARAMETER]
        return blueprint.doc(**doc)(view)

    return decorate


def api_user() -> User:
    return g.api_user


def api_key() -> ApiKey:
    return g.api_key


@contextmanager
def acting() -> Iterator[User]:
    """The key's user, with every audit event inside naming the key."""
    key = api_key()
    with audit.through_api_key(key_id=key.id, name=key.name, prefix=key.prefix):
        yield api_user()


@contextmanager
def field_names(names: dict[str, str]) -> Iterator[None]:
    """A service's field errors under the API's names for the request's rows."""
    try:
        yield
    except AuthorizationInvalid as invalid:
        renamed = {names.get(name, name): messages for name, messages in invalid.errors.items()}
        raise type(invalid)(renamed) from None


def today():
    return clock.today_in(api_user().reseller.time_zone)


def idempotent(view):
    """A POST that takes an `Idempotency-Key` header (any text of 1 to 255 printable
    characters): the first request's answer is kept with a hash of what it asked; a repeat
    gets that answer again (`Idempotent-Replayed: true`) and changes nothing; the same key
    with another method, path or body answers 422."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= idempotency.KEY_MAX_LENGTH or not key.isprintable():
            return problem(
                "validation-failed",
                errors={IDEMPOTENCY_HEADER: ["Use 1 to 255 printable characters."]},
            )
        fingerprint = idempotency.request_hash(
            method=request.method, path=request.path, body=request.get_data()
        )
        owner = api_key().id
        answer = idempotency.stored_answer(api_key_id=owner, key=key)
        claim_id = None
        if answer is not None and answer.status_code is None:  # the first is still answering
            answer = idempotency.wait_for_answer(api_key_id=owner, key=key)
        if answer is None:
            try:
                claim_id = idempotency.claim(
                    api_key_id=owner, key=key, fingerprint=fingerprint, now=clock.now()
                )
            except idempotency.KeyTaken:
                answer = idempotency.wait_for_answer(api_key_id=owner, key=key)
        if claim_id is None:
            if answer is None:  # the holder rolled back between our claim and our look
                return wrapper(*args, **kwargs)
            return _replay(answer, fingerprint)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:
            idempotency.store_answer(
                claim_id=claim_id,
                status_code=response.status_code,
                body=response.get_data(as_text=True),
                location=response.headers.get("Location"),
            )
        return response

    return wrapper


def _replay(answer: idempotency.StoredAnswer, fingerprint: str):
    if answer.request_hash != fingerprint:
        return problem(
            "idempotency-key-reused",
            detail="This Idempotency-Key was used with another request: use a new key.",
        )
    if answer.status_code is None:
        return problem(
            "idempotency-in-progress",
            detail="The first request with this key has not answered yet: try again shortly.",
            headers={"Retry-After": "1"},
        )
    response = current_app.response_class(
        answer.body, status=answer.status_code, mimetype="application/json"
    )
    if answer.location:
        response.headers["Location"] = answer.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor points after; ValueError for anything else."""
    padded = cursor + "=" * (-len(cursor) % 4)
    text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    kind, _, value = text.partition(":")
    if kind != "after" or not value.isdigit() or len(value) > 12:
        raise ValueError(cursor)
    return int(value)
