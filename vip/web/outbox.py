"""The Outbox page of a partner admin: queued, sent and failed mail, and retrying failures."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from vip.models import NotificationStatus
from vip.services import outbox
from vip.services.errors import DomainError
from vip.web.htmx import is_htmx, render_page_or_partial

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.get("")
@login_required
def index():
    status = request.args.get("status", "")
    items = outbox.outbox_of(user=current_user, status=status)
    return render_page_or_partial(
        "outbox/index.html",
        "outbox/_list.html",
        items=items,
        status=status,
        statuses=[s.value for s in NotificationStatus],
    )


@bp.post("/<int:notification_id>/retry")
@login_required
def retry(notification_id: int):
    category = "success"
    try:
        item = outbox.retry(user=current_user, notification_id=notification_id)
        message = _("The mail to %(recipient)s is queued again.", recipient=item.recipient)
    except DomainError as error:
        message, category = str(error), "error"
    if not is_htmx():
        flash(message, category)
        return redirect(url_for("outbox.index"), 303)
    item = outbox.get_for(user=current_user, notification_id=notification_id)
    return render_template(
        "outbox/_row.html", item=item, flash_message=message, flash_category=category
    )
