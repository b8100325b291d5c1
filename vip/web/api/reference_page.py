"""What the API reference page (/api/v1/docs) shows, read from the app's OpenAPI document:
its operations by tag, with their parameters, request body and responses, and its schemas.

The page is the app's own template (templates/api/reference.html), so it works without
JavaScript, in both languages and on a phone, and passes the accessibility sweep. The
document's own texts (summaries, descriptions, names) are written in English in the code
and shown as they are; what the page says around them is translated."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flask_babel import gettext as _

METHODS = ("get", "put", "post", "patch", "delete")
SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class Piece:
    """A bit of text: code (a type, a value), or prose; `schema` links it to that schema."""

    text: str
    code: bool = True
    schema: str | None = None


@dataclass(frozen=True)
class Constraint:
    """ "One of", "Default", "At most", ... and the values it names."""

    label: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """A parameter of an operation or a property of a schema."""

    name: str
    required: bool
    type: tuple[Piece, ...]
    constraints: tuple[Constraint, ...]
    description: tuple[Piece, ...]
    location: str = ""  # a parameter's: path, query or header


@dataclass(frozen=True)
class Body:
    """A request or response body: its media type and schema."""

    media_type: str
    type: tuple[Piece, ...]


@dataclass(frozen=True)
class Answer:
    status: str
    description: tuple[Piece, ...]
    bodies: tuple[Body, ...]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: tuple[Piece, ...]
    description: tuple[Piece, ...]
    parameters: tuple[Field, ...]
    request_bodies: tuple[Body, ...]
    request_required: bool
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Tag:
    anchor: str
    name: str
    description: tuple[Piece, ...]
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Schema:
    anchor: str
    name: str
    description: tuple[Piece, ...]
    type: tuple[Piece, ...]
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Scheme:
    """A security scheme: how a request proves who it is."""

    name: str
    kind: str
    description: tuple[Piece, ...]


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    description: tuple[Piece, ...]
    schemes: tuple[Scheme, ...]
    tags: tuple[Tag, ...]
    schemas: tuple[Schema, ...]


def _anchor(*words: str) -> str:
    """An id for the page's links: the words, with anything but letters and digits a dash."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", "-".join(words)).strip("-")


def schema_anchor(name: str) -> str:
    return _anchor("schema", name)


def prose(text: str | None) -> tuple[Piece, ...]:
    """The document's Markdown-lite text: `backticks` become code, the rest stays prose."""
    parts = (text or "").split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: all of it is prose
        parts = ["`".join(parts)]
    return tuple(Piece(part, code=index % 2 == 1) for index, part in enumerate(parts) if part != "")


def _words(text: str) -> Piece:
    return Piece(text, code=False)


def type_of(schema: dict) -> tuple[Piece, ...]:
    """A schema's type in a few words: `string (date) | null`, `array of` Customer, ..."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_REF)
        return (Piece(name, schema=schema_anchor(name)),)
    for combinator, joiner in (("oneOf", _("or")), ("anyOf", _("or")), ("allOf", _("and"))):
        if combinator in schema:
            pieces: list[Piece] = []
            for index, part in enumerate(schema[combinator]):
                if index:
                    pieces.append(_words(joiner))
                pieces.extend(type_of(part))
            return tuple(pieces)
    types = schema.get("type", "object" if "properties" in schema else "any")
    types = types if isinstance(types, list) else [types]
    pieces = []
    for index, name in enumerate(types):
        if index:
            pieces.append(_words(_("or")))
        if name == "array":
            pieces.append(_words(_("array of")))
            pieces.extend(type_of(schema.get("items", {})))
        elif name == "object" and isinstance(schema.get("additionalProperties"), dict):
            pieces.append(Piece("object"))
            pieces.append(_words(_("whose every value is")))
            pieces.extend(type_of(schema["additionalProperties"]))
        else:
            shown = (
                f"{name} ({schema['format']})" if "format" in schema and name != "null" else name
            )
            pieces.append(Piece(shown))
    return tuple(pieces)


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def constraints_of(schema: dict) -> tuple[Constraint, ...]:
    found = []
    if "enum" in schema:
        found.append(Constraint(_("One of"), tuple(_value(v) for v in schema["enum"])))
    if schema.get("default") is not None:
        found.append(Constraint(_("Default"), (_value(schema["default"]),)))
    for key, label in (
        ("minimum", _("At least")),
        ("maximum", _("At most")),
        ("minLength", _("Characters, at least")),
        ("maxLength", _("Characters, at most")),
        ("minItems", _("Items, at least")),
        ("maxItems", _("Items, at most")),
    ):
        if key in schema:
            found.append(Constraint(label, (_value(schema[key]),)))
    return tuple(found)


def _field(name: str, schema: dict, *, required: bool, description=None, location="") -> Field:
    return Field(
        name=name,
        required=required,
        type=type_of(schema),
        constraints=constraints_of(schema),
        description=prose(description or schema.get("description")),
        location=location,
    )


def _bodies(content: dict | None) -> tuple[Body, ...]:
    return tuple(
        Body(media_type=media_type, type=type_of(body.get("schema", {})))
        for media_type, body in (content or {}).items()
    )


def _operation(path: str, method: str, operation: dict, shared: list[dict]) -> Operation:
    own = operation.get("parameters", [])
    named = {(p["name"], p["in"]) for p in own}
    parameters = [p for p in shared if (p["name"], p["in"]) not in named] + own
    request = operation.get("requestBody", {})
    return Operation(
        anchor=_anchor("operation", operation.get("operationId") or f"{method} {path}"),
        method=method.upper(),
        path=path,
        summary=prose(operation.get("summary")),
        description=prose(operation.get("description")),
        parameters=tuple(
            _field(
                p["name"],
                p.get("schema", {}),
                required=p.get("required", False),
                description=p.get("description"),
                location=p["in"],
            )
            for p in parameters
        ),
        request_bodies=_bodies(request.get("content")),
        request_required=request.get("required", False),
        answers=tuple(
            Answer(
                status=status,
                description=prose(answer.get("description")),
                bodies=_bodies(answer.get("content")),
            )
            for status, answer in sorted(operation.get("responses", {}).items())
        ),
    )


def _schema(name: str, schema: dict) -> Schema:
    required = set(schema.get("required", ()))
    return Schema(
        anchor=schema_anchor(name),
        name=name,
        description=prose(schema.get("description")),
        type=type_of(schema),
        fields=tuple(
            _field(field, part, required=field in required)
            for field, part in schema.get("properties", {}).items()
        ),
    )


def reference_of(document: dict) -> Reference:
    """The page's content: every operation under its first tag (in the document's order of
    tags, then of paths), every schema by name."""
    tags = {tag["name"]: tag for tag in document.get("tags", [])}
    by_tag: dict[str, list[Operation]] = {name: [] for name in tags}
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or [_("Other")])[0]
                by_tag.setdefault(tag, []).append(_operation(path, method, item[method], shared))
    components = document.get("components", {})
    info = document.get("info", {})
    return Reference(
        title=info.get("title", ""),
        version=info.get("version", ""),
        description=prose(info.get("description")),
        schemes=tuple(
            Scheme(
                name=name,
                kind=" ".join(filter(None, (scheme.get("type"), scheme.get("scheme")))),
                description=prose(scheme.get("description")),
            )
            for name, scheme in components.get("securitySchemes", {}).items()
        ),
        tags=tuple(
            Tag(
                anchor=_anchor("tag", name),
                name=name,
                description=prose(tags.get(name, {}).get("description")),
                operations=tuple(operations),
            )
            for name, operations in by_tag.items()
            if operations
        ),
        schemas=tuple(
            _schema(name, schema) for name, schema in sorted(components.get("schemas", {}).items())
        ),
    )
