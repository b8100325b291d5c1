"""The security log of a partner admin (S50): the reseller's sign-ins, failures,
lock-outs, second-factor changes, denials, throttling and team changes, filtered by kind
and user, paged, and as CSV."""

from __future__ import annotations

import csv
import io

from babel.numbers import get_decimal_symbol
from flask import Blueprint, Response, current_app, request, stream_with_context
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from vip import clock
from vip.services import security_log
from vip.web.htmx import render_page_or_partial
from vip.web.labels import security_event_details, security_event_label, security_kind_labels
from vip.web.renewals import spreadsheet_safe

bp = Blueprint("security_log", __name__, url_prefix="/security-log")

KIND_VALUES = frozenset(kind.value for kind in security_log.SecurityKind)


def _filter_from_request() -> security_log.LogFilter:
    """Unknown kinds and user ids that are not numbers are ignored (the whole log)."""
    kind = request.args.get("kind", "")
    user = request.args.get("user", "")
    return security_log.LogFilter(
        kind=security_log.SecurityKind(kind) if kind in KIND_VALUES else None,
        user_id=int(user) if user.isdigit() and len(user) < 10 else None,
    )


def _params(chosen: security_log.LogFilter) -> dict:
    params = {}
    if chosen.kind:
        params["kind"] = chosen.kind.value
    if chosen.user_id is not None:
        params["user"] = chosen.user_id
    return params


@bp.get("")
@login_required
def index():
    chosen = _filter_from_request()
    page = request.args.get("page", "1")
    result = security_log.page_of(
        user=current_user,
        chosen=chosen,
        page=int(page) if page.isdigit() and len(page) < 6 else 1,
        page_size=current_app.config["VIP_PAGE_SIZE"],
    )
    return render_page_or_partial(
        "security_log/index.html",
        "security_log/_list.html",
        result=result,
        chosen=chosen,
        params=_params(chosen),
        team=security_log.team_for_filter(user=current_user),
        kinds=security_kind_labels(),
    )


@bp.get("/export.csv")
@login_required
def export():
    """The filtered log as CSV for Excel: UTF-8 with a BOM, the locale's separator,
    formulas neutralised (S18)."""
    chosen = _filter_from_request()
    rows = security_log.export_rows(user=current_user, chosen=chosen)
    # Excel splits on the list separator of the reader's locale: ";" where "," is decimal.
    delimiter = ";" if get_decimal_symbol(get_locale()) == "," else ","

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([_("Time"), _("Event"), _("User"), _("Details")])
        yield "\ufeff" + buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        for number, event in enumerate(rows, 1):
            writer.writerow(
                [
                    spreadsheet_safe(value)
                    for value in (
                        format_datetime(event.at, "yyyy-MM-dd HH:mm:ss"),
                        security_event_label(event.action),
                        event.actor_label,
                        security_event_details(event),
                    )
                ]
            )
            if number % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()

    filename = f"security-log-{clock.today_for(current_user).isoformat()}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
