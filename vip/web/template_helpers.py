"""Everything the templates call besides Flask's and Babel's own, registered in one place:
`init_app` runs once from the app factory (vip.register_blueprints).

Globals are plain functions of their arguments; context processors are what depends on the
signed-in user. Statuses and day counts are answered here (or by the services) so that
templates only choose words: `{% if pa is pending_authorization %}`,
`order_due(pa, today).days_left`, never `pa.status == 'pending'` or `(day - today).days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from babel.dates import format_date as format_date_pattern
from babel.dates import format_skeleton
from babel.numbers import format_decimal as format_decimal_pattern
from flask import Flask, has_request_context
from flask_babel import format_date, format_datetime, format_decimal, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2.ext import (  # the functions Jinja's own install_gettext_callables makes
    _make_new_gettext,
    _make_new_ngettext,
    _make_new_npgettext,
    _make_new_pgettext,
)

from vip import clock
from vip.models import (
    AuthorizationStatus,
    DeliveryStatus,
    NotificationStatus,
    OrderStatus,
    ReturnStatus,
    Role,
)
from vip.services import orders, pipeline, renewals
from vip.web import charts
from vip.web.admin_console import chosen_customer
from vip.web.i18n import current_language, date_text
from vip.web.labels import RENEWAL_STAGE_LABELS, labels_context

PIPELINE_STATUS_LABELS = {
    pipeline.PipelineStatus.RENEWED.value: _l("Renewed"),
    pipeline.PipelineStatus.OVERDUE.value: _l("Anniversary passed, not renewed"),
    pipeline.PipelineStatus.WINDOW_OPEN.value: _l("Renewal window open"),
    pipeline.PipelineStatus.UPCOMING.value: _l("Upcoming"),
}


# -- Dates and words ------------------------------------------------------------------------

#: Babel's named date formats (Flask-Babel's defaults: the app configures none).
DATE_FORMS = ("short", "medium", "long", "full")


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


# -- Day counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """Whole days from `today` to a deadline `on`: for a row's "N days left" or "was due
    N days ago"."""

    on: date
    today: date

    @property
    def days_left(self) -> int:
        """0 on the day itself and after it."""
        return max((self.on - self.today).days, 0)

    @property
    def days_past(self) -> int:
        """0 until the day after the deadline."""
        return max((self.today - self.on).days, 0)

    @property
    def is_today(self) -> bool:
        return self.on == self.today

    @property
    def is_past(self) -> bool:
        return self.today > self.on


def order_due(pa, today: date) -> Countdown:
    """A purchase authorization's order-due countdown (`pa.is_overdue(today)` says
    whether it is delayed)."""
    return Countdown(pa.order_due_on, today)


@dataclass(frozen=True)
class ReturnWindow:
    """An order's return window as a row shows it (rules in services.orders)."""

    closes_on: date
    is_open: bool
    countdown: Countdown


def return_window(order, today: date) -> ReturnWindow:
    closes_on = orders.return_window_closes_on(order)
    return ReturnWindow(
        closes_on=closes_on,
        is_open=orders.return_window_open(order, today),
        countdown=Countdown(closes_on, today),
    )


# -- Statuses, as Jinja tests: `{% if item is requested_return %}` ---------------------------


def _is(attribute: str, value):
    """A Jinja test: the object's `attribute` equals `value` (no object: False)."""
    return lambda thing: getattr(thing, attribute, None) == value


STATUS_TESTS = {
    "pending_authorization": _is("status", AuthorizationStatus.PENDING),
    "ordered_authorization": _is("status", AuthorizationStatus.ORDERED),
    "cancelled_authorization": _is("status", AuthorizationStatus.CANCELLED),
    "returned_order": _is("status", OrderStatus.RETURNED),
    "requested_return": _is("status", ReturnStatus.REQUESTED),
    "sent_mail": _is("status", NotificationStatus.SENT),
    "failed_mail": _is("status", NotificationStatus.FAILED),
    "pending_delivery": _is("status", DeliveryStatus.PENDING),
    "redeliverable": lambda delivery: (
        getattr(delivery, "status", None) in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
    ),
    # the stage of RenewalDates or of the VIP admin's Banner.
    "upcoming_renewal": _is("stage", renewals.RenewalStage.UPCOMING),
    "renewal_window_open": _is("stage", renewals.RenewalStage.WINDOW_OPEN),
    "renewal_in_grace": _is("stage", renewals.RenewalStage.IN_GRACE),
    "renewal_overdue": _is("stage", renewals.RenewalStage.OVERDUE),
    "reseller_admin": _is("role", Role.RESELLER_ADMIN),
}


# -- Context processors -----------------------------------------------------------------------


def renewal_banner() -> dict:
    """the banner every page of a VIP admin shows while a renewal is due (none in mail
    rendered by the job or the command line: no one is signed in there)."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    if current_user.role != Role.VIP_ADMIN:
        return {}
    # The chosen customer's (a VIP admin may administer several, each its own anniversary).
    customer = chosen_customer()
    if customer is None:
        return {}
    return {"renewal_banner": renewals.banner_for(customer, clock.today_of(customer))}


def translations_context() -> dict:
    """The gettext functions of one render, bound to the translations of its locale,
    resolved once here: the very functions Flask-Babel installs as globals (newstyle:
    autoescaped, %-formatted), without a context lookup per string. They shadow those
    globals in this render (`_` too); a macro imported without context uses the globals."""
    translations = get_translations()
    gettext = _make_new_gettext(translations.ugettext)
    return {
        "gettext": gettext,
        "_": gettext,
        "ngettext": _make_new_ngettext(translations.ungettext),
        "pgettext": _make_new_pgettext(translations.upgettext),
        "npgettext": _make_new_npgettext(translations.unpgettext),
    }


@lru_cache(maxsize=16384)
def _count_text(number: int, locale: str) -> str:
    return format_decimal_pattern(number, locale=locale)


def formatting_context() -> dict:
    """`format_date` and `format_decimal` of one render, bound to its locale once: the same
    text as Flask-Babel's (the default formats), a date or an integer formatted once per
    process and locale (lists repeat the same dates and counts on every row). A datetime
    (moved to the user's time zone first), a pattern or a fraction goes to Flask-Babel."""
    locale = str(get_locale())

    def format_date_once(value=None, format=None, rebase=True):
        if type(value) is date and (format is None or format in DATE_FORMS):
            return date_text(value, format or "medium", locale)
        return format_date(value, format, rebase)

    def format_decimal_once(number, format=None):
        if type(number) is int and format is None:
            return _count_text(number, locale)
        return format_decimal(number, format)

    return {"format_date": format_date_once, "format_decimal": format_decimal_once}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
        current_language=current_language,
        month_abbreviation=month_abbreviation,
        month_and_year=month_and_year,
        # Renewals and the pipeline chart (renewals/_pipeline.html).
        renewal_dates=renewals.dates_for,
        renewal_today=lambda: clock.today_for(current_user),
        renewal_stage_label=renewal_stage_label,
        pipeline_chart=charts.bar_chart,
        pipeline_statuses=pipeline.STATUS_ORDER,
        pipeline_status_label=pipeline_status_label,
        # Day counts.
        order_due=order_due,
        return_window=return_window,
        return_window_closes_on=orders.return_window_closes_on,
    )
    app.jinja_env.tests.update(STATUS_TESTS)
    app.context_processor(translations_context)
    app.context_processor(formatting_context)
    app.context_processor(labels_context)
    app.context_processor(renewal_banner)
