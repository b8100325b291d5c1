"""The OpenAPI document at /api/v1/openapi.json (flask-smorest builds it from the API's
blueprints and schemas) and a readable reference page drawn from it by the vendored Swagger
UI (static/vendor/swagger-ui-5.35.0/, no CDN). Both are public: they hold no data."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from vip.extensions import openapi
from vip.web.api import API_PREFIX

bp = Blueprint("api_reference", __name__, url_prefix=API_PREFIX)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.spec.to_dict())


@bp.get("/docs")
def reference():
    return render_template("api/reference.html")
