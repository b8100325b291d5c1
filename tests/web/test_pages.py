"""Every page renders in Swedish and English, with the seed's words in Swedish."""

import re

import pytest

from tests.conftest import HX


@pytest.mark.parametrize("language", ["sv", "en"])
def test_customer_pages_render_in_both_languages(client, tenants, login_as, language):
    login_as(tenants.a.admin)
    client.post("/language", data={"language": language, "next": "/customers"})
    cid = tenants.a.customer.id
    for url in [
        "/customers",
        "/customers/new",
        "/team",
        f"/customers/{cid}/info",
        f"/customers/{cid}/plans",
        f"/customers/{cid}/orders",
        f"/customers/{cid}/renewals",
        f"/customers/{cid}/history",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert f'<html lang="{language}">' in html


def test_swedish_ui_uses_the_seed_terms(client, tenants, login_as):
    login_as(tenants.a.admin)
    client.post("/language", data={"language": "sv"})
    html = client.get(f"/customers/{tenants.a.customer.id}/plans").get_data(as_text=True)
    for term in ["Kunddetaljer", "Planer", "VIP-information", "Förlängningar"]:
        assert term in html, term
    listing = client.get("/customers").get_data(as_text=True)
    assert "Försenad" in listing and "Årsdag" in listing


def test_english_ui_uses_plain_english(client, tenants, login_as):
    login_as(tenants.a.sales)  # prefers English
    html = client.get(f"/customers/{tenants.a.customer.id}/plans").get_data(as_text=True)
    for term in ["Customer details", "Plans", "VIP information", "Renewals"]:
        assert term in html, term


def test_tab_returns_partial_for_htmx_and_page_otherwise(client, tenants, login_as):
    login_as(tenants.a.admin)
    url = f"/customers/{tenants.a.customer.id}/history"
    partial = client.get(url, headers=HX)
    page = client.get(url)
    assert partial.status_code == page.status_code == 200
    fragment = partial.get_data(as_text=True)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<div id="customer-tabs"')
    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"]
    assert "HX-Request" in page.headers["Vary"]


def test_r13_history_lists_each_change_with_its_actor_newest_first(client, tenants, login_as):
    login_as(tenants.a.sales)
    client.post("/language", data={"language": "en"})
    pa = tenants.a.authorization
    assert client.post(f"/authorizations/{pa.id}/cancel").status_code == 303
    html = client.get(f"/customers/{tenants.a.customer.id}/history").get_data(as_text=True)
    rows = re.findall(r"<tr\b.*?</tr>", html, re.S)
    texts = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    cancelled = next(i for i, text in enumerate(texts) if "authorization cancelled" in text)
    created = next(i for i, text in enumerate(texts) if "authorization created" in text)
    invited = next(i for i, text in enumerate(texts) if "VIP invitation sent" in text)
    assert cancelled < created < invited  # newest first
    assert "a Sales" in texts[cancelled] and "a Admin" in texts[invited]
    assert any("Customer created" in text for text in texts)
    # each row carries its time
    assert all(re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", text) for text in texts[1:])


def test_accept_language_picks_english_before_login(client, app):
    html = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="en">' in html and "Sign in" in html
    html = client.get("/login", headers={"Accept-Language": "sv-SE"}).get_data(as_text=True)
    assert '<html lang="sv">' in html and "Logga in" in html


def test_healthz_answers_without_a_session_or_the_database(app, client):
    """For load balancers: no login, no query, the security headers all the same (S16)."""
    from sqlalchemy import event

    from vip.extensions import db

    with app.app_context():
        engine = db.engine
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert statements == []
    assert client.post("/healthz").status_code == 405


def test_customers_list_says_more_than_the_cap_instead_of_counting_everything(
    app, client, tenants, login_as, monkeypatch
):
    """The performance targets (README, "Performance"): a list counts at most COUNT_CAP + 1
    rows; beyond it, "N+" and pages without a last page number."""
    from vip.services import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 0)  # one customer is already "more than 0"
    login_as(tenants.a.admin)
    client.post("/language", data={"language": "en", "next": "/customers"})
    html = client.get("/customers").get_data(as_text=True)
    assert "0+ customer" in html  # (one row counted: the cap of 0 is passed)
    assert "Active (0+)" in html or "Invited (0+)" in html
    assert tenants.a.customer.company_name in html
