"""The few htmx conventions every route shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    g,
    has_request_context,
    make_response,
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


def render_page_or_region(page: str, region: str, **context) -> str:
    """As `render_page_or_partial`, with the partial already rendered (`region`, a cached
    region of vip/web/cached_regions.py): the page shows it where it writes `region`."""
    return region if is_htmx() else render_template(page, region=region, **context)


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


def partial_with_flash_or_redirect(
    partial: str,
    context: dict | Callable[[], dict],
    *,
    message: str,
    category: str = "success",
    redirect_to: str,
    closes_dialog: bool = False,
):
    """The answer to an action that changes something (a POST). With htmx: `partial` with
    the flash out of band, and with `closes_dialog` the dialog it came from closed by event.
    Without JavaScript: the message flashed and a 303 to `redirect_to`. `context` is the
    partial's, or a function making it, called only for htmx when the partial needs
    queries the redirect does not."""
    if not is_htmx():
        flash(message, category)
        return redirect(redirect_to, 303)
    if callable(context):
        context = context()
    response = make_response(
        render_with_flash(partial, message=message, category=category, **context)
    )
    return close_dialog(response) if closes_dialog else response


def render_dialog(page: str, dialog: str, **context):
    """A dialog's form, opened by a `dialog_opener` link: for htmx the `<dialog data-modal>`
    alone (static/app.js opens it modal), without JavaScript the dialog's own page."""
    return render_page_or_partial(page, dialog, invalid=False, **context), 200


def render_form_errors(page: str, partial: str, **context):
    """A form sent back with its errors: 422 (which the htmx-config in base.html swaps; so
    every form with errors answers 422), for htmx `partial` (a dialog swaps itself), else
    the page. `invalid` tells the template: the first invalid field takes the focus."""
    return render_page_or_partial(page, partial, invalid=True, **context), 422


#: The event that closes the open dialog (static/app.js): a route that finished a dialog's
#: work answers `HX-Trigger-After-Settle: vip:dialog-close`, after its out-of-band swaps.
DIALOG_CLOSE_EVENT = "vip:dialog-close"


def close_dialog(response):
    """The dialog that sent this request is done: nothing is swapped into it (`HX-Reswap:
    none`; the response's out-of-band fragments still are), and once they settled the
    dialog closes on `vip:dialog-close` and focus returns to its opener."""
    response.headers["HX-Reswap"] = "none"
    response.headers["HX-Trigger-After-Settle"] = with_event(
        response.headers.get("HX-Trigger-After-Settle"), DIALOG_CLOSE_EVENT
    )
    return response


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
    change writes an audit event) triggers `vip:changed`, merged into any HX-Trigger
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
