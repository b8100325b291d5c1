"""Everything the templates call besides Flask's and Babel's own, registered in one place:
`init_app` runs once from the app factory (vip.register_blueprints).

Globals are plain functions of their arguments; context processors are what depends on the
signed-in user.
"""

from __future__ import annotations

from babel.dates import format_date as format_date_pattern
from babel.dates import format_skeleton
from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from vip import clock
from vip.models import Role
from vip.services import orders, pipeline, renewals
from vip.web import charts
from vip.web.i18n import current_language
from vip.web.labels import RENEWAL_STAGE_LABELS, labels_context

PIPELINE_STATUS_LABELS = {
    pipeline.PipelineStatus.RENEWED.value: _l("Renewed"),
    pipeline.PipelineStatus.OVERDUE.value: _l("Anniversary passed, not renewed"),
    pipeline.PipelineStatus.WINDOW_OPEN.value: _l("Renewal window open"),
    pipeline.PipelineStatus.UPCOMING.value: _l("Upcoming"),
}


# -- Dates and words ------------------------------------------------------------------------


def month_abbreviation(day) -> str:
    """The month's short name for an axis: "jan", "feb" in Swedish (no abbreviation dot),
    "Jan", "Feb" in English."""
    return format_date_pattern(day, "LLL", locale=get_locale()).rstrip(".")


def month_and_year(day) -> str:
    """The month and its year: "januari 2027", "January 2027"."""
    return format_skeleton("yMMMM", day, locale=get_locale())


def renewal_stage_label(stage) -> str:
    return str(RENEWAL_STAGE_LABELS.get(str(stage), stage))


def pipeline_status_label(status) -> str:
    return str(PIPELINE_STATUS_LABELS[str(status)])


# -- Context processors -----------------------------------------------------------------------


def renewal_banner() -> dict:
    """R12: the banner every page of a VIP admin shows while a renewal is due."""
    if not current_user.is_authenticated or current_user.role != Role.VIP_ADMIN:
        return {}
    customer = current_user.customer
    if customer is None:
        return {}
    return {"renewal_banner": renewals.banner_for(customer, clock.today_for(current_user))}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
        current_language=current_language,
        month_abbreviation=month_abbreviation,
        month_and_year=month_and_year,
        # Renewals (R8, R12) and the pipeline chart (renewals/_pipeline.html).
        renewal_dates=renewals.dates_for,
        renewal_today=lambda: clock.today_for(current_user),
        renewal_stage_label=renewal_stage_label,
        pipeline_chart=charts.bar_chart,
        pipeline_statuses=pipeline.STATUS_ORDER,
        pipeline_status_label=pipeline_status_label,
        return_window_closes_on=orders.return_window_closes_on,
    )
    app.context_processor(labels_context)
    app.context_processor(renewal_banner)
