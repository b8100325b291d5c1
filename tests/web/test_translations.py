"""The Swedish catalog is complete, current and keeps every placeholder."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "vip" / "translations" / "sv" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _catalog():
    with CATALOG.open("rb") as handle:
        return read_po(handle)


def test_every_message_is_translated_and_keeps_its_placeholders():
    for message in _catalog():
        if not message.id:
            continue
        assert "fuzzy" not in message.flags, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) <= wanted | set(PLACEHOLDER.findall(ids[0]))
            assert wanted - {"%(num)s"} <= set(PLACEHOLDER.findall(string)), message.id


def test_catalog_holds_every_string_of_the_code():
    """Run `pybabel extract` and `pybabel update` (see README) when this fails."""
    catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog()}
    method_map = [
        ("vip/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    missing = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        key = message if isinstance(message, str) else message[0]
        if key not in catalog:
            missing.add(key)
    assert not missing, sorted(missing)


def test_seed_terms_are_used():
    strings = {m.id: m.string for m in _catalog() if isinstance(m.id, str)}
    for english, swedish in {
        "Customer details": "Kunddetaljer",
        "Plans": "Planer",
        "Delayed": "Försenad",
        "Renewals": "Förlängningar",
        "Anniversary date": "Årsdag",
        "VIP information": "VIP-information",
        "Admin Console": "Admin Console",
    }.items():
        assert strings[english] == swedish, english
