"""Version tags of responses: a cheap stamp of what a response shows (a reseller's change
counter, the day, the user, the language; vip/services/change_count.py) and of the release
that renders it, so that a refresh or a calendar can be told "nothing changed" without the
page being rendered (README, "Performance")."""

from __future__ import annotations

from functools import cache
from hashlib import sha256
from pathlib import Path

from flask import current_app

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
