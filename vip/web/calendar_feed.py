"""The private calendar link of a reseller user: the account page that makes and revokes
it, and the ICS feed a calendar app fetches with it (no session: the token is the key)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from vip import clock
from vip.database import write_from_a_read_request
from vip.services import calendar_feed
from vip.services.errors import DomainError
from vip.web import calendar_document, versions
from vip.web.htmx import is_htmx, render_with_flash
from vip.web.throttling import throttled, token_account

bp = Blueprint("calendar_feed", __name__)


def _render(*, feed_url: str | None = None, message: str | None = None, category="success"):
    """The page, or for htmx its link panel with the message out of band. Without htmx a
    message alone redirects (303) to the page; a new link's URL is rendered into this one
    response instead, since it must not travel in the session cookie (signed, not
    encrypted) to a next page."""
    context = {
        "feed": calendar_feed.active_feed(user=current_user),
        "feed_url": feed_url,
        "focus_create": message is not None and feed_url is None,
    }
    if is_htmx():
        return render_with_flash(
            "calendar_feed/_link.html", message=message, category=category, **context
        )
    if message:
        flash(message, category)
        if not feed_url:
            return redirect(url_for("calendar_feed.index"), 303)
    return render_template("calendar_feed/index.html", **context)


@bp.get("/account/calendar")
@login_required
def index():
    return _render()


@bp.post("/account/calendar/link")
@login_required
def create():
    token = calendar_feed.create_feed(user=current_user, now=clock.now())
    return _render(
        feed_url=calendar_feed.feed_url(token),
        message=_("Your calendar link was created. Copy it now: it is shown only once."),
    )


@bp.post("/account/calendar/revoke")
@login_required
def revoke():
    try:
        calendar_feed.revoke_feed(user=current_user, now=clock.now())
    except DomainError as error:
        return _render(message=str(error), category="error")
    return _render(message=_("Your calendar link was revoked. It no longer works."))


@bp.get("/calendar/<token>.ics")
@throttled("calendar_feed", account=token_account, methods=None)
def feed(token: str):
    """The feed: public, the token is the key. Unknown or revoked: 404, nothing else."""
    found = calendar_feed.feed_for_token(token)
    if found is None:
        abort(404)
    user = found.user
    today = clock.today_in(user.reseller.time_zone)
    etag = versions.entity_tag(*calendar_feed.feed_version(feed=found, today=today))
    if etag in request.if_none_match:
        # Nothing in the feed changed since the calendar's copy: 304, nothing rendered.
        write_from_a_read_request()
        calendar_feed.record_fetch(feed_id=found.id, now=clock.now())
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        return response
    deadlines = calendar_feed.feed_deadlines(reseller_id=user.reseller_id, today=today)
    language = user.language  # read before the write below ends the transaction
    name = calendar_document.calendar_name(reseller_name=user.reseller.name, language=language)
    # A GET reads in a deferred transaction; this one write begins its own, IMMEDIATE,
    # once the reading one has ended (record_fetch ends it).
    write_from_a_read_request()
    calendar_feed.record_fetch(feed_id=found.id, now=clock.now())
    # Streamed, a chunk of events at a time: a large reseller's feed is never held whole
    # (made from plain data, without the request, once the view has returned).
    # Cache-Control: private, no-cache (vip/web/security.py): kept, revalidated every time.
    events = calendar_document.iter_calendar_events(deadlines, language=language)
    response = current_app.response_class(
        calendar_document.ics_chunks(name=name, events=events),
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="vip-calendar.ics"',
            "X-Robots-Tag": "noindex, nofollow",
        },
    )
    response.set_etag(etag)
    return response
