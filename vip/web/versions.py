"""Version tags of responses: a cheap stamp of what a response shows (a reseller's change
counter, the day, the user, the language; vip/services/change_count.py) and of the release
that renders it, so that a refresh or a calendar can be told "nothing changed" without the
page being rendered (README, "Performance")."""

from __future__ import annotations

from functools import cache
from hashlib import sha256
from pathlib import Path

from flask import current_app, request
from flask_babel import get_locale

from vip.services import change_count
from vip.web.htmx import is_htmx

PACKAGE = Path(__file__).resolve().parents[1]
RELEASE_FILES = ("*.py", "*.mo")


@cache
def release_fingerprint(templates: str) -> str:
    """What a new release may change in a response of the same data: the templates, the
    package's code and its compiled catalogs. Read once per process (a few hundred files)."""
    digest = sha256()
    roots = [(Path(templates), ("*.html", "*.txt")), (PACKAGE, RELEASE_FILES)]
    for root, patterns in roots:
        for pattern in patterns:
            for path in sorted(root.rglob(pattern)):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def entity_tag(*parts) -> str:
    """A tag of `parts` (a response's version) and of the release and the base URL."""
    fingerprint = release_fingerprint(str(Path(current_app.root_path, current_app.template_folder)))
    text = "|".join(map(str, (*parts, current_app.config.get("VIP_BASE_URL"), fingerprint)))
    return sha256(text.encode()).hexdigest()[:40]


#: The version of an element the page shows, sent back by its refresh (hx-headers, written
#: by the `refresh_headers` macro of templates/partials/_macros.html).
SHOWN_HEADER = "X-VIP-Shown"


def shown_is_current(tag: str) -> bool:
    """True for an htmx refresh of an element that already shows version `tag`: the
    route answers an empty 204, which htmx keeps as it is, and renders nothing."""
    return is_htmx() and request.headers.get(SHOWN_HEADER) == tag


def reseller_data_tag(kind: str, *, user, today) -> str:
    """The version of a partial drawn from the user's reseller's customers, authorizations,
    orders, commitments and mail (the pipeline chart, the Outbox preview): its kind, the
    reseller's change counter and the day, the user's role and the language."""
    stamp = change_count.reseller_stamp(reseller_id=user.reseller_id, today=today)
    return entity_tag(kind, *stamp, user.role.value, str(get_locale()))
