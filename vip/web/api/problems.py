"""Errors of the API as RFC 9457 problem details (`application/problem+json`): a stable
`type` per kind of problem, a `title` in the Accept-Language (Swedish or English), the
HTTP `status`, a `detail` and, for invalid input, `errors` by field (docs/api.md)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from flask import current_app, g, json, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from vip.extensions import db, limiter
from vip.services import audit
from vip.services.errors import DomainError, NotVisible, PermissionDenied, StateConflict
from vip.web.incidents import record_incident

log = logging.getLogger("vip.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vip-reseller-console:problem:"

#: slug -> (status, title). The slugs are the stable part: clients switch on `type`.
PROBLEMS: dict[str, tuple[int, object]] = {
    "bad-request": (400, _l("Bad request")),
    "unauthenticated": (401, _l("A valid API key is required")),
    "read-only-key": (403, _l("This API key may only read")),
    "not-permitted": (403, _l("Not allowed")),
    "not-found": (404, _l("Not found")),
    "method-not-allowed": (405, _l("Method not allowed")),
    "conflict": (409, _l("The object's state does not allow this")),
    "idempotency-in-progress": (409, _l("A request with this idempotency key is in progress")),
    "validation-failed": (422, _l("The request has invalid fields")),
    "idempotency-key-reused": (422, _l("The idempotency key was used for another request")),
    "rate-limited": (429, _l("Too many requests")),
    "internal-error": (500, _l("Something went wrong")),
}
STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "not-permitted",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    422: "validation-failed",
    429: "rate-limited",
}


def problem(
    slug: str,
    *,
    detail: str | None = None,
    errors: Mapping[str, list] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra,
):
    """The problem response of `slug`, worded in the request's language."""
    status, title = PROBLEMS[slug]
    body: dict = {"type": TYPE_PREFIX + slug, "title": str(title), "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = {field: [str(m) for m in messages] for field, messages in errors.items()}
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    locale = get_locale()
    response.headers["Content-Language"] = locale.language if locale else "en"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flattened(messages, prefix: str = "") -> dict[str, list]:
    """webargs' {"json": {"lines": {0: {"sku": [...]}}}} as {"lines.0.sku": [...]}."""
    found: dict[str, list] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            found.update(_flattened(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        found[prefix or "body"] = list(messages)
    else:
        found[prefix or "body"] = [str(messages)]
    return found


def field_errors(parsed: Mapping) -> dict[str, list]:
    """The parser's messages by field, without its location level (json, query, ...)."""
    found: dict[str, list] = {}
    for _location, messages in parsed.items():
        found.update(_flattened(messages))
    return found


def http_problem(error: HTTPException):
    code = error.code or 500
    if code >= 500:
        return unexpected_problem(error)
    data = getattr(error, "data", None) or {}
    if code == 422 and "messages" in data:
        return problem("validation-failed", errors=field_errors(data["messages"]))
    if code == 429:
        return problem(
            "rate-limited",
            detail=_("This API key made too many requests. Try again after Retry-After seconds."),
            headers={"Retry-After": str(retry_after_seconds())},
        )
    slug = data.get("slug") or STATUS_SLUGS.get(code, "bad-request")
    headers = dict(data.get("headers") or {})
    if code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return problem(slug, detail=data.get("detail"), headers=headers)


def retry_after_seconds() -> int:
    """Seconds until the key's window of the rate limit starts again."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    window = limit.limit.get_expiry()
    return min(window, max(1, math.ceil(limit.reset_at - time.time())))


def domain_problem(error: DomainError):
    """A broken rule: 409 for a state that refuses the action, 422 for invalid input."""
    db.session.rollback()
    errors = getattr(error, "errors", None)
    if errors is None and error.field:
        errors = {error.field: [error.message]}
    if errors is not None:
        errors = {_api_field(k): v for k, v in errors.items()}
    slug = "conflict" if isinstance(error, StateConflict) else "validation-failed"
    return problem(slug, detail=str(error), errors=errors)


def _api_field(name: str) -> str:
    """A service's form field name as the API's: lines-0-product -> lines.0.sku."""
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
        return f"lines.{parts[1]}.{'sku' if parts[2] == 'product' else parts[2]}"
    return name


def not_visible_problem(error: NotVisible):
    _audit_denial("access.denied_not_found", str(error))
    return problem("not-found")


def permission_problem(error: PermissionDenied):
    _audit_denial("access.denied_role", error.action)
    return problem("not-permitted")


def _audit_denial(action: str, detail: str) -> None:
    try:
        db.session.rollback()
        details = {"path": request.path, "method": request.method, "detail": detail}
        if (key := g.get("api_key")) is not None:
            details["api_key"] = {"id": key.id, "name": key.name, "prefix": key.prefix}
        audit.record(actor=g.get("api_user"), action=action, details=details)
        db.session.commit()
    except Exception:  # pragma: no cover - auditing must never hide the denial itself
        db.session.rollback()
        log.exception("could not audit a denial")


def unexpected_problem(error: Exception):
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return http_problem(error)
    incident = record_incident(error, log)
    return problem(
        "internal-error",
        detail=_("The error was logged. Quote this incident id when you contact support."),
        incident=incident,
    )


def register_handlers(blueprint) -> None:
    blueprint.register_error_handler(DomainError, domain_problem)
    blueprint.register_error_handler(NotVisible, not_visible_problem)
    blueprint.register_error_handler(PermissionDenied, permission_problem)
    blueprint.register_error_handler(HTTPException, http_problem)
    # Flask looks for a handler of the status code (the pages' 429 page, say) before one of
    # HTTPException: the API's statuses are claimed by code too.
    for code in STATUS_SLUGS:
        blueprint.register_error_handler(code, http_problem)
    blueprint.register_error_handler(Exception, unexpected_problem)
