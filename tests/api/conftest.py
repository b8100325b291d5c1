"""The API's fixtures: keys for both tenants, and `api`, a client whose every response is
validated against the app's own OpenAPI document (status, media type and body schema), so
that no test can receive an answer the document does not describe."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import TODAY
from vip.extensions import db
from vip.models import User
from vip.services import api_keys


@dataclass
class Keys:
    a_write: str
    a_read: str
    b_write: str


def make_key(app, user_id: int, scope: str, name: str = "ERP") -> str:
    from datetime import UTC, datetime

    with app.test_request_context():
        user = db.session.get(User, user_id)
        _key, secret = api_keys.create_key(
            user=user, name=name, scope=scope, now=datetime(2026, 11, 29, 9, tzinfo=UTC)
        )
        db.session.remove()
    return secret


@pytest.fixture
def keys(app, tenants) -> Keys:
    return Keys(
        a_write=make_key(app, tenants.a.admin.id, "write"),
        a_read=make_key(app, tenants.a.admin.id, "read", "Reports"),
        b_write=make_key(app, tenants.b.admin.id, "write"),
    )


class OpenApiDocument:
    """The app's OpenAPI document, validated once, and a check of one response against it."""

    def __init__(self, document: dict):
        validate_spec(document)
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:openapi", resource)
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def operation(self, method: str, path: str) -> dict | None:
        for pattern, template in self.paths:
            if pattern.match(path):
                return self.document["paths"][template].get(method.lower())
        return None

    def check(self, method: str, path: str, response) -> None:
        operation = self.operation(method, path)
        if operation is None:  # an unknown path or method: a problem, documented nowhere
            assert response.status_code in (404, 405), (method, path, response.status_code)
            assert response.mimetype == "application/problem+json"
            return
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{method} {path} answered {response.status_code}, which the document lacks"
        )
        content = documented.get("content", {})
        assert response.mimetype in content, (method, path, response.mimetype, list(content))
        schema = content[response.mimetype]["schema"]
        validator = OAS31Validator(
            {"$ref": "urn:openapi#/" + schema["$ref"].removeprefix("#/")}
            if "$ref" in schema
            else schema,
            registry=self.registry,
        )
        validator.validate(response.get_json())


@pytest.fixture(scope="session")
def openapi_document() -> OpenApiDocument:
    from vip import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    return OpenApiDocument(app.test_client().get("/api/v1/openapi.json").get_json())


class ApiClient:
    """The test client with a key: every response it gets is checked against the document."""

    def __init__(self, client, document: OpenApiDocument):
        self.client = client
        self.document = document

    def open(self, method: str, path: str, *, key: str | None = None, headers=None, **kwargs):
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        response = self.client.open(path, method=method, headers=sent, **kwargs)
        self.document.check(method, path.split("?")[0], response)
        return response

    def get(self, path: str, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.open("POST", path, **kwargs)


@pytest.fixture
def api(client, openapi_document) -> ApiClient:
    return ApiClient(client, openapi_document)


@pytest.fixture
def today():
    return TODAY
