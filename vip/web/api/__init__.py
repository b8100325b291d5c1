"""The JSON API under /api/v1/ (docs/api.md): API keys instead of sessions, the same
services as the pages, problem+json errors, idempotent POSTs, an OpenAPI document.

This module only says which requests are the API's; the blueprints are in its modules and
are registered by `register(app)` in vip/web/api/resources.py."""

from __future__ import annotations

from flask import request

API_PREFIX = "/api/v1"
#: The blueprints that authenticate by key alone (`base.api_blueprint` names each): no
#: cookie signs their requests in, so the cross-site refusal leaves them alone (S36).
KEY_AUTHENTICATED_BLUEPRINTS: set[str] = set()


#: The API's reference page is a page of the console (its header, its session, the reader's
#: language), not an answer of the API (vip/web/api/reference.py).
REFERENCE_PAGE = API_PREFIX + "/docs"


def is_api_request() -> bool:
    """The request is the API's: it authenticates by key, never by the session cookie."""
    path = request.path
    return path != REFERENCE_PAGE and (path == API_PREFIX or path.startswith(API_PREFIX + "/"))
