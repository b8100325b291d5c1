"""Dates of the VIP term: the one rule that turns an order date into whole months."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int, *, anchor_day: int | None = None) -> date:
    """`day` moved by whole months; a day 29-31 falls on the last day of a shorter month.
    `anchor_day` keeps the anchor when `day` itself was already clamped (31 Jan → 28 Feb
    → 31 Mar, not 28 Mar)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    wanted = anchor_day or day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def anniversary_anchor(anniversary: date, months_before: int) -> date:
    """The start of the period that lies `months_before` months before the anniversary."""
    return add_months(anniversary, -months_before, anchor_day=anniversary.day)


def months_to_anniversary(order_date: date, anniversary: date) -> int:
    """Whole months from the order date to the anniversary, anchored on the anniversary's
    day of the month; a started month counts whole. 15 Jan anniversary, 20 Apr order: the
    periods are 15 Apr ... 14 Jan, so 9. Always 1 to 12; an order on or after the
    anniversary belongs to the next term and is refused."""
    if order_date >= anniversary:
        raise ValueError("the order date is not before the anniversary")
    for months in range(1, 13):
        if anniversary_anchor(anniversary, months) <= order_date:
            return months
    return 12


def period_containing(order_date: date, anniversary: date) -> tuple[date, date]:
    """The monthly period (first day, last day) the order date falls in, for showing the
    calculation."""
    months = months_to_anniversary(order_date, anniversary)
    start = anniversary_anchor(anniversary, months)
    end = anniversary_anchor(anniversary, months - 1)
    return start, date.fromordinal(end.toordinal() - 1)
