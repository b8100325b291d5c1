"""Free text (S33): the one check of every name, reason, number and comment a person types,
wherever it comes from (a form, a CSV import, the command line). The text is trimmed and
its whitespace collapsed to single spaces; control characters (C0 but for the ordinary
tab and line breaks, DEL, C1) and the bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069, and the direction marks U+061C, U+200E, U+200F: Unicode's Bidi_Control
characters), which make text read differently from what it is in pages, CSV files,
the calendar feed and mail subjects, are refused with a message at the field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from vip.services.errors import DomainError

#: Refused anywhere in free text. Tab, line feed and carriage return are whitespace, which
#: is collapsed instead.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 but tab and line breaks, DEL, C1
    "\u202a-\u202e\u2066-\u2069"  # bidirectional embeddings, overrides and isolates
    "\u061c\u200e\u200f]"  # the other bidirectional controls: the direction marks
)

FORBIDDEN_CHARACTERS = _l("Remove the invisible control or text direction characters.")
NOT_PRINTABLE = _l("Use printable characters only.")


@dataclass(frozen=True)
class CheckedText:
    """Free text as it is kept (`text`), or why it cannot be (`problem`)."""

    text: str
    problem: object | None = None


def check_free_text(
    value: str | None, *, length: tuple[int, int], printable: bool = False
) -> CheckedText:
    """`value` trimmed and collapsed, refused when it holds a forbidden character or its
    length falls outside `length` (low, high). For services that gather every problem.
    `printable`: a reference rather than prose (a PO number) refuses, besides, every
    character that is not printable (tabs and line breaks inside it, zero-width ones)."""
    raw = value or ""
    if FORBIDDEN.search(raw):
        return CheckedText(FORBIDDEN.sub("", " ".join(raw.split())), FORBIDDEN_CHARACTERS)
    text = " ".join(raw.split())
    if printable and not raw.strip().isprintable():
        return CheckedText(text, NOT_PRINTABLE)
    low, high = length
    if not low <= len(text) <= high:
        if low == 0:
            return CheckedText(text, _l("Use at most %(count)d characters.", count=high))
        return CheckedText(text, _l("Use %(low)d to %(high)d characters.", low=low, high=high))
    return CheckedText(text)


def free_text(
    value: str | None, *, field: str, length: tuple[int, int], printable: bool = False
) -> str:
    """`check_free_text` for a service that stops at the first problem: the kept text, or
    a DomainError at `field`."""
    checked = check_free_text(value, length=length, printable=printable)
    if checked.problem is not None:
        raise DomainError(checked.problem, field=field)
    return checked.text
