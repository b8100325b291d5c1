"""The calendar feed as a calendar app reads it: each deadline of the feed
(vip.services.calendar_feed) worded in the user's language and written as an all-day event
of an iCalendar document (RFC 5545)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from icalendar import Calendar, Event, vDuration

from vip.links import external_url
from vip.services.calendar_feed import Deadline, DeadlineKind

REFRESH_INTERVAL = timedelta(hours=1)
PRODID = "-//VIP Reseller Console//Calendar feed//EN"

#: The Customer details tab each kind of deadline links to.
TABS = {
    DeadlineKind.ORDER_DUE: "plans",
    DeadlineKind.RETURN_WINDOW_CLOSES: "orders",
    DeadlineKind.RENEWAL_WINDOW_OPENS: "renewals",
    DeadlineKind.ANNIVERSARY: "renewals",
    DeadlineKind.ACCESS_REMOVAL: "renewals",
    DeadlineKind.COMMITMENT_ENDS: "info",
}


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date
    summary: str
    description: str
    url: str
    stamp: datetime
    customer_id: int


def _wording(deadline: Deadline) -> tuple[str, str]:
    """(summary, text) of a deadline, in the current locale."""
    company = deadline.company_name
    match deadline.kind:
        case DeadlineKind.ORDER_DUE:
            return (
                _(
                    "Order due: %(number)s · %(company)s",
                    number=deadline.reference,
                    company=company,
                ),
                _(
                    "Purchase authorization %(number)s must be ordered by this day; from the "
                    "next day the customer is Delayed.",
                    number=deadline.reference,
                ),
            )
        case DeadlineKind.RETURN_WINDOW_CLOSES:
            return (
                _(
                    "Return window closes: order %(number)s · %(company)s",
                    number=deadline.reference,
                    company=company,
                ),
                _(
                    "Last day to request a return authorization for order %(number)s "
                    "(ordered %(date)s).",
                    number=deadline.reference,
                    date=format_date(deadline.related, "long"),
                ),
            )
        case DeadlineKind.RENEWAL_WINDOW_OPENS:
            return (
                _("Renewal window opens: %(company)s", company=company),
                _(
                    "The renewal of the anniversary date %(date)s can be recorded from today.",
                    date=format_date(deadline.related, "long"),
                ),
            )
        case DeadlineKind.ANNIVERSARY:
            return (
                _("Anniversary date: %(company)s", company=company),
                _(
                    "The licenses run to the day before. Without a renewal the customer is in "
                    "its grace period from today."
                ),
            )
        case DeadlineKind.ACCESS_REMOVAL:
            return (
                _("Access removed unless renewed: %(company)s", company=company),
                _(
                    "Without a recorded renewal of the anniversary date %(date)s, the "
                    "customer's access is removed today.",
                    date=format_date(deadline.related, "long"),
                ),
            )
        case DeadlineKind.COMMITMENT_ENDS:
            return (
                _("Three-year commitment ends: %(company)s", company=company),
                _(
                    "The three-year commitment of at least %(count)s licenses (from %(date)s) "
                    "ends today, on its third anniversary.",
                    count=deadline.reference,
                    date=format_date(deadline.related, "long"),
                ),
            )
    raise ValueError(deadline.kind)


def calendar_events(deadlines: list[Deadline], *, language: str) -> list[CalendarEvent]:
    """The deadlines as events, worded in `language`."""
    events = []
    with force_locale(language):
        for deadline in deadlines:
            summary, text = _wording(deadline)
            url = external_url(
                "customers.tab", customer_id=deadline.customer_id, tab=TABS[deadline.kind]
            )
            description = "\n".join(
                [
                    text,
                    "",
                    _("Customer: %(company)s", company=deadline.company_name),
                    _("VIP ID: %(vip_id)s", vip_id=deadline.vip_id),
                    _("Customer details: %(url)s", url=url),
                ]
            )
            events.append(
                CalendarEvent(
                    uid=deadline.uid,
                    day=deadline.day,
                    summary=summary,
                    description=description,
                    url=url,
                    stamp=deadline.stamp,
                    customer_id=deadline.customer_id,
                )
            )
    return events


def calendar_name(*, reseller_name: str, language: str) -> str:
    with force_locale(language):
        return _("VIP deadlines · %(reseller)s", reseller=reseller_name)


def render_ics(*, name: str, events: list[CalendarEvent]) -> bytes:
    """The iCalendar document (RFC 5545) of the events: all-day events, DTEND the next day."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", item.stamp)
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("url", item.url)
        event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        calendar.add_component(event)
    return calendar.to_ical()
