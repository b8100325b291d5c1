"""The injected clock: "today" is the reseller's local date, or VIP_TODAY when set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

DEFAULT_TIME_ZONE = "Europe/Stockholm"


def today_in(time_zone: str | None) -> date:
    fixed = current_app.config.get("VIP_TODAY")
    if fixed:
        return date.fromisoformat(str(fixed))
    return datetime.now(ZoneInfo(time_zone or DEFAULT_TIME_ZONE)).date()


def today_for(user) -> date:
    """Today for a signed-in user: the local date of the reseller they work for (a VIP
    admin, who may administer customers of several resellers: see `today_of`)."""
    reseller = None
    if user is not None and getattr(user, "is_authenticated", False):
        reseller = user.reseller
    return today_in(reseller.time_zone if reseller else None)


def today_of(customer) -> date:
    """Today for a customer: the local date of its reseller (the Admin Console's today)."""
    return today_in(customer.reseller.time_zone)


def now() -> datetime:
    return datetime.now(UTC)
