"""Reseller settings: a partner admin edits its own reseller's profile (audited), bad input
is refused at the field with nothing changed, other roles get 403, and another tenant is
never touched."""

from __future__ import annotations

from sqlalchemy import select, update

from vip.extensions import db
from vip.models import AuditEvent, Reseller, User

VALID = {
    "name": "Reseller A Nordic AB",
    "country": "FI",
    "time_zone": "Europe/Helsinki",
    "contact_email": "order@a.example",
    "contact_phone": "+358 9 123 4567",
}


def reseller_row(app, reseller_id: int) -> dict:
    with app.app_context():
        r = db.session.get(Reseller, reseller_id)
        return {
            "name": r.name,
            "country": r.country,
            "time_zone": r.time_zone,
            "contact_email": r.contact_email,
            "contact_phone": r.contact_phone,
        }


def in_language(app, user_id: int, language: str) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(language=language))
        db.session.commit()


def test_a_partner_admin_edits_the_reseller_profile(app, client, tenants, login_as):
    in_language(app, tenants.a.admin.id, "en")
    login_as(tenants.a.admin)
    page = client.get("/settings").text
    assert "Reseller settings" in page and 'value="Reseller A AB"' in page
    before_b = reseller_row(app, tenants.b.reseller.id)
    response = client.post("/settings", data=VALID)
    assert response.status_code == 303
    assert reseller_row(app, tenants.a.reseller.id) == VALID
    assert reseller_row(app, tenants.b.reseller.id) == before_b  # the other tenant: untouched
    assert "The reseller settings were saved." in client.get("/settings").text
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reseller.updated"))
        assert event.reseller_id == tenants.a.reseller.id
        assert event.details["changes"]["name"] == ["Reseller A AB", VALID["name"]]
    # The VIP admin sees the new contact details in the Admin Console.
    client.post("/logout")
    login_as(tenants.a.vip_admin)
    console = client.get("/console", follow_redirects=True).text
    assert "order@a.example" in console and "+358 9 123 4567" in console


def test_bad_settings_are_refused_at_their_fields_and_nothing_changes(
    app, client, tenants, login_as
):
    in_language(app, tenants.a.admin.id, "sv")
    login_as(tenants.a.admin)
    before = reseller_row(app, tenants.a.reseller.id)
    response = client.post(
        "/settings",
        data={
            **VALID,
            "name": "reseller b ab",  # the other tenant's name, in another case
            "contact_email": "not an email",
            "contact_phone": "call me",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert "Det finns redan en återförsäljare med det namnet." in page
    assert "Ange en giltig e-postadress." in page
    assert 'id="contact_phone-error"' in page
    assert reseller_row(app, tenants.a.reseller.id) == before
    with app.app_context():
        assert not db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "reseller.updated")
        )


def test_an_unknown_time_zone_is_refused(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    response = client.post("/settings", data={**VALID, "time_zone": "Mars/Olympus"})
    assert response.status_code == 422
    assert reseller_row(app, tenants.a.reseller.id)["time_zone"] == "Europe/Stockholm"


def test_only_a_partner_admin_opens_the_settings(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    assert client.get("/settings").status_code == 403
    assert client.post("/settings", data=VALID).status_code == 403
    client.post("/logout")
    login_as(tenants.a.vip_admin)
    assert client.get("/settings").status_code in (403, 404)
    assert reseller_row(app, tenants.a.reseller.id)["name"] == "Reseller A AB"
