"""The calendar feed as a calendar app reads it: each deadline of the feed
(vip.services.calendar_feed) worded in the user's language and written as an all-day event
of an iCalendar document (RFC 5545)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from babel.numbers import format_decimal
from flask_babel import force_locale, get_locale, get_translations
from flask_babel import gettext as _
from icalendar import Calendar, vDuration

from vip.links import external_url
from vip.services.calendar_feed import Deadline, DeadlineDay, DeadlineKind
from vip.web.i18n import date_text

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


#: The console's list each kind of deadline without one anniversary is worked in, for a
#: day of many: the customers list narrowed to a dashboard section (as the day comes
#: near), or the renewals overview. A day of many of an anniversary's deadlines links to
#: the customers list of that anniversary date.
DAY_LISTS = {
    DeadlineKind.ORDER_DUE: ("customers.index", {"attention": "order_due"}),
    DeadlineKind.RETURN_WINDOW_CLOSES: ("customers.index", {"attention": "return_closing"}),
    DeadlineKind.COMMITMENT_ENDS: ("renewals.index", {}),
}
#: A date no anniversary has, standing for the anniversary in a link template.
DATE_SENTINEL = "0001-01-01"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date
    summary: str
    description: str
    url: str
    stamp: datetime
    customer_id: int | None  # None: a day's deadlines of one kind, as one event


def _wording(deadline: Deadline, _, long_date) -> tuple[str, str]:
    """(summary, text) of a deadline, with the render's gettext `_` and date format."""
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
                    date=long_date(deadline.related),
                ),
            )
        case DeadlineKind.RENEWAL_WINDOW_OPENS:
            return (
                _("Renewal window opens: %(company)s", company=company),
                _(
                    "The renewal of the anniversary date %(date)s can be recorded from today.",
                    date=long_date(deadline.related),
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
                    date=long_date(deadline.related),
                ),
            )
        case DeadlineKind.COMMITMENT_ENDS:
            return (
                _("Three-year commitment ends: %(company)s", company=company),
                _(
                    "The three-year commitment of at least %(count)s licenses (from %(date)s) "
                    "ends today, on its third anniversary.",
                    count=deadline.reference,
                    date=long_date(deadline.related),
                ),
            )
    raise ValueError(deadline.kind)


def _day_wording(day: DeadlineDay, ngettext, count: str) -> tuple[str, str]:
    """(summary, text) of a day's many deadlines of one kind; `count` is the number as the
    language writes it."""
    n = day.count
    match day.kind:
        case DeadlineKind.ORDER_DUE:
            summary = ngettext(
                "Order due: %(count)s purchase authorization",
                "Order due: %(count)s purchase authorizations",
                n,
                count=count,
            )
        case DeadlineKind.RETURN_WINDOW_CLOSES:
            summary = ngettext(
                "Return window closes: %(count)s order",
                "Return window closes: %(count)s orders",
                n,
                count=count,
            )
        case DeadlineKind.RENEWAL_WINDOW_OPENS:
            summary = ngettext(
                "Renewal window opens: %(count)s customer",
                "Renewal window opens: %(count)s customers",
                n,
                count=count,
            )
        case DeadlineKind.ANNIVERSARY:
            summary = ngettext(
                "Anniversary date: %(count)s customer",
                "Anniversary date: %(count)s customers",
                n,
                count=count,
            )
        case DeadlineKind.ACCESS_REMOVAL:
            summary = ngettext(
                "Access removed unless renewed: %(count)s customer",
                "Access removed unless renewed: %(count)s customers",
                n,
                count=count,
            )
        case DeadlineKind.COMMITMENT_ENDS:
            summary = ngettext(
                "Three-year commitment ends: %(count)s customer",
                "Three-year commitment ends: %(count)s customers",
                n,
                count=count,
            )
        case _:
            raise ValueError(day.kind)
    text = ngettext(
        "%(count)s deadline of this kind falls on this day: one event for all of them.",
        "%(count)s deadlines of this kind fall on this day: one event for all of them.",
        n,
        count=count,
    )
    return summary, text


def iter_calendar_events(
    deadlines: Iterable[Deadline | DeadlineDay], *, language: str
) -> Iterator[CalendarEvent]:
    """The deadlines as events, worded in `language`, one at a time. What the wording needs
    is looked up here, once: the translations, the locale, the link to each customer's tab
    (completed with the customer's id); the events are then made without the request, so a
    streamed response can make them after the view returned."""
    with force_locale(language):
        translations = get_translations()
        locale = str(get_locale())
    urls = {kind: _customer_url_template(tab) for kind, tab in TABS.items()}
    lists = {kind: external_url(endpoint, **args) for kind, (endpoint, args) in DAY_LISTS.items()}
    lists[None] = external_url("customers.index", anniversary=DATE_SENTINEL)
    return _events(deadlines, translations, locale, urls, lists)


def _events(
    deadlines, translations, locale: str, urls: dict, lists: dict
) -> Iterator[CalendarEvent]:
    def _(text: str, **variables) -> str:  # Flask-Babel's gettext, its lookup done once
        translated = translations.ugettext(text)
        return translated % variables if variables else translated

    choose = translations.ungettext  # called by name below, its texts are no messages

    def ngettext(singular: str, plural: str, n: int, **variables) -> str:
        return choose(singular, plural, n) % variables

    def long_date(day: date) -> str:
        return date_text(day, "long", locale)

    for deadline in deadlines:
        if isinstance(deadline, DeadlineDay):
            count = format_decimal(deadline.count, locale=locale)
            summary, text = _day_wording(deadline, ngettext, count)
            if deadline.anniversary is None:
                url = lists[deadline.kind]
                where = _("The console lists them as the day comes near: %(url)s", url=url)
            else:
                url = lists[None].replace(DATE_SENTINEL, deadline.anniversary.isoformat(), 1)
                where = _("The console lists them: %(url)s", url=url)
            lines, customer_id = [text, "", where], None
        else:
            summary, text = _wording(deadline, _, long_date)
            url = urls[deadline.kind].replace(URL_SENTINEL, str(deadline.customer_id), 1)
            lines = [
                text,
                "",
                _("Customer: %(company)s", company=deadline.company_name),
                _("VIP ID: %(vip_id)s", vip_id=deadline.vip_id),
                _("Customer details: %(url)s", url=url),
            ]
            customer_id = deadline.customer_id
        yield CalendarEvent(
            uid=deadline.uid,
            day=deadline.day,
            summary=summary,
            description="\n".join(lines),
            url=url,
            stamp=deadline.stamp,
            customer_id=customer_id,
        )


def calendar_events(
    deadlines: Iterable[Deadline | DeadlineDay], *, language: str
) -> list[CalendarEvent]:
    return list(iter_calendar_events(deadlines, language=language))


#: A customer id no database holds (beyond ID_MAX), standing for the id in a link template.
URL_SENTINEL = "98765432109876"


def _customer_url_template(tab: str) -> str:
    url = external_url("customers.tab", customer_id=int(URL_SENTINEL), tab=tab)
    if url.count(URL_SENTINEL) != 1:  # the base URL itself holds the sentinel
        raise ValueError(f"cannot make a link template of {url}")
    return url


def calendar_name(*, reseller_name: str, language: str) -> str:
    with force_locale(language):
        return _("VIP deadlines · %(reseller)s", reseller=reseller_name)


def _calendar_head(name: str) -> bytes:
    """The calendar's own properties, by the icalendar library; its events follow."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    document = calendar.to_ical()
    if not document.endswith(CALENDAR_END):
        raise ValueError("the icalendar library ended the calendar otherwise")
    return document[: -len(CALENDAR_END)]


CALENDAR_END = b"END:VCALENDAR\r\n"
#: Events written per chunk of a streamed document.
CHUNK_EVENTS = 500


def _escaped(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped,
    as the icalendar library writes them."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _folded(line: str) -> bytes:
    """A content line with its CRLF, folded (RFC 5545 3.1) after 75 octets and then every
    74 (a continuation starts with a space), never inside a UTF-8 character."""
    data = line.encode()
    if len(data) <= 75:
        return data + b"\r\n"
    parts, start, width = [], 0, 75
    while len(data) - start > width:
        end = start + width
        while data[end] & 0xC0 == 0x80:  # a continuation byte: fold before its character
            end -= 1
        parts.append(data[start:end])
        start, width = end, 74
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _event_lines(item: CalendarEvent) -> bytes:
    """One all-day event, DTEND the next day, as the icalendar library writes it."""
    stamp = item.stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return b"".join(
        (
            b"BEGIN:VEVENT\r\n",
            _folded(f"UID:{_escaped(item.uid)}"),
            f"DTSTAMP:{stamp}\r\n".encode(),
            f"DTSTART;VALUE=DATE:{item.day:%Y%m%d}\r\n".encode(),
            f"DTEND;VALUE=DATE:{item.day + timedelta(days=1):%Y%m%d}\r\n".encode(),
            _folded(f"SUMMARY:{_escaped(item.summary)}"),
            _folded(f"DESCRIPTION:{_escaped(item.description)}"),
            _folded(f"URL:{item.url}"),
            b"TRANSP:TRANSPARENT\r\n",  # a deadline does not make anyone busy
            b"END:VEVENT\r\n",
        )
    )


def ics_chunks(*, name: str, events: Iterable[CalendarEvent]) -> Iterator[bytes]:
    """The iCalendar document (RFC 5545) of the events, in chunks of CHUNK_EVENTS events:
    a feed of a few hundred thousand events is streamed, never held whole. The calendar's
    head comes from the icalendar library; the events are written line by line the way it
    writes them (a property test parses the result back with it), which it does too slowly
    for such a feed (about a millisecond an event)."""
    yield _calendar_head(name)
    batch = []
    for item in events:
        batch.append(_event_lines(item))
        if len(batch) == CHUNK_EVENTS:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch) + CALENDAR_END


def render_ics(*, name: str, events: Iterable[CalendarEvent]) -> bytes:
    """The whole document at once (ics_chunks joined)."""
    return b"".join(ics_chunks(name=name, events=events))
