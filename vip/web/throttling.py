"""Throttling (S47-S49): the limits of the actions worth guessing at, per client address
and per account, and the answer when one is reached.

Each throttled view carries `@throttled(action, account=...)`: two limits from
VIP_RATE_LIMITS[action] (its "address" and its "account" limit), counted in the
limiter's storage (`vip.extensions.limiter`). A refused request answers 429 with
`Retry-After`: a translated page, or for htmx the message in the page's flash region.
It is audited once per limit, key and window (`request.throttled`), however many requests
the window refuses.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flask import Flask, current_app, make_response, render_template, request, session
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from limits import RateLimitItemPerSecond
from werkzeug.middleware.proxy_fix import ProxyFix

from vip.extensions import limiter
from vip.models import User
from vip.services import accounts, security_log
from vip.web.htmx import is_htmx

#: The limiter's key of the windows in which a limit's refusals were audited already.
AUDITED_NAMESPACE = "throttle-audited"


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("VIP_TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)


def client_address() -> str:
    return request.remote_addr or "unknown"


def digest(value: str) -> str:
    """Secrets (links' tokens) never sit in the limiter's storage as they are."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def posted_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


def signed_in_account() -> str:
    return str(current_user.id) if current_user.is_authenticated else "anonymous"


def pending_second_factor_account() -> str:
    pending = session.get("two_factor_pending") or {}
    return str(pending.get("user", "none"))


def token_account() -> str:
    return digest((request.view_args or {}).get("token", ""))


def throttled(
    action: str, *, account: Callable[[], str], methods: tuple[str, ...] | None = ("POST",)
):
    """The view's `action` is limited per client address and per `account()` (S47, S48).
    `methods` are the methods counted (None: all)."""

    def limit_of(scope: str) -> Callable[[], str]:
        return lambda: current_app.config["VIP_RATE_LIMITS"][action][scope]

    def decorate(view):
        view = limiter.limit(
            limit_of("account"),
            key_func=lambda: f"{action}/account/{account()}",
            methods=list(methods) if methods else None,
            scope=f"{action}-account",
        )(view)
        return limiter.limit(
            limit_of("address"),
            key_func=lambda: f"{action}/address/{client_address()}",
            methods=list(methods) if methods else None,
            scope=f"{action}-address",
        )(view)

    return decorate


def _seconds_to_wait() -> int:
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def _first_refusal_of_its_window() -> bool:
    """True once per limit, key and window: the first refused request of the window."""
    current = limiter.current_limit
    if current is None:
        return True
    window = current.limit.get_expiry()
    return limiter.limiter.hit(RateLimitItemPerSecond(1, window), AUDITED_NAMESPACE, current.key)


def _subject() -> User | None:
    """Whose account the refused request was about, when it names one."""
    if current_user.is_authenticated:
        return current_user._get_current_object()
    if request.endpoint == "auth.login" and posted_email():
        return accounts.find_user_by_email(posted_email())
    if request.endpoint == "auth.second_factor":
        pending = session.get("two_factor_pending") or {}
        if isinstance(pending.get("user"), int):
            return accounts.user_by_id(pending["user"])
    return None


def too_many_requests(error: RateLimitExceeded):
    """429 with Retry-After: a page, or for htmx the message in #flash (S49)."""
    seconds = _seconds_to_wait()
    if _first_refusal_of_its_window():
        security_log.record_throttled(
            actor=current_user._get_current_object() if current_user.is_authenticated else None,
            subject=_subject(),
            endpoint=request.endpoint or "",
            limit=str(error.limit.limit),
            address=client_address(),
        )
    message = _("Too many attempts. Wait %(seconds)d seconds and try again.", seconds=seconds)
    if is_htmx():
        response = make_response(
            render_template(
                "partials/_flash_message.html", flash_message=message, flash_category="error"
            ),
            429,
        )
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(
            render_template(
                "errors/error.html", status=429, title=_("Too many requests"), message=message
            ),
            429,
        )
    response.headers["Retry-After"] = str(seconds)
    return response
