"""The partials that refresh themselves after a change on their page, the renewal pipeline
chart and the Outbox's preview of tomorrow's run: each carries the version it shows
(`X-VIP-Shown` in its hx-headers) and a refresh sending it back answers an empty 204,
rendering nothing, while nothing it shows changed (README, "Performance"). The dashboard
sections' refresh is tested with the dashboard (tests/web/test_dashboard_http.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.conftest import HX, TODAY
from tests.support import in_app
from vip import clock
from vip.extensions import db
from vip.models import Customer, User

#: path -> the id of the element that refreshes itself
REFRESHING = {
    "/renewals/pipeline": "renewal-pipeline",
    "/outbox/preview": "job-preview",
}


def shown_tag(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*?"X-VIP-Shown": "([0-9a-f]+)"', html, re.S)
    assert found, f"#{element_id} carries no version"
    return found.group(1)


def refresh(client, path: str, tag: str | None):
    return client.get(path, headers=HX | ({"X-VIP-Shown": tag} if tag else {}))


def rename(app, customer_id: int, name: str) -> None:
    with in_app(app):
        db.session.get(Customer, customer_id).company_name = name
        db.session.commit()


@pytest.mark.parametrize("path", REFRESHING)
def test_an_unchanged_refresh_answers_204_until_something_it_shows_changes(
    app, client, tenants, login_as, path
):
    login_as(tenants.a.admin)
    element = REFRESHING[path]
    page = client.get(path).get_data(as_text=True)
    tag = shown_tag(page, element)
    # The partial rendered now carries the very tag the page did, and nothing changed.
    assert shown_tag(refresh(client, path, None).get_data(as_text=True), element) == tag
    unchanged = refresh(client, path, tag)
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    # Without htmx the tag does not matter: the page.
    assert client.get(path, headers={"X-VIP-Shown": tag}).status_code == 200
    # Another reseller's change leaves it alone; a stale tag gets the partial.
    rename(app, tenants.b.customer.id, "Annan Kund AB")
    assert refresh(client, path, tag).status_code == 204
    assert refresh(client, path, "0" * 40).status_code == 200
    # A change of this reseller's customers renders it again, with a new tag.
    rename(app, tenants.a.customer.id, "Omdöpt Kund AB")
    changed = refresh(client, path, tag)
    assert changed.status_code == 200
    assert shown_tag(changed.get_data(as_text=True), element) != tag


@pytest.mark.parametrize("change", ["language", "next-day"])
@pytest.mark.parametrize("path", REFRESHING)
def test_the_tag_follows_the_language_and_the_day(
    app, client, tenants, login_as, monkeypatch, path, change
):
    login_as(tenants.a.admin)
    tag = shown_tag(client.get(path).get_data(as_text=True), REFRESHING[path])
    if change == "language":
        with in_app(app):
            admin = db.session.get(User, tenants.a.admin.id)
            language = "sv" if admin.language == "en" else "en"
            db.session.execute(update(User).where(User.id == admin.id).values(language=language))
            db.session.commit()
    else:
        monkeypatch.setattr(clock, "today_for", lambda _user: TODAY + timedelta(days=1))
    assert refresh(client, path, tag).status_code == 200


def test_s11_a_known_tag_does_not_pass_the_permission_check(app, client, tenants, login_as):
    """The version is checked after the permission: a sales user sending the admin's tag of
    the Outbox preview gets 403, not 204."""
    login_as(tenants.a.admin)
    tag = shown_tag(client.get("/outbox").get_data(as_text=True), "job-preview")
    login_as(tenants.a.sales)
    assert refresh(client, "/outbox/preview", tag).status_code == 403
