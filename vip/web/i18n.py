"""Language and time zone: the user's preference, else the browser's, else Swedish."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel.dates import format_date as format_date_pattern
from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user

from vip.clock import DEFAULT_TIME_ZONE
from vip.services import accounts
from vip.web.api import is_api_request
from vip.web.navigation import safe_next

API_DEFAULT_LANGUAGE = "en"


def select_locale() -> str:
    languages = current_app.config["VIP_LANGUAGES"]
    if not has_request_context():  # the job and the command line: mail forces its own
        return languages[0]
    if is_api_request():  # the API: Accept-Language alone, English without one
        return request.accept_languages.best_match(languages) or API_DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or languages[0]


@lru_cache(maxsize=16384)
def date_text(day: date, form: str, locale: str) -> str:
    """Babel's `format_date` of a date in a named form ("medium", "long") or a pattern,
    once per process for each day, form and locale: the same text as Flask-Babel's for a
    date (no time zone applies)."""
    return format_date_pattern(day, form, locale=locale)


def current_language() -> str:
    """The language being rendered: the forced one inside a mail, else the page's."""
    locale = get_locale()
    return locale.language if locale is not None else select_locale()


def select_timezone() -> str:
    if (
        has_request_context()
        and not is_api_request()
        and current_user
        and current_user.is_authenticated
    ):
        # A VIP admin's: the reseller of the Admin Console's customer (it may administer
        # customers of several resellers).
        customer = g.get("console_customer")
        reseller = current_user.reseller or (customer.reseller if customer else None)
        if reseller is not None:
            return reseller.time_zone
    return DEFAULT_TIME_ZONE


bp = Blueprint("i18n", __name__)


@bp.post("/language")
def switch_language():
    """The header's switcher: remembered on the user, or in the session before login."""
    language = request.form.get("language", "")
    if language in current_app.config["VIP_LANGUAGES"]:
        session["language"] = language
        if current_user.is_authenticated:
            accounts.set_language(user=current_user, language=language)
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
