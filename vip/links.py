"""Links to the console as the world reaches it, for mail and calendar apps.

`external_url(endpoint, **values)` is `url_for(endpoint, _external=True)` bound to
VIP_BASE_URL's scheme, host and path: the same in a request, in the job, and on the command
line (no request context needed), and never the host a request happened to come in on.
The app's SERVER_NAME is left unset on purpose: behind a proxy a request's own scheme and
host are not the public ones, and VIP_BASE_URL may change after the app is made (the
browser tests point it at their live server)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["VIP_BASE_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
