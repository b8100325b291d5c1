"""The few htmx conventions every route shares."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import (
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import event
from sqlalchemy.orm import Session

from vip.models import AuditEvent
from vip.web.navigation import safe_next


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_partial(page: str, partial: str, **context) -> str:
    """The partial for an htmx request, the full page otherwise (Vary is set globally)."""
    return render_template(partial if is_htmx() else page, **context)


def render_with_flash(
    partial: str, *, message: str | None, category: str = "success", **context
) -> str:
    """An htmx partial with the flash message (if any) appended out of band, exactly once
    (templates/partials/_flash_oob.html); partials never carry the flash themselves."""
    html = render_template(partial, **context)
    if not message:
        return html
    return html + render_template(
        "partials/_flash_oob.html", flash_message=message, flash_category=category
    )


def current_page_path() -> str:
    """The page the browser shows: for htmx the one in HX-Current-URL, not the fragment's."""
    if is_htmx():
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        return (page.path or "/") + (f"?{page.query}" if page.query else "")
    return request.full_path.rstrip("?")


def redirect_to_login():
    """302 to the login page, or for htmx a 401 that tells htmx to go there (S14)."""
    target = url_for("auth.login", next=safe_next(current_page_path()))
    if not is_htmx():
        return redirect(target)
    response = current_app.response_class(status=401)
    response.headers["HX-Redirect"] = target
    return response


#: The event an htmx action that changed something announces, so that widgets elsewhere on
#: the page (the dashboard's sections) refresh: `hx-trigger="vip:changed from:body"`.
CHANGED_EVENT = "vip:changed"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def with_event(header: str | None, event: str) -> str:
    """An HX-Trigger header value that also triggers `event`. The header may name one
    event, a comma-separated list, or hold a JSON object of events and their details;
    each keeps its form. A value htmx could not read either is left as it is."""
    value = (header or "").strip()
    if not value:
        return event
    if value.startswith("{"):
        try:
            events = json.loads(value)
        except ValueError:
            return value
        if not isinstance(events, dict):
            return value
        events.setdefault(event, None)
        return json.dumps(events, separators=(",", ":"))
    names = [name.strip() for name in value.split(",") if name.strip()]
    if event not in names:
        names.append(event)
    return ", ".join(names)


def announce_changes(response):
    """after_request: a successful htmx request that committed a state change (every state
    change writes an audit event, R13) triggers `vip:changed`, merged into any HX-Trigger
    the route set itself. A form sent back with errors, or a dialog's preview of a
    proposal, changed nothing and announces nothing."""
    if (
        is_htmx()
        and request.method not in SAFE_METHODS
        and response.status_code < 400
        and g.get("committed_changes", False)
    ):
        response.headers["HX-Trigger"] = with_event(
            response.headers.get("HX-Trigger"), CHANGED_EVENT
        )
    return response


def _note_audit_events(session, _flush_context, _instances) -> None:
    if any(isinstance(instance, AuditEvent) for instance in session.new):
        session.info["audited"] = True


def _note_commit(session) -> None:
    if session.info.pop("audited", False) and has_request_context():
        g.committed_changes = True


def _forget_rolled_back(session) -> None:
    session.info.pop("audited", None)


def init_app(app) -> None:
    for name, listener in (
        ("before_flush", _note_audit_events),
        ("after_commit", _note_commit),
        ("after_rollback", _forget_rolled_back),
    ):
        if not event.contains(Session, name, listener):  # once, however many apps
            event.listen(Session, name, listener)
    app.after_request(announce_changes)
