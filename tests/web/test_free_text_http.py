"""Issue 15 through the pages: free text refused at its field (S33, row 12), a name of
spaces (S34, row 9), and the Team page's answer for a taken email (S32, row 8)."""

from __future__ import annotations

import re

import pytest

from tests.support import count, in_app
from vip.models import AuditEvent, Customer, User

RLO = "\u202e"
NEW_CUSTOMER = {
    "company_name": "Fritext AB",
    "country": "SE",
    "market_segment": "commercial",
    "admin_name": "Frida Text",
    "admin_email": "frida@fritext.example",
    "admin_language": "sv",
}


def _field_error(html: str, field: str) -> str:
    """The error shown at a field (templates/partials/_macros.html `field`)."""
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</', html, re.S)
    assert match, f"no error at {field}"
    return match.group(1).strip()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("admin_name", "  ", "Use 1 to 120 characters."),  # row 9: saved as '' before
        ("admin_name", f"Frida{RLO}txeT", "Remove the invisible control or text direction"),
        ("company_name", f"Evil{RLO}BA", "Remove the invisible control or text direction"),
        ("company_name", "Kund\u2066 AB", "Remove the invisible control or text direction"),
    ],
)
def test_s34_row9_and_s33_new_customer_answers_422_at_the_field(
    app, client, tenants, login_as, field, value, message
):
    login_as(tenants.a.sales)  # English
    with in_app(app):
        before = (count(Customer), count(AuditEvent))
    response = client.post("/customers/new", data={**NEW_CUSTOMER, field: value})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), field).startswith(message)
    with in_app(app):
        assert (count(Customer), count(AuditEvent)) == before


def test_s33_row12_the_error_is_translated(app, client, tenants, login_as):
    login_as(tenants.a.admin)  # Swedish
    response = client.post("/customers/new", data={**NEW_CUSTOMER, "admin_name": f"A{RLO}B"})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "admin_name").startswith(
        "Ta bort de osynliga styr- eller textriktningstecknen."
    )


def test_s33_row12_team_member_name_at_the_field(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    response = client.post(
        "/team",
        data={
            "name": f"Eve{RLO}exe.txt",
            "email": "eve@reseller-a.example",
            "language": "en",
            "password": "correct horse battery staple",
        },
    )
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "name")
    with in_app(app):
        assert count(User, User.email == "eve@reseller-a.example") == 0


# -- S32: the Team page's answer for a taken email --------------------------------------


def _add(client, email: str, name: str = "New Person"):
    return client.post(
        "/team",
        data={
            "name": name,
            "email": email,
            "language": "en",
            "password": "correct horse battery staple",
        },
    )


def test_s32_row8_a_taken_email_gets_one_answer_whoever_has_it(app, client, tenants, login_as):
    """Another reseller's partner admin, sales user and a customer's VIP admin: one answer,
    which says nothing of who has the address (issue 15, row 8)."""
    login_as(tenants.a.admin)
    answers = set()
    for other in (tenants.b.admin, tenants.b.sales, tenants.b.vip_admin, tenants.a.vip_admin):
        for spelling in (other.email, other.email.upper()):
            response = _add(client, spelling)
            assert response.status_code == 422
            html = response.get_data(as_text=True)
            answers.add(_field_error(html, "email"))
            assert "already exists" not in html and other.name not in html
    assert len(answers) == 1
    (answer,) = answers
    assert answer.startswith("Denna e-postadress kan inte användas för ett nytt konto.")
    with in_app(app):
        refused = count(AuditEvent, AuditEvent.action == "user.add_refused")
        assert refused == 8
        assert count(User) == 6


def test_s32_row8_someone_in_the_team_is_named(app, client, tenants, login_as):
    """An address of the partner admin's own team is the admin's to know."""
    login_as(tenants.a.admin)
    response = _add(client, tenants.a.sales.email)
    assert response.status_code == 422
    assert tenants.a.sales.name in _field_error(response.get_data(as_text=True), "email")


def test_s32_row8_a_free_email_is_added(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    assert _add(client, "new.person@reseller-a.example").status_code == 303
    with in_app(app):
        assert count(User, User.email == "new.person@reseller-a.example") == 1


def test_r1_the_new_customer_page_shows_every_problem_at_once(app, client, tenants, login_as):
    login_as(tenants.a.sales)  # English
    with in_app(app):
        before = (count(Customer), count(AuditEvent))
    bad = {"company_name": "AB", "country": "ZZ", "admin_email": "nope", "admin_name": " "}
    response = client.post("/customers/new", data={**NEW_CUSTOMER, **bad})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _field_error(html, "company_name").startswith("Use 4 to 80 characters.")
    assert _field_error(html, "admin_email") == "Enter a valid email address."
    assert _field_error(html, "admin_name").startswith("Use 1 to 120 characters.")
    assert _field_error(html, "country") == "Choose a country."
    with in_app(app):
        assert (count(Customer), count(AuditEvent)) == before
