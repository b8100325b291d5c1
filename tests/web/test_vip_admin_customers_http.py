"""A VIP admin of several customers over HTTP (S55-S59): the invitation page of an email
with an account (row 1 of the security review answered 500 there), refusals of reseller
users and their emails (row 11), the Admin Console's customer switcher, every console
action scoped to the chosen customer, and the renewal banner per customer."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import CONSULTANT, HX, PASSWORD, TODAY, login
from tests.support import administered_ids, enrol_two_factor, in_app, pid, totp_code, user
from vip.extensions import db
from vip.models import AuditEvent, Customer, CustomerStatus, Invitation, LicenseAssignment, User
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.customers import create_customer
from vip.services.invitations import token_for

EN = {"Accept-Language": "en"}
NEW_PASSWORD = "glad lemon typewriter harbour"


def text_of(page: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def banner(page: str) -> str | None:
    match = re.search(r'<section id="renewal-banner".*?</section>', page, re.S)
    return match.group(0) if match else None


def status_of(app, customer_id: int) -> CustomerStatus:
    with in_app(app):
        return db.session.get(Customer, customer_id).status


def refusal_reasons(app, customer_id: int) -> list[str]:
    with in_app(app):
        return [
            event.details["reason"]
            for event in db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "invitation.refused",
                    AuditEvent.customer_id == customer_id,
                )
                .order_by(AuditEvent.id)
            )
        ]


def invited_customer(app, tenant, email: str) -> tuple[int, str]:
    with in_app(app):
        customer = create_customer(
            user=user(tenant.admin),
            today=TODAY,
            company_name="Gamma AB",
            country="SE",
            market_segment="commercial",
            admin_name="Gun Gamma",
            admin_email=email,
            admin_language="sv",
        )
        return customer.id, token_for(customer.invitations[0])


def in_english(app, user_id: int) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user_id).values(language="en"))
        db.session.commit()


# --- S55, row 1: the invitation page of an email with a VIP admin account ---------------------


def test_s55_row1_second_invitation_asks_for_the_existing_password(app, client, second_invitation):
    shared = second_invitation
    url = f"/invitations/{shared.beta_token}"
    page = client.get(url, headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "has an Admin Console account already" in text_of(html)
    assert 'name="password"' in html and 'name="confirm"' not in html
    assert 'autocomplete="current-password"' in html and f'value="{CONSULTANT}"' in html

    wrong = client.post(url, data={"password": "not the password"}, headers=EN)
    assert wrong.status_code == 422
    assert 'id="password-error"' in wrong.get_data(as_text=True)
    assert status_of(app, shared.beta_id) == CustomerStatus.INVITED

    accepted = client.post(url, data={"password": PASSWORD}, headers=EN)
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/login"
    flashed = text_of(client.get("/login", headers=EN).get_data(as_text=True))
    assert f"Beta Oy was added to your account. Sign in with {CONSULTANT}" in flashed
    assert status_of(app, shared.beta_id) == CustomerStatus.ACTIVE
    with in_app(app):
        assert administered_ids(shared.user_id) == {shared.alfa_id, shared.beta_id}
        assert db.session.scalar(select(db.func.count()).where(User.email == CONSULTANT)) == 1
    # The link is spent.
    assert client.get(url, headers=EN).status_code == 410


def test_s55_row1_an_account_with_a_second_factor_gives_its_code_on_the_page(
    app, client, second_invitation
):
    shared = second_invitation
    now = datetime.now(UTC)
    with in_app(app):
        secret, _ = enrol_two_factor(shared.user_id, now=now - timedelta(minutes=2))
    url = f"/invitations/{shared.beta_token}"
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert 'name="password"' in page and 'name="code"' in page
    assert 'autocomplete="one-time-code"' in page
    without = client.post(url, data={"password": PASSWORD}, headers=EN)
    assert without.status_code == 422
    assert 'id="code-error"' in without.get_data(as_text=True)
    assert status_of(app, shared.beta_id) == CustomerStatus.INVITED
    accepted = client.post(
        url, data={"password": PASSWORD, "code": totp_code(secret, now)}, headers=EN
    )
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/login"
    assert status_of(app, shared.beta_id) == CustomerStatus.ACTIVE
    assert refusal_reasons(app, shared.beta_id) == ["second_factor_refused"]


def test_s55_row1_a_new_password_posted_for_an_existing_account_is_no_500(
    app, client, second_invitation
):
    """What answered 500 before: the choose-a-password form, posted for an email that
    has an account. Now the password must be the account's, at the field."""
    shared = second_invitation
    response = client.post(
        f"/invitations/{shared.beta_token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers=EN,
    )
    assert response.status_code == 422
    assert "The email or password is wrong" in response.get_data(as_text=True)
    assert status_of(app, shared.beta_id) == CustomerStatus.INVITED
    assert refusal_reasons(app, shared.beta_id) == ["sign_in_refused"]


def test_s56_signed_in_as_the_invited_vip_admin_lands_in_the_new_customers_console(
    app, client, second_invitation
):
    shared = second_invitation
    assert login(client, CONSULTANT).status_code == 303
    response = client.post(f"/invitations/{shared.beta_token}", data={"password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/{shared.beta_id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Beta Oy" in page and "Reseller B AB" in page


def test_s56_row11_signed_in_as_another_vip_admin_is_refused(
    app, client, tenants, second_invitation
):
    shared = second_invitation
    in_english(app, tenants.b.vip_admin.id)
    assert login(client, tenants.b.vip_admin.email).status_code == 303
    url = f"/invitations/{shared.beta_token}"
    for response in (
        client.get(url, headers=EN),
        client.post(url, data={"password": PASSWORD}, headers=EN),
    ):
        assert response.status_code == 403
        assert f"This invitation is for {CONSULTANT}" in text_of(response.get_data(as_text=True))
    assert status_of(app, shared.beta_id) == CustomerStatus.INVITED
    assert refusal_reasons(app, shared.beta_id) == ["other_account_signed_in"] * 2


# --- S57, S58: reseller users -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_s57_row11_a_signed_in_reseller_user_cannot_accept(app, client, tenants, role):
    customer_id, token = invited_customer(app, tenants.a, "it@gamma.example")
    reseller_user = getattr(tenants.a, role)
    in_english(app, reseller_user.id)
    assert login(client, reseller_user.email).status_code == 303
    url = f"/invitations/{token}"
    for response in (
        client.get(url, headers=EN),
        client.post(url, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, headers=EN),
    ):
        assert response.status_code == 403
        assert "You are signed in as a reseller user" in response.get_data(as_text=True)
    assert status_of(app, customer_id) == CustomerStatus.INVITED
    with in_app(app):
        assert db.session.scalar(select(User).where(User.email == "it@gamma.example")) is None
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "invitation.refused")
        ).all()
        assert {(e.actor_id, e.details["reason"]) for e in events} == {
            (reseller_user.id, "reseller_user_signed_in")
        }


def test_s57_row11_the_vip_information_tab_never_shows_the_link(app, client, tenants, login_as):
    customer_id, token = invited_customer(app, tenants.a, "it@gamma.example")
    for role in ("admin", "sales"):
        login_as(getattr(tenants.a, role))
        page = client.get(f"/customers/{customer_id}/info").get_data(as_text=True)
        assert 'aria-labelledby="invitation-heading"' in page and "it@gamma.example" in page
        assert token not in page and "/invitations/" not in page
        assert 'id="invitation-link"' not in page
        client.post("/logout")


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "reseller user"), ("sv", "återförsäljar")]
)
def test_s58_row1_a_reseller_users_email_gets_a_clear_translated_message(
    app, client, tenants, language, expected
):
    customer_id, token = invited_customer(app, tenants.a, tenants.b.sales.email)
    url = f"/invitations/{token}"
    headers = {"Accept-Language": language}
    for response in (
        client.get(url, headers=headers),
        client.post(url, data={"password": PASSWORD}, headers=headers),
        client.post(url, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, headers=headers),
    ):
        assert response.status_code == 403
        message = text_of(response.get_data(as_text=True))
        assert expected in message and tenants.b.sales.email in message
        assert "Reseller A AB" in message and "Reseller B AB" not in message
    assert status_of(app, customer_id) == CustomerStatus.INVITED
    with in_app(app):
        sales = db.session.get(User, tenants.b.sales.id)
        assert sales.role.value == "reseller_sales" and administered_ids(sales) == set()
        assert (
            db.session.scalar(
                select(Invitation.accepted_at).where(Invitation.customer_id == customer_id)
            )
            is None
        )
    assert refusal_reasons(app, customer_id) == ["email_of_reseller_user"] * 3


# --- S55: the switcher and the console's scope ---------------------------------------------------


def test_s55_the_switcher_changes_customer_without_javascript(app, client, tenants, shared_admin):
    shared = shared_admin
    in_english(app, shared.user_id)
    assert login(client, CONSULTANT).status_code == 303
    first = client.get("/console")
    assert first.status_code == 302 and first.headers["Location"] == f"/console/{shared.alfa_id}"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    switcher = re.search(r'<form id="customer-switcher".*?</form>', page, re.S).group(0)
    assert 'method="get"' in switcher and 'action="/console/choose"' in switcher
    assert '<label for="switch-customer">' in switcher and "Switch customer" in switcher
    options = re.findall(r'<option value="(\d+)"\s*(selected)?>([^<]*)</option>', switcher)
    assert [(int(v), bool(s), name.split(" (")[0]) for v, s, name in options] == [
        (shared.alfa_id, True, "Alfa AB"),
        (shared.beta_id, False, "Beta Oy"),
    ]
    assert "Reseller A AB" in page and "Reseller B AB" not in page

    chosen = client.get(f"/console/choose?customer={shared.beta_id}")
    assert chosen.status_code == 303 and chosen.headers["Location"] == f"/console/{shared.beta_id}"
    beta = client.get(chosen.headers["Location"]).get_data(as_text=True)
    assert "Reseller B AB" in beta and "Reseller A AB" not in beta
    assert re.search(rf'<option value="{shared.beta_id}" selected>', beta)
    # Remembered: /console opens the chosen customer next time.
    assert client.get("/console").headers["Location"] == f"/console/{shared.beta_id}"


def test_s55_a_customer_not_administered_answers_404(app, client, tenants, shared_admin):
    shared = shared_admin
    assert login(client, CONSULTANT).status_code == 303
    for other in (tenants.a.customer.id, tenants.b.customer.id):
        assert client.get(f"/console/{other}").status_code == 404
        assert client.get(f"/console/choose?customer={other}").status_code == 404
    for bad in ("", "abc", "-1", "0", str(2**70)):
        assert client.get(f"/console/choose?customer={bad}").status_code == 404
    # A customer's own VIP admin does not see the shared admin's other customers either.
    client.post("/logout")
    assert login(client, tenants.a.vip_admin.email).status_code == 303
    for customer_id in (shared.alfa_id, shared.beta_id):
        assert client.get(f"/console/{customer_id}").status_code == 404


def test_s55_console_actions_are_scoped_to_the_customer_in_the_url(
    app, client, tenants, shared_admin
):
    shared = shared_admin
    with in_app(app):
        photoshop = pid("Photoshop")
        create_purchase_authorization(
            user=user(tenants.a.sales),
            customer_id=shared.alfa_id,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=photoshop, quantity=2)],
            deployment_date=TODAY,
            customer_po_number=None,
        )
    assert login(client, CONSULTANT).status_code == 303
    # Beta Oy holds no Photoshop: assigning there is "not found", whatever Alfa AB holds.
    refused = client.post(
        f"/console/{shared.beta_id}/licenses/{photoshop}/assign",
        data={"email": "x@beta.example"},
        headers=HX,
    )
    assert refused.status_code == 404
    done = client.post(
        f"/console/{shared.alfa_id}/licenses/{photoshop}/assign",
        data={"email": "user@alfa.example"},
        headers=HX,
    )
    assert done.status_code == 200 and "user@alfa.example" in done.get_data(as_text=True)
    with in_app(app):
        assignment = db.session.scalar(select(LicenseAssignment))
        assert assignment.customer_id == shared.alfa_id
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "license.assigned"))
        assert (event.customer_id, event.actor_id) == (shared.alfa_id, shared.user_id)
    # Unassigning Alfa AB's license through Beta Oy's console is "not found" too.
    wrong = client.post(f"/console/{shared.beta_id}/assignments/{assignment.id}/unassign")
    assert wrong.status_code == 404
    beta_page = client.get(f"/console/{shared.beta_id}").get_data(as_text=True)
    assert "user@alfa.example" not in beta_page
    right = client.post(f"/console/{shared.alfa_id}/assignments/{assignment.id}/unassign")
    assert right.status_code == 303 and right.headers["Location"] == f"/console/{shared.alfa_id}"


# --- R12 per customer ---------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2026-12-20"}])
def test_s55_r12_the_banner_is_the_chosen_customers(app, client, tenants, shared_admin):
    shared = shared_admin
    with in_app(app):
        for customer_id, anniversary in (
            (shared.alfa_id, date(2027, 1, 10)),  # window open: a notice
            (shared.beta_id, date(2027, 5, 1)),  # far ahead: no banner
        ):
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(anniversary_date=anniversary)
            )
        db.session.commit()
    in_english(app, shared.user_id)
    assert login(client, CONSULTANT).status_code == 303
    alfa = banner(client.get(f"/console/{shared.alfa_id}").get_data(as_text=True))
    assert alfa is not None
    assert text_of(alfa).startswith("Alfa AB · Your anniversary date is January 10, 2027.")
    assert "Reseller A AB" in alfa
    assert banner(client.get("/account/password").get_data(as_text=True)) == alfa
    assert banner(client.get(f"/console/{shared.beta_id}").get_data(as_text=True)) is None
    assert banner(client.get("/account/password").get_data(as_text=True)) is None
