"""vip/web/calendar_document.py writes the feed's events itself (the icalendar library
takes about a millisecond an event, minutes for a large reseller's feed): whatever the
text, the icalendar library reads back exactly the events written, and every line is
folded within 75 octets without splitting a character (RFC 5545 3.1, 3.3.11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from vip.web.calendar_document import CHUNK_EVENTS, CalendarEvent, ics_chunks, render_ics

TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\r\x00"
    ),  # what a name or a translation can hold (the services refuse control characters)
    max_size=300,
)  # a description holds newlines (between its paragraphs); a name holds none


def as_read(text: str) -> str:
    """The text as the icalendar library reads it back: it decodes each value as UTF-8
    with a byte order mark ("utf-8-sig"), so a value's leading U+FEFF is dropped (a
    calendar client decodes the document once and keeps it; the event writer keeps it:
    `test_a_leading_byte_order_mark_is_written_as_it_is`)."""
    return text.removeprefix("\ufeff")


def event(number: int, summary: str, description: str) -> CalendarEvent:
    return CalendarEvent(
        uid=f"pa-{number}-order-due@vip-reseller-console",
        day=date(2026, 1, 1) + timedelta(days=number % 500),
        summary=summary,
        description=description,
        url=f"https://console.example/customers/{number}/plans",
        stamp=datetime(2026, 11, 29, 10, number % 60, 7, tzinfo=UTC),
        customer_id=number,
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=5),
    TEXT.map(lambda text: text.replace("\n", " ")),
)
def test_the_icalendar_library_reads_back_every_event_as_written(texts, name):
    events = [event(n, summary, text) for n, (summary, text) in enumerate(texts)]
    document = render_ics(name=name, events=events)
    for line in document.split(b"\r\n"):
        assert len(line) <= 75
        line.decode()  # never a character cut in two
    calendar = Calendar.from_ical(document)
    assert str(calendar["X-WR-CALNAME"]) == as_read(name)
    read = calendar.walk("VEVENT")
    assert len(read) == len(events)
    for written, found in zip(events, read, strict=True):
        assert str(found["UID"]) == written.uid
        assert str(found["SUMMARY"]) == as_read(written.summary)
        assert str(found["DESCRIPTION"]) == as_read(written.description)
        assert str(found["URL"]) == written.url
        assert found.decoded("DTSTART") == written.day
        assert found.decoded("DTEND") == written.day + timedelta(days=1)
        assert found.decoded("DTSTAMP") == written.stamp
        assert str(found["TRANSP"]) == "TRANSPARENT"


def test_a_leading_byte_order_mark_is_written_as_it_is():
    """In the events the writer writes; the calendar's name is written by the icalendar
    library, which drops it there too."""
    document = render_ics(name="\ufeffKund", events=[event(1, "\ufeffx", "\ufeffy")])
    assert "SUMMARY:\ufeffx\r\n".encode() in document
    assert "DESCRIPTION:\ufeffy\r\n".encode() in document
    assert str(Calendar.from_ical(document)["X-WR-CALNAME"]) == "Kund"


def test_a_long_feed_is_streamed_in_chunks_and_ends_once():
    events = (event(n, f"Order due: PA-{n:06d}", "å" * 200) for n in range(2 * CHUNK_EVENTS + 3))
    chunks = list(ics_chunks(name="x", events=events))
    assert len(chunks) == 4  # the head, two full chunks, the rest with the end
    document = b"".join(chunks)
    assert document.count(b"END:VCALENDAR") == 1 and document.endswith(b"END:VCALENDAR\r\n")
    assert len(Calendar.from_ical(document).walk("VEVENT")) == 2 * CHUNK_EVENTS + 3
