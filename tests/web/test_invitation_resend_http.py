"""S30, S31 (issue 15, row 7) through the pages: a second resend within a minute is refused
with a translated message, and the Outbox shows why the replaced mail was not sent."""

from __future__ import annotations

from sqlalchemy import select

from tests.support import count, in_app
from vip.extensions import db
from vip.models import Customer, Invitation


def test_s31_row7_a_second_resend_within_a_minute_is_refused(app, client, tenants, login_as):
    login_as(tenants.a.admin)  # Swedish
    created = client.post(
        "/customers/new",
        data={
            "company_name": "Omsänd AB",
            "country": "SE",
            "market_segment": "commercial",
            "admin_name": "Olle Omsänd",
            "admin_email": "olle@omsand.example",
            "admin_language": "sv",
        },
    )
    assert created.status_code == 303
    with in_app(app):
        customer_id = db.session.scalar(
            select(Customer.id).where(Customer.company_name == "Omsänd AB")
        )
    first = client.post(f"/customers/{customer_id}/invitation/resend", follow_redirects=True)
    assert "En ny inbjudan har skickats" in first.get_data(as_text=True)
    second = client.post(f"/customers/{customer_id}/invitation/resend", follow_redirects=True)
    html = second.get_data(as_text=True)
    assert "En inbjudan skickades till kunden för mindre än en minut sedan." in html
    with in_app(app):
        assert count(Invitation, Invitation.customer_id == customer_id) == 2
    outbox = client.get("/outbox").get_data(as_text=True)
    assert "Inte skickad: en nyare inbjudan ersatte denna." in outbox
