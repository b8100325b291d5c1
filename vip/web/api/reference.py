"""The OpenAPI document at /api/v1/openapi.json (flask-smorest builds it from the API's
blueprints and schemas) and a readable reference page drawn from it by the app's own
template (vip/web/api/reference_page.py). Both are public: they hold no data."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from vip.web.api import API_PREFIX, REFERENCE_PAGE
from vip.web.api.reference_page import reference_of

#: The app's OpenAPI document (an apispec APISpec) in app.extensions.
DOCUMENT = "vip_openapi_document"

bp = Blueprint("api_reference", __name__, url_prefix=API_PREFIX)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(current_app.extensions[DOCUMENT].to_dict())


@bp.get(REFERENCE_PAGE.removeprefix(API_PREFIX))
def reference():
    document = current_app.extensions[DOCUMENT].to_dict()
    return render_template("api/reference.html", reference=reference_of(document))
