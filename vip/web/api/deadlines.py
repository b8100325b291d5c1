"""/api/v1/deadlines: the calendar feed's deadlines as JSON."""

from __future__ import annotations

from vip.services import calendar_feed
from vip.web.api import schemas
from vip.web.api.base import READ_ERRORS, api_blueprint, api_user, documented, today

bp = api_blueprint("Deadlines", description="The deadlines the calendar link carries.")


@bp.route("/deadlines", methods=["GET"])
@bp.arguments(schemas.DeadlineQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.DeadlineList)
@documented(bp, READ_ERRORS)
def list_deadlines(from_, to):
    """Order-due dates, last days to request a return, renewal windows opening,
    anniversaries and access removals from `from` to `to` (at most 430 days), by day."""
    return {
        "items": calendar_feed.deadlines_between(
            user=api_user(), first=from_, last=to, today=today()
        )
    }
