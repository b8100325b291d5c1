"""Response headers, session time-outs, the enrolment gate, error pages, route ids and
cross-site requests (S6-S7, S13-S17, S21, S22, S28, S36, S43, S46)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

from vip.extensions import db
from vip.models.types import ID_MAX
from vip.services import audit
from vip.services.errors import NotVisible, PermissionDenied
from vip.web.api import KEY_AUTHENTICATED_BLUEPRINTS, is_api_request, problems
from vip.web.htmx import is_htmx, redirect_to_login
from vip.web.incidents import record_incident

log = logging.getLogger("vip.errors")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


#: The header a request sends that the browser makes on its own (the dashboard's refresh
#: every 60 seconds, an import's progress): it does not count as activity (S46).
BACKGROUND_HEADER = "X-VIP-Background"
#: The session mark of a user whose reseller requires a second factor they have not set
#: up: until they have, enrolment is the only page they reach (S43).
ENROLMENT_REQUIRED = "two_factor_enrolment_required"
ENROLMENT_ENDPOINTS = frozenset(
    {"auth.two_factor", "auth.logout", "static", "i18n.switch_language"}
)


#: Methods that change state: refused when they come from another site (S36).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Blueprints whose unsafe requests may come from another site: only those no cookie
#: authenticates, so that no other site can borrow a signed-in browser's rights: the API's
#: (bearer keys), which `vip.web.api.base.api_blueprint` names.
CROSS_SITE_BLUEPRINTS = KEY_AUTHENTICATED_BLUEPRINTS


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route (S28): an id the database's integer columns can hold,
    at most ten digits. A larger one matches no route, so it answers 404 like any unknown
    id, before a query could overflow (SQLite) or compare out of range (PostgreSQL)."""

    regex = r"\d{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=ID_MAX, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    """Called before any blueprint is registered: the `int` converter applies to all."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(refuse_cross_site_requests)
    app.before_request(enforce_session_timeouts)
    app.before_request(require_enrolment)
    app.after_request(set_security_headers)
    app.register_error_handler(NotVisible, not_visible)
    app.register_error_handler(PermissionDenied, permission_denied)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def _timestamp() -> float:
    return datetime.now(UTC).timestamp()


def enforce_session_timeouts():
    """Idle 30 minutes, absolute 12 hours (S7), checked on every request."""
    if is_api_request():
        return None  # the API authenticates by key alone, never by the session (S63)
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    from flask import current_app

    now = _timestamp()
    idle = current_app.config["VIP_SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["VIP_SESSION_ABSOLUTE_HOURS"] * 3600
    started = session.get("started_at", 0)
    seen = session.get("seen_at", 0)
    if now - started > absolute or now - seen > idle:
        logout_user()
        session.clear()
        return redirect_to_login()
    if not is_background_request():
        session["seen_at"] = now
        session.permanent = True
    return None


def is_background_request() -> bool:
    """A request the page makes by itself, not the user (S46)."""
    return request.headers.get(BACKGROUND_HEADER) == "1"


def require_enrolment():
    """While the reseller's required second factor is not set up, every page but the
    enrolment page (and signing out, the language) leads there (S43)."""
    if not session.get(ENROLMENT_REQUIRED) or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return None
    target = url_for("auth.two_factor")
    if is_htmx():
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303 if request.method not in ("GET", "HEAD") else 302)


def _request_origins() -> set[tuple[str, str]]:
    """This site's origins as (scheme, host): the address the request came to, in either
    scheme (a proxy in front may speak HTTPS for us), and VIP_BASE_URL's."""
    host = request.host.lower()
    origins = {("http", host), ("https", host)}
    base = urlsplit(current_app.config.get("VIP_BASE_URL") or "")
    if base.scheme and base.netloc:
        origins.add((base.scheme.lower(), base.netloc.lower()))
    return origins


def is_cross_site() -> bool:
    """An unsafe request a browser says comes from another site: `Sec-Fetch-Site:
    cross-site`, or an `Origin` that is not this site's (`null` included). A request
    without either header (a test client, curl, an old browser) is judged by CSRF alone."""
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    parts = urlsplit(origin.strip())
    return (parts.scheme.lower(), parts.netloc.lower()) not in _request_origins()


def refuse_cross_site_requests():
    """Defence in depth beside the CSRF token (S36): a state change that another site
    made the browser send is refused with 403, even with a valid token."""
    if request.method not in UNSAFE_METHODS or request.blueprint in CROSS_SITE_BLUEPRINTS:
        return None
    if not is_cross_site():
        return None
    from flask_babel import gettext as _

    _audit_denial("access.denied_cross_site", request.headers.get("Origin", "")[:200])
    return _error_page(
        403,
        title=_("Not allowed"),
        message=_(
            "This request came from another site and was refused. Open the console at its "
            "own address and try again."
        ),
    )


#: Responses a client may keep but must revalidate before every use (If-None-Match, 304),
#: and only in its own cache: the calendar feed, whose link is its key (S16).
REVALIDATED = frozenset({"calendar_feed.feed"})


def set_security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint in REVALIDATED:
        headers["Cache-Control"] = "private, no-cache"
    elif request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
        response.vary.add("Cookie")
    return response


def _error_page(status: int, *, title, message, incident: str | None = None):
    return (
        render_template(
            "errors/error.html", status=status, title=title, message=message, incident=incident
        ),
        status,
    )


def _audit_denial(action: str, detail: str) -> None:
    try:
        db.session.rollback()
        audit.record(
            actor=current_user if current_user.is_authenticated else None,
            action=action,
            details={"path": request.path, "method": request.method, "detail": detail},
        )
        db.session.commit()
    except Exception:  # pragma: no cover - auditing must never hide the denial itself
        db.session.rollback()
        log.exception("could not audit a denial")


def not_visible(error: NotVisible):
    if is_api_request():
        return problems.not_visible_problem(error)
    _audit_denial("access.denied_not_found", str(error))
    return http_error(NotFound())


def permission_denied(error: PermissionDenied):
    from flask_babel import gettext as _

    if is_api_request():
        return problems.permission_problem(error)
    _audit_denial("access.denied_role", error.action)
    return _error_page(
        403, title=_("Not allowed"), message=_("Your role does not allow this action.")
    )


def csrf_failed(error: CSRFError):
    from flask_babel import gettext as _

    if is_htmx():
        from flask import current_app

        response = current_app.response_class(status=400)
        response.headers["HX-Refresh"] = "true"
        return response
    return _error_page(
        400,
        title=_("The form expired"),
        message=_(
            "Your form was open too long or came from elsewhere. Reload the page and try again."
        ),
    )


def http_error(error: HTTPException):
    from flask_babel import gettext as _

    titles = {
        400: _("Bad request"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
    }
    messages = {
        404: _("There is nothing here, or you do not have access to it."),
        405: _("This address does not accept that kind of request."),
    }
    if is_api_request():  # outside the API's views: an unknown path or method under /api/v1
        return problems.http_problem(error)
    code = error.code or 500
    if code >= 500:
        return unexpected_error(error)
    response = error.get_response()
    body, status = _error_page(
        code,
        title=titles.get(code, error.name),
        message=messages.get(code, _("The request could not be handled.")),
    )
    response.set_data(body)
    response.content_type = "text/html; charset=utf-8"
    return response


def unexpected_error(error: Exception):
    from flask_babel import gettext as _

    if is_api_request():
        return problems.unexpected_problem(error)
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return http_error(error)
    incident = record_incident(error, log)
    return _error_page(
        500,
        title=_("Something went wrong"),
        message=_("The error was logged. Quote this incident id when you contact support."),
        incident=incident,
    )
