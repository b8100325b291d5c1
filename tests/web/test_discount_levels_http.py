"""Discount levels and three-year commitments over HTTP (R14-R16): the customer header, VIP
information and the Admin Console; recording the 3YC request and the vendor's answer in a
dialog (htmx, and without JavaScript), errors at the field with nothing written, audited;
the live level hint of the purchase authorization, order and renewal dialogs; the renewals
overview's columns and filters, its CSV export, the calendar feed and the reminder mail;
S10 (another reseller's customer answers 404) in both languages."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import HX, TODAY
from tests.support import in_app, order_licenses, pid
from vip.extensions import db
from vip.models import AuditEvent, Customer, Notification, ThreeYearCommitment, User
from vip.services import change_count, commitments
from vip.services.authorizations import LineInput, create_purchase_authorization
from vip.services.calendar_feed import feed_deadlines
from vip.services.deadlines import apply_deadlines
from vip.services.terms import add_months

AD = add_months(TODAY, 12)


def text_of(page: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def set_language(app, user, language: str) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user.id).values(language=language))
        db.session.commit()


def give_licenses(app, tenant, quantity: int, *, on=TODAY) -> None:
    with in_app(app):
        order_licenses(tenant, [(pid("Photoshop"), quantity)], on=on)


def product(app, name: str) -> int:
    with in_app(app):
        return pid(name)


def commit(app, tenant, minimum: int, *, on=TODAY) -> None:
    with in_app(app):
        sales = db.session.get(User, tenant.sales.id)
        commitments.request_commitment(
            user=sales,
            customer_id=tenant.customer.id,
            today=on,
            minimum_quantity=minimum,
            requested_on=on,
        )
        commitments.accept_commitment(
            user=sales, customer_id=tenant.customer.id, today=on, starts_on=on
        )


def commitment_rows(app) -> list[tuple]:
    with in_app(app):
        return db.session.execute(
            select(
                ThreeYearCommitment.customer_id,
                ThreeYearCommitment.state,
                ThreeYearCommitment.minimum_quantity,
            ).order_by(ThreeYearCommitment.id)
        ).all()


def audit_actions(app, prefix: str) -> list[str]:
    with in_app(app):
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def english_sales(app, tenants, login_as):
    set_language(app, tenants.a.sales, "en")
    return login_as(tenants.a.sales)


# --- the header, VIP information and the Admin Console (item 1) -----------------------------


def test_r14_header_and_vip_information_show_the_level(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 12)
    page = client.get(f"/customers/{tenants.a.customer.id}/info").get_data(as_text=True)
    header = re.search(r'<span id="level-badges">.*?</span>\s*</span>', page, re.S).group(0)
    assert "Level 2" in header and "3YC" not in header
    info = text_of(re.search(r'<section id="discount-level".*?</section>', page, re.S).group(0))
    assert "Discount level Level 2" in info
    assert "Licenses that count 12" in info
    assert "Level 3 from 50 licenses: 38 more" in info
    assert "Record a 3YC request" in info
    # Another tab carries the header too.
    plans = client.get(f"/customers/{tenants.a.customer.id}/plans").get_data(as_text=True)
    assert 'id="level-badges"' in plans


def test_r15_commitment_shows_everywhere_in_swedish(app, client, tenants, login_as):
    give_licenses(app, tenants.a, 30)
    commit(app, tenants.a, 25)
    set_language(app, tenants.a.sales, "sv")
    set_language(app, tenants.a.vip_admin, "sv")
    login_as(tenants.a.sales)
    page = client.get(f"/customers/{tenants.a.customer.id}/info").get_data(as_text=True)
    text = text_of(page)
    assert "3YC: Åtagit" in text
    assert "Åtagande minimum 25 licenser (Nivå 2)" in text
    for day in (AD, add_months(AD, 12), add_months(AD, 24)):
        assert str(day.year) in text
    vip_admin = login_as(tenants.a.vip_admin)
    console = vip_admin.get("/console", follow_redirects=True).get_data(as_text=True)
    assert "Rabattnivå" in console and "Åtagit" in console and "Nivå 2" in console


# --- recording the commitment (R15) ------------------------------------------------------------


def test_r15_request_dialog_records_audits_and_updates_the_page(
    app, client, tenants, english_sales
):
    give_licenses(app, tenants.a, 12)
    url = f"/customers/{tenants.a.customer.id}/commitment/request"
    dialog = client.get(url, headers=HX)
    assert dialog.status_code == 200
    body = dialog.get_data(as_text=True)
    assert body.startswith('<dialog id="commitment-dialog"')
    assert '<label for="minimum_quantity">' in body and '<label for="requested_on">' in body
    response = client.post(
        url, data={"minimum_quantity": "15", "requested_on": TODAY.isoformat()}, headers=HX
    )
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "none"
    assert "vip:dialog-close" in response.headers["HX-Trigger-After-Settle"]
    assert "vip:changed" in response.headers["HX-Trigger"]
    fragment = response.get_data(as_text=True)
    assert '<section id="discount-level"' in fragment and 'hx-swap-oob="true"' in fragment
    assert "Record the vendor&#39;s answer" in fragment or "Record the vendor's answer" in fragment
    assert commitment_rows(app) == [(tenants.a.customer.id, "requested", 15)]
    assert audit_actions(app, "commitment.") == ["commitment.requested"]


def test_r15_request_at_level_1_is_refused_at_the_field(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 9)
    url = f"/customers/{tenants.a.customer.id}/commitment/request"
    response = client.post(
        url, data={"minimum_quantity": "10", "requested_on": TODAY.isoformat()}, headers=HX
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="minimum_quantity-error">(.*?)</p>', body).group(1)
    assert "needs Level 2 (10 licenses)" in htmllib.unescape(error)
    assert 'aria-invalid="true"' in body
    assert commitment_rows(app) == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"minimum_quantity": "9"}, "minimum_quantity", "Commit to at least 10 licenses."),
        ({"minimum_quantity": ""}, "minimum_quantity", "Enter the committed number"),
        ({"minimum_quantity": "abc"}, "minimum_quantity", "Enter a whole number of licenses."),
        (
            {"minimum_quantity": "12", "requested_on": (TODAY + timedelta(days=1)).isoformat()},
            "requested_on",
            "The date cannot be in the future.",
        ),
    ],
)
def test_r15_bad_request_input_errs_at_the_field(
    app, client, tenants, english_sales, data, field, message
):
    give_licenses(app, tenants.a, 12)
    data = {"requested_on": TODAY.isoformat(), **data}
    response = client.post(f"/customers/{tenants.a.customer.id}/commitment/request", data=data)
    assert response.status_code == 422
    body = htmllib.unescape(response.get_data(as_text=True))
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', body).group(1)
    assert message in error
    assert commitment_rows(app) == []
    assert audit_actions(app, "commitment.") == []


def test_r15_answer_without_javascript_accepts_and_redirects(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 12)
    cid = tenants.a.customer.id
    client.post(
        f"/customers/{cid}/commitment/request",
        data={"minimum_quantity": "50", "requested_on": TODAY.isoformat()},
    )
    page = client.get(f"/customers/{cid}/commitment/answer")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    response = client.post(
        f"/customers/{cid}/commitment/answer",
        data={"answer": "accept", "answer_date": TODAY.isoformat()},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{cid}/info")
    assert commitment_rows(app) == [(cid, "committed", 50)]
    info = client.get(f"/customers/{cid}/info").get_data(as_text=True)
    assert "The three-year commitment was recorded as accepted." in info
    assert "Level 3" in text_of(info)  # the level 50 licenses reach, at once


def test_r15_decline_with_a_date_before_the_request_errs_at_the_field(
    app, client, tenants, english_sales
):
    give_licenses(app, tenants.a, 12)
    cid = tenants.a.customer.id
    client.post(
        f"/customers/{cid}/commitment/request",
        data={"minimum_quantity": "12", "requested_on": TODAY.isoformat()},
    )
    response = client.post(
        f"/customers/{cid}/commitment/answer",
        data={"answer": "decline", "answer_date": (TODAY - timedelta(days=1)).isoformat()},
        headers=HX,
    )
    assert response.status_code == 422
    assert 'id="answer_date-error"' in response.get_data(as_text=True)
    assert commitment_rows(app) == [(cid, "requested", 12)]
    declined = client.post(
        f"/customers/{cid}/commitment/answer",
        data={"answer": "decline", "answer_date": TODAY.isoformat()},
        headers=HX,
    )
    assert declined.status_code == 200
    assert commitment_rows(app) == [(cid, "declined", 12)]
    assert audit_actions(app, "commitment.") == ["commitment.requested", "commitment.declined"]


@pytest.mark.parametrize("path", ["request", "answer"])
def test_s10_another_resellers_commitment_dialogs_answer_404(app, client, tenants, login_as, path):
    give_licenses(app, tenants.a, 12)
    login_as(tenants.b.sales)
    url = f"/customers/{tenants.a.customer.id}/commitment/{path}"
    assert client.get(url, headers=HX).status_code == 404
    data = {"minimum_quantity": "12", "requested_on": TODAY.isoformat(), "answer": "accept"}
    assert client.post(url, data=data, headers=HX).status_code == 404
    assert commitment_rows(app) == []


def test_r15_vip_admin_may_not_record_a_commitment(app, client, tenants, login_as):
    login_as(tenants.a.vip_admin)
    url = f"/customers/{tenants.a.customer.id}/commitment/request"
    assert client.get(url).status_code in (403, 404)


# --- the live level hint (item 2) -------------------------------------------------------------


def test_r14_pa_dialog_shows_the_level_live(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 8)
    cid = tenants.a.customer.id
    dialog = client.get(f"/customers/{cid}/authorizations/new", headers=HX).get_data(as_text=True)
    hint = re.search(r'<div id="level-hint"[^>]*>', dialog).group(0)
    assert 'aria-live="polite"' in hint
    assert f'hx-post="/customers/{cid}/authorizations/new/level"' in hint
    assert "The customer has Level 1 (8 licenses count this term)." in text_of(dialog)
    form = {
        "license_type": "team",
        "lines-0-product": str(product(app, "Illustrator")),
        "lines-0-quantity": "7",
    }
    response = client.post(f"/customers/{cid}/authorizations/new/level", data=form, headers=HX)
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "This order: 7 licenses, Level 1." in text
    assert "Level 2 from 10 licenses: 3 more" in text
    assert "At the look-back on" in text and "15 licenses reach Level 2" in text
    # Consumables do not count; a second row of 3 reaches Level 2 at once.
    form |= {
        "lines-1-product": str(product(app, "Adobe Stock Credit Pack 40")),
        "lines-1-quantity": "50",
    }
    text = text_of(
        client.post(f"/customers/{cid}/authorizations/new/level", data=form).get_data(as_text=True)
    )
    assert "This order: 7 licenses, Level 1." in text
    form |= {"lines-2-product": str(product(app, "InDesign")), "lines-2-quantity": "3"}
    text = text_of(
        client.post(f"/customers/{cid}/authorizations/new/level", data=form).get_data(as_text=True)
    )
    assert "This order: 10 licenses, Level 2. It lifts the customer at once" in text
    # The plus button's answer tells the hint to refresh itself.
    rows = client.post(
        f"/customers/{cid}/authorizations/new/rows", data=form | {"row_action": "add"}, headers=HX
    )
    assert rows.headers["HX-Trigger"] == "vip:rows-changed"
    assert "vip:rows-changed from:body" in dialog


def test_r14_level_hint_in_swedish(app, client, tenants, login_as):
    give_licenses(app, tenants.a, 8)
    set_language(app, tenants.a.sales, "sv")
    login_as(tenants.a.sales)
    cid = tenants.a.customer.id
    form = {
        "license_type": "team",
        "lines-0-product": str(product(app, "Illustrator")),
        "lines-0-quantity": "7",
    }
    text = text_of(
        client.post(f"/customers/{cid}/authorizations/new/level", data=form, headers=HX).get_data(
            as_text=True
        )
    )
    assert "Nivå 2 från 10 licenser: 3 till" in text


def test_s10_level_hint_of_another_resellers_customer_answers_404(client, tenants, login_as):
    login_as(tenants.b.sales)
    url = f"/customers/{tenants.a.customer.id}/authorizations/new/level"
    assert client.post(url, data={"license_type": "team"}, headers=HX).status_code == 404


def test_r14_order_dialog_shows_the_level_the_order_reaches(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 8)
    with in_app(app):
        pa = create_purchase_authorization(
            user=db.session.get(User, tenants.a.sales.id),
            customer_id=tenants.a.customer.id,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=pid("Illustrator"), quantity=12)],
            deployment_date=TODAY,
            customer_po_number=None,
        )
        pa_id = pa.id
    dialog = client.get(f"/authorizations/{pa_id}/order/new", headers=HX).get_data(as_text=True)
    text = text_of(dialog)
    assert "The customer has Level 1" in text
    assert "This order: 12 licenses, Level 2. It lifts the customer at once" in text


# --- the renewal dialog (R14, R16) -----------------------------------------------------------


def test_r16_renewal_dialog_warns_and_needs_the_confirmation(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 30)
    commit(app, tenants.a, 25)
    cid, photoshop = tenants.a.customer.id, product(app, "Photoshop")
    app.config["VIP_TODAY"] = (AD - timedelta(days=10)).isoformat()
    dialog = client.get(f"/customers/{cid}/renewal/new", headers=HX).get_data(as_text=True)
    region = re.search(r'<div id="renewal-level"[^>]*>', dialog).group(0)
    assert 'aria-live="polite"' in region and "renewal-quantity" in region
    assert "The three-year commitment's minimum of 25 licenses is reached." in htmllib.unescape(
        dialog
    )
    live = client.post(
        f"/customers/{cid}/renewal/level", data={f"quantity-{photoshop}": "20"}, headers=HX
    ).get_data(as_text=True)
    assert "This renewal: 20 licenses that count, Level 2 for the new term." in text_of(live)
    assert "saving it makes the commitment noncompliant" in text_of(live)
    assert 'name="accept_below_commitment"' in live
    data = {
        "vendor_order_number": "RENEW12345",
        "order_date": (AD - timedelta(days=10)).isoformat(),
        f"quantity-{photoshop}": "20",
    }
    refused = client.post(f"/customers/{cid}/renewal", data=data, headers=HX)
    assert refused.status_code == 422
    assert 'id="accept_below_commitment-error"' in refused.get_data(as_text=True)
    with in_app(app):
        assert db.session.get(Customer, cid).anniversary_date == AD
    saved = client.post(
        f"/customers/{cid}/renewal", data=data | {"accept_below_commitment": "y"}, headers=HX
    )
    assert saved.status_code == 200
    assert 'id="level-badges" hx-swap-oob="true"' in saved.get_data(as_text=True)
    assert commitment_rows(app) == [(cid, "noncompliant", 25)]
    assert audit_actions(app, "commitment.") == [
        "commitment.requested",
        "commitment.accepted",
        "commitment.noncompliant",
    ]


# --- the overview, the dashboard, CSV, calendar, mail (items 3, 4) ---------------------------


@pytest.fixture
def at_risk(app, tenants):
    """Tenant A's customer: 12 licenses, committed to 20 (at risk from AD-60); tenant B's:
    30 licenses, committed to 25, its renewal recorded below it (noncompliant)."""
    give_licenses(app, tenants.a, 12)
    commit(app, tenants.a, 20)
    give_licenses(app, tenants.b, 30)
    commit(app, tenants.b, 25)
    app.config["VIP_TODAY"] = (AD - timedelta(days=45)).isoformat()
    return tenants


def test_r16_overview_filters_and_columns(app, client, at_risk, english_sales):
    page = client.get("/renewals").get_data(as_text=True)
    assert '<th scope="col">Level</th>' in page and '<th scope="col">3YC</th>' in page
    assert '<label for="commitment">3YC</label>' in page
    row = re.search(
        rf'<tbody id="renewal-row-{at_risk.a.customer.id}".*?</tbody>', page, re.S
    ).group(0)
    assert "Level 2" in row and "Committed" in row and "min. 20 licenses" in row
    assert "At risk" in row
    risky = client.get("/renewals?commitment=at_risk").get_data(as_text=True)
    assert f'id="renewal-row-{at_risk.a.customer.id}"' in risky
    # Another reseller's at-risk customer never shows (S10).
    assert f'id="renewal-row-{at_risk.b.customer.id}"' not in risky
    none = client.get("/renewals?commitment=noncompliant").get_data(as_text=True)
    assert "renewal-row-" not in none
    with in_app(app):
        db.session.execute(
            update(ThreeYearCommitment)
            .where(ThreeYearCommitment.customer_id == at_risk.a.customer.id)
            .values(state="noncompliant")
        )
        change_count.note_customers([at_risk.a.customer.id])  # as commitments' writer does
        db.session.commit()
    noncompliant = client.get("/renewals?commitment=noncompliant").get_data(as_text=True)
    assert f'id="renewal-row-{at_risk.a.customer.id}"' in noncompliant
    assert "renewal-row-" not in client.get("/renewals?commitment=at_risk").get_data(as_text=True)


def test_r16_dashboard_card_lists_the_customer_at_risk(client, at_risk, english_sales):
    card = client.get("/dashboard/sections/commitment_at_risk", headers=HX).get_data(as_text=True)
    assert "3YC at risk" in card and at_risk.a.customer.company_name in card
    assert at_risk.b.customer.company_name not in card
    assert 'href="/renewals?commitment=at_risk"' in card


def test_r15_csv_export_carries_level_and_the_commitments_end(client, at_risk, english_sales):
    text = client.get("/renewals/export.csv").get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][-4:] == ["Discount level", "3YC state", "3YC minimum", "3YC ends"]
    (row,) = [r for r in rows[1:] if r[1] == at_risk.a.customer.vip_id]
    assert row[-4:-1] == ["2", "Committed", "20"]
    assert str(add_months(AD, 24).year % 100) in row[-1]


def test_r15_calendar_feed_carries_the_commitments_end(app, client, tenants, english_sales):
    give_licenses(app, tenants.a, 12)
    commit(app, tenants.a, 12)
    app.config["VIP_TODAY"] = (add_months(AD, 24) - timedelta(days=100)).isoformat()
    with in_app(app):
        commitment_id = db.session.scalar(select(ThreeYearCommitment.id))
    with in_app(app):
        deadlines = feed_deadlines(
            reseller_id=tenants.a.reseller.id, today=add_months(AD, 24) - timedelta(days=100)
        )
    ends = [
        d for d in deadlines if d.uid == f"commitment-{commitment_id}-ends@vip-reseller-console"
    ]
    assert [(d.kind, d.day) for d in ends] == [("commitment_ends", add_months(AD, 24))]
    with in_app(app):
        other = feed_deadlines(
            reseller_id=tenants.b.reseller.id, today=add_months(AD, 24) - timedelta(days=100)
        )
    assert not [d for d in other if d.kind == "commitment_ends"]


@pytest.mark.parametrize(
    ("language", "words"), [("en", "at least 20 licenses"), ("sv", "minst 20 licenser")]
)
def test_r15_renewal_due_mail_names_the_commitments_minimum(app, tenants, language, words):
    give_licenses(app, tenants.a, 25)
    commit(app, tenants.a, 20)
    give_licenses(app, tenants.b, 25)
    set_language(app, tenants.a.vip_admin, language)
    set_language(app, tenants.b.vip_admin, language)
    with in_app(app):
        apply_deadlines(
            today=AD - timedelta(days=30),
            reseller_ids=[tenants.a.reseller.id, tenants.b.reseller.id],
        )
        mails = {
            n.customer_id: n
            for n in db.session.scalars(
                select(Notification).where(Notification.kind == "renewal_due")
            )
        }
    assert words in mails[tenants.a.customer.id].body_text
    assert words in mails[tenants.a.customer.id].body_html
    assert words not in mails[tenants.b.customer.id].body_text
