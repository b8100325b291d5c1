"""Registers the API on an app: its OpenAPI document, its blueprints, its reference page."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from vip.extensions import openapi
from vip.web.api import (
    authorizations,
    customers,
    deadlines,
    is_api_request,
    orders,
    reference,
    renewals,
)

BLUEPRINTS = (customers, authorizations, orders, renewals, deadlines)

DESCRIPTION = (
    "The VIP Reseller Console's API: the reseller's customers, purchase authorizations, "
    "orders, returns, renewals, licenses and deadlines, through the same rules as the "
    "pages. Authenticate with `Authorization: Bearer <key>` (a partner admin creates keys "
    "on the API keys page). Errors are RFC 9457 problem details. Every POST takes an "
    "`Idempotency-Key` header. The guide: docs/api.md."
)


class SessionInterface(SecureCookieSessionInterface):
    """The pages' signed-cookie sessions; the API's answers never set or refresh one (S63)."""

    def should_set_cookie(self, app, session) -> bool:
        if is_api_request():
            return False
        return super().should_set_cookie(app, session)


def register(app: Flask) -> None:
    app.session_interface = SessionInterface()
    openapi.init_app(
        app,
        spec_kwargs={
            "info": {"description": DESCRIPTION},
            "servers": [{"url": app.config["VIP_BASE_URL"].rstrip("/")}],
        },
    )
    openapi.spec.components.security_scheme(
        "apiKey",
        {"type": "http", "scheme": "bearer", "description": "An API key: `vip_...`."},
    )
    for module in BLUEPRINTS:
        openapi.register_blueprint(module.bp)
    # flask-smorest keeps the document of the app it was last given; each app keeps its own.
    app.extensions[reference.DOCUMENT] = openapi.spec
    app.register_blueprint(reference.bp)
