"""The few htmx conventions every route shares."""

from __future__ import annotations

from flask import render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_partial(page: str, partial: str, **context) -> str:
    """The partial for an htmx request, the full page otherwise (Vary is set globally)."""
    return render_template(partial if is_htmx() else page, **context)
