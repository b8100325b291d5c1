"""The Outbox page of a partner admin: queued, sent and failed mail, and retrying failures."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from vip import clock
from vip.models import NotificationStatus
from vip.services import access, job, outbox
from vip.services.errors import DomainError
from vip.web.htmx import is_htmx, partial_with_flash_or_redirect, render_page_or_partial
from vip.web.versions import reseller_data_tag, shown_is_current

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.get("")
@login_required
def index():
    status = request.args.get("status", "")
    page_only = {} if is_htmx() else _preview_context()
    items = outbox.outbox_of(user=current_user, status=status)
    return render_page_or_partial(
        "outbox/index.html",
        "outbox/_list.html",
        items=items,
        status=status,
        statuses=[s.value for s in NotificationStatus],
        **page_only,
    )


@bp.get("/preview")
@login_required
def preview():
    """Tomorrow's job run for this reseller: what it would change and which mail it would
    deliver. Refreshed after any change made on the page: 204 when nothing it shows changed."""
    access.require(current_user, "outbox.view")
    shown = _preview_tag()
    if shown_is_current(shown):
        return "", 204
    return render_page_or_partial(
        "outbox/preview.html", "outbox/_preview.html", **_preview_context(shown)
    )


def _preview_tag() -> str:
    today = clock.today_for(current_user)
    return reseller_data_tag("outbox-preview", user=current_user, today=today)


def _preview_context(shown: str | None = None) -> dict:
    """The preview and the version it shows (`shown`, else read here), read before it: a
    change in between makes the next refresh render again."""
    if shown is None:
        access.require(current_user, "outbox.view")  # before the version: a VIP admin has none
        shown = _preview_tag()
    return {"preview": job.tomorrows_run(user=current_user), "shown": shown}


@bp.post("/<int:notification_id>/retry")
@login_required
def retry(notification_id: int):
    category = "success"
    try:
        item = outbox.retry(user=current_user, notification_id=notification_id)
        message = _("The mail to %(recipient)s is queued again.", recipient=item.recipient)
    except DomainError as error:
        message, category = str(error), "error"
    return partial_with_flash_or_redirect(
        "outbox/_row.html",
        lambda: {"item": outbox.get_for(user=current_user, notification_id=notification_id)},
        message=message,
        category=category,
        redirect_to=url_for("outbox.index"),
    )
