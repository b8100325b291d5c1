"""The few htmx conventions every route shares."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template, request, url_for


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_partial(page: str, partial: str, **context) -> str:
    """The partial for an htmx request, the full page otherwise (Vary is set globally)."""
    return render_template(partial if is_htmx() else page, **context)


def current_page_path() -> str:
    """The page the browser shows: for htmx the one in HX-Current-URL, not the fragment's."""
    if is_htmx():
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        return (page.path or "/") + (f"?{page.query}" if page.query else "")
    return request.full_path.rstrip("?")


def redirect_to_login():
    """302 to the login page, or for htmx a 401 that tells htmx to go there (S14)."""
    from flask import redirect

    from vip.web.auth import safe_next

    target = url_for("auth.login", next=safe_next(current_page_path()))
    if not is_htmx():
        return redirect(target)
    response = current_app.response_class(status=401)
    response.headers["HX-Redirect"] = target
    return response
