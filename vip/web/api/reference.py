"""The OpenAPI document at /api/v1/openapi.json (flask-smorest builds it from the API's
blueprints and schemas) and a readable reference page drawn from it by the vendored Swagger
UI (static/vendor/swagger-ui-5.35.0/, no CDN). Both are public: they hold no data."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from vip.web.api import API_PREFIX

#: The app's OpenAPI document (an apispec APISpec) in app.extensions.
DOCUMENT = "vip_openapi_document"

bp = Blueprint("api_reference", __name__, url_prefix=API_PREFIX)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(current_app.extensions[DOCUMENT].to_dict())


@bp.get("/docs")
def reference():
    return render_template("api/reference.html")
