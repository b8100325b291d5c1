"""Regions of a page rendered once per version of what they show (README "Performance").

The customers list's results, the renewals overview's results and the customer's VIP
information are drawn from one reseller's customer data alone. Each is kept, rendered, in
the cache (Flask-Caching, `VIP_CACHE_TYPE`) under a key of everything it depends on:
the region and its parameters (filters, sort, page), the reseller's change counter and the
day (`change_count.reseller_stamp`, which moves with every row of its customer data), the
user, the user's role, language and time zone, and the release (`versions.entity_tag`).
A request whose key is found serves the rendered region without reading the data.

The counter is read before the data, so a region is never kept under a newer version than
the rows it was drawn from. A CSRF token rendered in a region is kept as a placeholder and
each request puts its own back (a session's token never reaches another's page)."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from vip import clock
from vip.extensions import cache
from vip.services import change_count
from vip.web.versions import entity_tag

#: Stands for the request's CSRF token in a kept region (never in a page's own text).
TOKEN_PLACEHOLDER = "\x1fvip-csrf-token\x1f"


def data_stamp() -> tuple | None:
    """The version of the signed-in user's reseller's data, read once per request: a view
    that reads rows before it asks for a region (the customer of its access check) calls
    this first. None for a user without a reseller (nothing to key a region by)."""
    if "region_stamp" not in g:
        user = current_user
        g.region_stamp = (
            None
            if user.reseller_id is None
            else change_count.reseller_stamp(
                reseller_id=user.reseller_id, today=clock.today_for(user)
            )
        )
    return g.region_stamp


def region_key(region: str, params: dict) -> str | None:
    """The cache key of `region` with `params` for the signed-in user, or None."""
    user = current_user
    stamp = data_stamp()
    if stamp is None:
        return None
    shown_to = (user.id, user.role.value, str(get_locale()), str(get_timezone()))
    return "region:" + entity_tag(region, *stamp, *shown_to, sorted(params.items()))


def cached_value(region: str, compute: Callable[[], object], **params):
    """`compute()`, or what it returned for the same key before."""
    key = region_key(region, params) if current_app.config["VIP_CACHED_REGIONS"] else None
    if key is None:
        return compute()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found)
    return found


def cached_html(region: str, render: Callable[[], str], **params) -> Markup:
    """The rendered region, kept without the request's CSRF token."""

    def rendered() -> str:
        html = render()
        token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        return html.replace(token, TOKEN_PLACEHOLDER) if token else html

    html = cached_value(region, rendered, **params)
    if TOKEN_PLACEHOLDER in html:
        html = html.replace(TOKEN_PLACEHOLDER, generate_csrf())
    return Markup(html)  # noqa: S704 (rendered by Jinja with autoescape)
