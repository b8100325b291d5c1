"""The VIP admin's Admin Console over HTTP: the customer's licenses with pending ones
assignable (R6), assigning and unassigning by email, the renewal banner on every page
(R12) and its end with a renewal (R9), R6 seen from both sides, S10 (another customer's
ids answer 404 and change nothing), S11 (resellers are refused), S13 (CSRF) and S15."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date

import pytest
from sqlalchemy import func, select, update

from tests.conftest import HX, PASSWORD, login, product_id
from tests.support import in_app
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PurchaseAuthorization,
    Reseller,
    User,
)
from vip.services.terms import add_months

ANNIVERSARY = date(2027, 1, 15)


# --- helpers -------------------------------------------------------------------------------


def text_of(page: str) -> str:
    """The page's text, tags dropped and whitespace folded, for reading messages."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def attr(tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', tag)
    return htmllib.unescape(match.group(1)) if match else None


def pid(app, name: str) -> int:
    with in_app(app):
        return product_id(name, "team", "commercial")


def section(page: str, product: int) -> str:
    match = re.search(rf'<section id="product-{product}".*?</section>', page, re.S)
    assert match, f"no section product-{product}"
    return match.group(0)


def counts(block: str) -> dict[str, str]:
    """The product's counts: dt text -> dd text."""
    return {
        text_of(term): text_of(value)
        for term, value in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", block, re.S)
    }


def banner(page: str) -> str | None:
    match = re.search(r'<section id="renewal-banner".*?</section>', page, re.S)
    return match.group(0) if match else None


def set_language(app, user, language: str) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user.id).values(language=language))
        db.session.commit()


def give_licenses(app, tenant, lines, *, anniversary=ANNIVERSARY, assigned=()) -> None:
    """The tenant's customer holds `lines` (product, quantity) for the term ending on
    `anniversary`, with `assigned` (product, email) given to users; it is active."""
    with in_app(app):
        customer = db.session.get(Customer, tenant.customer.id)
        customer.anniversary_date = anniversary
        customer.status = CustomerStatus.ACTIVE
        order = Order(
            customer_id=customer.id,
            vendor_order_number=f"FIRST{customer.id:06d}",
            order_type=OrderType.NEW,
            order_date=add_months(anniversary, -12),
            duration_months=12,
            term_ends_on=anniversary,
            status=OrderStatus.PLACED,
        )
        db.session.add(order)
        for name, quantity in lines:
            db.session.add(
                OrderLine(
                    order=order,
                    product_id=product_id(name, "team", "commercial"),
                    sku="SKU",
                    quantity=quantity,
                    status=OrderStatus.PLACED,
                )
            )
        for name, email in assigned:
            db.session.add(
                LicenseAssignment(
                    customer_id=customer.id,
                    product_id=product_id(name, "team", "commercial"),
                    user_email=email,
                )
            )
        db.session.commit()


def assignments(app, customer_id: int) -> list[tuple[int, str]]:
    with in_app(app):
        return sorted(
            db.session.execute(
                select(LicenseAssignment.product_id, LicenseAssignment.user_email).where(
                    LicenseAssignment.customer_id == customer_id
                )
            ).all()
        )


def snapshot(app) -> dict:
    """Everything the console may change (denials are audited, S22, and left out)."""
    with in_app(app):
        return {
            "assignments": sorted(
                db.session.execute(
                    select(
                        LicenseAssignment.id,
                        LicenseAssignment.customer_id,
                        LicenseAssignment.product_id,
                        LicenseAssignment.user_email,
                    )
                ).all()
            ),
            "audit": db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(~AuditEvent.action.like("access.denied%"))
            ),
            "pas": sorted(
                db.session.execute(
                    select(PurchaseAuthorization.id, PurchaseAuthorization.status)
                ).all()
            ),
        }


def assignment_id(app, customer_id: int, email: str) -> int:
    with in_app(app):
        return db.session.scalar(
            select(LicenseAssignment.id).where(
                LicenseAssignment.customer_id == customer_id,
                LicenseAssignment.user_email == email,
            )
        )


@pytest.fixture
def stock(app, tenants) -> dict[str, int]:
    """Tenant a: Illustrator 7 (1 assigned) and Premiere Pro 3 ordered, Photoshop 5 on the
    pending authorization. Tenant b: Illustrator 4 (1 assigned). Product name -> id."""
    give_licenses(
        app,
        tenants.a,
        (("Illustrator", 7), ("Premiere Pro", 3)),
        assigned=(("Illustrator", "designer@a.example"),),
    )
    give_licenses(
        app, tenants.b, (("Illustrator", 4),), assigned=(("Illustrator", "designer@b.example"),)
    )
    return {name: pid(app, name) for name in ("Illustrator", "Premiere Pro", "Photoshop")}


@pytest.fixture
def console(app, tenants, login_as):
    """Tenant a's VIP admin, signed in, with the English UI."""
    set_language(app, tenants.a.vip_admin, "en")
    return login_as(tenants.a.vip_admin)


def console_path(client) -> str:
    """The signed-in VIP admin's console: /console answers with its customer's address."""
    response = client.get("/console")
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def assign(client, product: int, email: str, *, htmx: bool = True, customer_id=None):
    return client.post(
        f"{f'/console/{customer_id}' if customer_id else console_path(client)}/licenses/"
        f"{product}/assign",
        data={"email": email},
        headers=HX if htmx else {},
    )


# --- the console ---------------------------------------------------------------------------


def test_r6_console_lists_products_with_licenses_assigned_and_available(
    client, tenants, stock, console
):
    response = client.get("/console", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page and "Admin Console" in page
    assert "no-store" in response.headers.get("Cache-Control", "")
    illustrator = section(page, stock["Illustrator"])
    assert counts(illustrator) == {"Licenses": "7", "Assigned": "1", "Available": "6"}
    assert "designer@a.example" in illustrator
    assert f"{console_path(client)}/assignments/" in illustrator and "Unassign" in illustrator
    assert counts(section(page, stock["Premiere Pro"])) == {
        "Licenses": "3",
        "Assigned": "0",
        "Available": "3",
    }
    assert tenants.a.customer.company_name in page
    assert tenants.a.reseller.name in page
    # S10: nothing of the other customer.
    assert "designer@b.example" not in page
    assert tenants.b.customer.company_name not in page
    assert tenants.b.customer.vip_id not in page


def test_r6_pending_authorization_licenses_show_as_awaiting_order_and_are_assignable(
    client, tenants, stock, console
):
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    photoshop = section(page, stock["Photoshop"])
    assert counts(photoshop) == {
        "Licenses": "0",
        "Awaiting order": "5",
        "Assigned": "0",
        "Available": "5",
    }
    form = re.search(r'<form class="assign-form"[^>]*>', photoshop).group(0)
    assert attr(form, "hx-post") == f"{console_path(client)}/licenses/{stock['Photoshop']}/assign"
    assert attr(form, "action") == f"{console_path(client)}/licenses/{stock['Photoshop']}/assign"
    assert attr(form, "hx-target") == f"#product-{stock['Photoshop']}"


def test_r6_console_in_swedish(client, tenants, stock, login_as):
    login_as(tenants.a.vip_admin)  # Swedish UI
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    assert counts(section(page, stock["Photoshop"])) == {
        "Licenser": "0",
        "Väntar på order": "5",
        "Tilldelade": "0",
        "Lediga": "5",
    }
    assert "Förlängningshistorik" in page


def test_r6_console_without_licenses(client, tenants, console, app):
    with in_app(app):
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.id == tenants.a.authorization.id)
            .values(status=AuthorizationStatus.CANCELLED)
        )
        db.session.commit()
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    assert "No licenses yet. Your reseller Reseller A AB orders them for you." in text_of(page)
    assert 'class="license-product"' not in page


# --- assigning -----------------------------------------------------------------------------


def test_r6_assign_by_htmx_answers_the_product_section(app, client, tenants, stock, console):
    response = assign(client, stock["Photoshop"], "  New.User@A.Example ")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="product-{stock["Photoshop"]}"')
    assert "<html" not in fragment
    assert "new.user@a.example got a license of Photoshop." in text_of(fragment)
    assert counts(fragment) == {
        "Licenses": "0",
        "Awaiting order": "5",
        "Assigned": "1",
        "Available": "4",
    }
    assert "new.user@a.example" in fragment
    with in_app(app):
        row = db.session.scalar(
            select(LicenseAssignment).where(LicenseAssignment.user_email == "new.user@a.example")
        )
        assert row.customer_id == tenants.a.customer.id
        assert row.product_id == stock["Photoshop"]
        assert row.assigned_by_id == tenants.a.vip_admin.id
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "license.assigned"))
        assert audit.actor_id == tenants.a.vip_admin.id
        assert audit.customer_id == tenants.a.customer.id


def test_r6_assign_without_javascript_redirects_with_a_flash(app, client, tenants, stock, console):
    response = assign(client, stock["Illustrator"], "second@a.example", htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"] == console_path(client)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "second@a.example got a license of Illustrator." in text_of(page)
    assert counts(section(page, stock["Illustrator"]))["Assigned"] == "2"
    assert (stock["Illustrator"], "second@a.example") in assignments(app, tenants.a.customer.id)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter the user's email address."),
        ("   ", "Enter the user's email address."),
        ("not-an-email", "Enter a valid email address, such as name@company.example."),
        ("a@b", "Enter a valid email address, such as name@company.example."),
        ("two@@a.example", "Enter a valid email address, such as name@company.example."),
        ("<script>@a.example", "Enter a valid email address, such as name@company.example."),
        ("x" * 250 + "@a.example", "Use at most 254 characters."),
    ],
)
def test_s19_bad_email_answers_422_at_the_field_and_writes_nothing(
    app, client, tenants, stock, console, email, message
):
    before = snapshot(app)
    response = assign(client, stock["Photoshop"], email)
    assert response.status_code == 422
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="product-{stock["Photoshop"]}"')
    field = re.search(r'<input[^>]*name="email"[^>]*>', fragment).group(0)
    assert attr(field, "aria-invalid") == "true"
    error_id = attr(field, "aria-describedby")
    error = re.search(rf'<p class="error" id="{error_id}">(.*?)</p>', fragment, re.S)
    assert error and message in text_of(error.group(1))
    assert "<script>@" not in fragment  # S15: what was typed comes back escaped
    assert snapshot(app) == before
    # Without JavaScript: back to the console with the message.
    plain = assign(client, stock["Photoshop"], email, htmx=False)
    assert plain.status_code == 303
    page = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert message in text_of(page)
    assert snapshot(app) == before


def test_r6_same_user_twice_is_refused(app, client, tenants, stock, console):
    before = snapshot(app)
    response = assign(client, stock["Illustrator"], "Designer@A.example")
    assert response.status_code == 422
    fragment = response.get_data(as_text=True)
    field = re.search(r'<input[^>]*name="email"[^>]*>', fragment).group(0)
    assert attr(field, "aria-invalid") == "true"
    assert "designer@a.example already has a license of Illustrator." in text_of(fragment)
    assert snapshot(app) == before
    # The same user may have a license of another product.
    assert assign(client, stock["Premiere Pro"], "designer@a.example").status_code == 200


def test_r6_assigning_beyond_the_licenses_is_refused(app, client, tenants, stock, console):
    for n in range(3):
        assert assign(client, stock["Premiere Pro"], f"user{n}@a.example").status_code == 200
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    full = section(page, stock["Premiere Pro"])
    assert counts(full)["Available"] == "0"
    assert 'class="assign-form"' not in full  # nothing left to assign: no form
    assert "All licenses are assigned." in text_of(full)
    before = snapshot(app)
    response = assign(client, stock["Premiere Pro"], "one.more@a.example")
    assert response.status_code == 422
    assert (
        "All 3 licenses of Premiere Pro are assigned. Unassign one, or ask Reseller A AB for more."
        in text_of(response.get_data(as_text=True))
    )
    assert snapshot(app) == before


def test_r6_pending_licenses_count_toward_the_limit(app, client, tenants, stock, console):
    for n in range(5):
        assert assign(client, stock["Photoshop"], f"ps{n}@a.example").status_code == 200
    response = assign(client, stock["Photoshop"], "ps5@a.example")
    assert response.status_code == 422
    assert "All 5 licenses of Photoshop are assigned." in text_of(response.get_data(as_text=True))
    assert (
        len([a for a in assignments(app, tenants.a.customer.id) if a[0] == stock["Photoshop"]]) == 5
    )


def test_r11_inactive_customer_cannot_assign(app, client, tenants, stock, console):
    with in_app(app):
        db.session.execute(
            update(Customer)
            .where(Customer.id == tenants.a.customer.id)
            .values(status=CustomerStatus.INACTIVE)
        )
        db.session.commit()
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    assert 'class="assign-form"' not in page
    before = snapshot(app)
    response = assign(client, stock["Illustrator"], "late@a.example")
    assert response.status_code == 422
    assert "Access was removed" in text_of(response.get_data(as_text=True))
    assert snapshot(app) == before


def test_s13_console_actions_over_get_are_not_allowed(client, stock, console):
    assert (
        client.get(f"{console_path(client)}/licenses/{stock['Photoshop']}/assign").status_code
        == 405
    )
    assert client.get(f"{console_path(client)}/assignments/1/unassign").status_code == 405


# --- unassigning ---------------------------------------------------------------------------


def test_r6_unassign_by_htmx_answers_the_product_section(app, client, tenants, stock, console):
    target = assignment_id(app, tenants.a.customer.id, "designer@a.example")
    response = client.post(f"{console_path(client)}/assignments/{target}/unassign", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="product-{stock["Illustrator"]}"')
    assert "<html" not in fragment
    assert "The license of Illustrator was taken back from designer@a.example." in text_of(fragment)
    assert counts(fragment) == {"Licenses": "7", "Assigned": "0", "Available": "7"}
    assert 'class="email"' not in fragment
    assert assignments(app, tenants.a.customer.id) == []
    with in_app(app):
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "license.unassigned")
            )
            == 1
        )
    # A second unassign finds nothing to take back.
    before = snapshot(app)
    again = client.post(f"{console_path(client)}/assignments/{target}/unassign", headers=HX)
    assert again.status_code == 404
    assert snapshot(app) == before


def test_r6_unassign_without_javascript_redirects_with_a_flash(
    app, client, tenants, stock, console
):
    target = assignment_id(app, tenants.a.customer.id, "designer@a.example")
    response = client.post(f"{console_path(client)}/assignments/{target}/unassign")
    assert response.status_code == 303
    assert response.headers["Location"] == console_path(client)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The license of Illustrator was taken back from designer@a.example." in text_of(page)
    assert "designer@a.example" not in section(page, stock["Illustrator"])
    assert assignments(app, tenants.a.customer.id) == []


# --- S10 / S11 -----------------------------------------------------------------------------


def test_s10_other_customers_vip_admin_gets_404_and_changes_nothing(
    app, client, tenants, stock, login_as
):
    login_as(tenants.b.vip_admin)
    own = client.get("/console", follow_redirects=True).get_data(as_text=True)
    assert "designer@b.example" in own
    for secret in (
        "designer@a.example",
        tenants.a.customer.company_name,
        tenants.a.customer.vip_id,
    ):
        assert secret not in own
    assert f'id="product-{stock["Premiere Pro"]}"' not in own

    before = snapshot(app)
    target = assignment_id(app, tenants.a.customer.id, "designer@a.example")
    assert client.post(f"{console_path(client)}/assignments/{target}/unassign").status_code == 404
    assert (
        client.post(f"{console_path(client)}/assignments/{target}/unassign", headers=HX).status_code
        == 404
    )
    # A product only tenant a holds, and one nobody holds.
    for product in (stock["Premiere Pro"], pid(app, "InDesign")):
        assert assign(client, product, "intruder@b.example").status_code == 404
        assert assign(client, product, "intruder@b.example", htmx=False).status_code == 404
    assert client.post(f"{console_path(client)}/assignments/999999/unassign").status_code == 404
    # A's customer in the URL: not one b's VIP admin administers (S55).
    a_customer = tenants.a.customer.id
    assert client.get(f"/console/{a_customer}").status_code == 404
    assert client.get(f"/console/choose?customer={a_customer}").status_code == 404
    assert client.post(f"/console/{a_customer}/assignments/{target}/unassign").status_code == 404
    for product in (stock["Premiere Pro"], stock["Photoshop"]):
        for htmx in (True, False):
            intrusion = assign(client, product, "x@b.example", htmx=htmx, customer_id=a_customer)
            assert intrusion.status_code == 404
    assert snapshot(app) == before
    # A's data is still a's, and b's page still shows only b's.
    assert (stock["Illustrator"], "designer@a.example") in assignments(app, tenants.a.customer.id)
    assert "designer@a.example" not in client.get("/console", follow_redirects=True).get_data(
        as_text=True
    )


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_s11_reseller_users_are_refused_the_console(app, client, tenants, stock, login_as, role):
    login_as(getattr(tenants.a, role))
    before = snapshot(app)
    own = tenants.a.customer.id
    assert client.get("/console", follow_redirects=True).status_code == 403
    assert client.get(f"/console/{own}").status_code == 403
    assert client.get(f"/console/choose?customer={own}").status_code == 403
    photoshop = stock["Photoshop"]
    assert assign(client, photoshop, "reseller@a.example", customer_id=own).status_code == 403
    refused = assign(client, photoshop, "reseller@a.example", htmx=False, customer_id=own)
    assert refused.status_code == 403
    target = assignment_id(app, tenants.a.customer.id, "designer@a.example")
    assert client.post(f"/console/{own}/assignments/{target}/unassign").status_code == 403
    assert snapshot(app) == before


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_s13_console_actions_need_the_csrf_token(app, client, tenants, stock):
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": tenants.a.vip_admin.email, "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 303
    before = snapshot(app)
    assert assign(client, stock["Photoshop"], "csrf@a.example", htmx=False).status_code == 400
    htmx = assign(client, stock["Photoshop"], "csrf@a.example")
    assert htmx.status_code == 400 and htmx.headers.get("HX-Refresh") == "true"
    target = assignment_id(app, tenants.a.customer.id, "designer@a.example")
    assert client.post(f"{console_path(client)}/assignments/{target}/unassign").status_code == 400
    assert snapshot(app) == before
    token = _csrf_token(client.get("/console", follow_redirects=True).get_data(as_text=True))
    ok = client.post(
        f"{console_path(client)}/licenses/{stock['Photoshop']}/assign",
        data={"email": "csrf@a.example"},
        headers={**HX, "X-CSRFToken": token},
    )
    assert ok.status_code == 200
    assert (stock["Photoshop"], "csrf@a.example") in assignments(app, tenants.a.customer.id)


# --- R12 the banner ------------------------------------------------------------------------

# The banner names its customer first (a VIP admin may administer several).
NOTICE_EN = (
    "a Kund AB · Your anniversary date is January 15, 2027. Contact your account manager at "
    "Reseller A AB to renew."
)
IN_GRACE_EN = (
    "a Kund AB · Your anniversary date January 15, 2027 has passed without a renewal: access "
    "will be removed on February 14, 2027. Contact your account manager at Reseller A AB to "
    "renew."
)
REMOVED_EN = (
    "a Kund AB · Access to your licenses was removed on February 14, 2027 because the "
    "anniversary date January 15, 2027 passed without a renewal. Contact your account manager "
    "at Reseller A AB to renew."
)


@pytest.mark.parametrize(
    ("app_config", "kind", "text"),
    [
        ({"VIP_TODAY": "2026-11-29"}, None, None),  # AD-47
        ({"VIP_TODAY": "2026-12-15"}, None, None),  # AD-31
        ({"VIP_TODAY": "2026-12-16"}, "notice", NOTICE_EN),  # AD-30
        ({"VIP_TODAY": "2027-01-14"}, "notice", NOTICE_EN),  # AD-1
        ({"VIP_TODAY": "2027-01-15"}, "warning", IN_GRACE_EN),  # AD
        ({"VIP_TODAY": "2027-02-13"}, "warning", IN_GRACE_EN),  # AD+29
        ({"VIP_TODAY": "2027-02-14"}, "warning", REMOVED_EN),  # AD+30
        ({"VIP_TODAY": "2027-06-01"}, "warning", REMOVED_EN),
    ],
)
def test_r12_banner_on_every_console_page(client, tenants, stock, console, kind, text):
    for url in ("/console", "/account/password"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        shown = banner(response.get_data(as_text=True))
        if kind is None:
            assert shown is None, url
            continue
        assert shown is not None, url
        tag = re.search(r'<section id="renewal-banner"[^>]*>', shown).group(0)
        classes = attr(tag, "class").split()
        assert f"banner-{kind}" in classes, url
        assert ("banner-notice" if kind == "warning" else "banner-warning") not in classes
        assert text_of(shown) == text, url


NOTICE_SV = (
    "Er årsdag är 15 januari 2027. Kontakta er kontoansvariga på Reseller A AB för att förlänga."
)


@pytest.mark.parametrize(
    ("app_config", "kind", "expected"),
    [
        ({"VIP_TODAY": "2026-12-16"}, "notice", [NOTICE_SV]),
        ({"VIP_TODAY": "2027-01-15"}, "warning", ["15 januari 2027", "14 februari 2027"]),
        ({"VIP_TODAY": "2027-02-14"}, "warning", ["15 januari 2027", "14 februari 2027"]),
    ],
)
def test_r12_banner_in_swedish(client, tenants, stock, login_as, kind, expected):
    login_as(tenants.a.vip_admin)  # Swedish UI
    for url in ("/console", "/account/password"):
        shown = banner(client.get(url, follow_redirects=True).get_data(as_text=True))
        assert shown is not None and f"banner-{kind}" in shown
        text = text_of(shown)
        for part in expected:
            assert part in text, text
        assert "Reseller A AB" in text
        assert "anniversary" not in text.lower() and "renew" not in text.lower(), text


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2027-01-20"}])
def test_r12_banner_follows_the_language_switch(client, tenants, stock, login_as):
    login_as(tenants.a.vip_admin)
    client.post("/language", data={"language": "en", "next": "/console"})
    assert (
        text_of(banner(client.get("/console", follow_redirects=True).get_data(as_text=True)))
        == IN_GRACE_EN
    )


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2026-12-20"}])
def test_r12_banner_is_only_for_the_vip_admin(client, tenants, stock, login_as):
    for user in (tenants.a.admin, tenants.a.sales):
        login_as(user)
        for url in ("/customers", "/renewals", "/account/password"):
            assert banner(client.get(url, follow_redirects=True).get_data(as_text=True)) is None
        client.post("/logout")
    # The other customer's anniversary is the same day: its own banner, its own reseller.
    login_as(tenants.b.vip_admin)
    shown = banner(client.get("/console", follow_redirects=True).get_data(as_text=True))
    assert shown is not None and "Reseller B AB" in shown and "Reseller A AB" not in shown


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2026-12-20"}])
def test_s15_banner_escapes_a_hostile_reseller_name(app, client, tenants, stock, console):
    hostile = '<script>alert(1)</script> & "Co" <img src=x onerror=alert(2)>'
    with in_app(app):
        db.session.execute(
            update(Reseller).where(Reseller.id == tenants.a.reseller.id).values(name=hostile)
        )
        db.session.commit()
    for url in ("/console", "/account/password"):
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        shown = banner(page)
        assert shown is not None
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
        assert "&lt;img src=x onerror=alert(2)&gt;" in shown
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert text_of(shown) == NOTICE_EN.replace("Reseller A AB", hostile)


@pytest.mark.parametrize("app_config", [{"VIP_TODAY": "2027-01-05"}])
def test_r9_renewal_clears_the_banner_and_shows_in_the_consoles_history(
    app, client, tenants, stock, console
):
    assert banner(client.get("/console", follow_redirects=True).get_data(as_text=True)) is not None
    reseller = app.test_client()
    assert login(reseller, tenants.a.sales.email).status_code == 303
    recorded = reseller.post(
        f"/customers/{tenants.a.customer.id}/renewal",
        data={
            "vendor_order_number": "RENEW777777",
            "order_date": "2027-01-05",
            f"quantity-{stock['Illustrator']}": "7",
            f"quantity-{stock['Premiere Pro']}": "2",
        },
    )
    assert recorded.status_code == 303, recorded.get_data(as_text=True)[:2000]
    for url in ("/console", "/account/password"):
        assert banner(client.get(url, follow_redirects=True).get_data(as_text=True)) is None
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    history = re.search(r'<section class="renewal-history".*?</section>', page, re.S).group(0)
    text = text_of(history)
    assert "Renewal history" in text and "RENEW777777" in text
    assert "Illustrator 65910303BA02A12 × 7" in text
    assert "Premiere Pro 65910707BA02A12 × 2" in text
    assert "a Sales" in text
    assert "January 15, 2028" in text_of(page)  # the new anniversary date
    # The renewal's licenses are the console's licenses now.
    assert counts(section(page, stock["Premiere Pro"]))["Licenses"] == "2"


# --- R6 from both sides --------------------------------------------------------------------


def test_r6_assigned_pending_licenses_block_the_cancel_until_unassigned(
    app, client, tenants, stock, console
):
    pa = tenants.a.authorization
    customer_id = tenants.a.customer.id
    reseller = app.test_client()
    assert login(reseller, tenants.a.sales.email).status_code == 303

    def plans_row() -> str:
        page = reseller.get(f"/customers/{customer_id}/plans").get_data(as_text=True)
        match = re.search(rf'<tr id="pa-{pa.id}".*?</tr>', page, re.S)
        assert match
        return match.group(0)

    cancel_button = f'hx-post="/authorizations/{pa.id}/cancel"'
    assert cancel_button in plans_row()

    # The VIP admin gives one of the pending authorization's licenses to a user.
    assert assign(client, stock["Photoshop"], "early@a.example").status_code == 200
    row = plans_row()
    assert cancel_button not in row
    assert "Licenses in use: cannot be cancelled" in text_of(row)
    refused = reseller.post(f"/authorizations/{pa.id}/cancel", headers=HX)
    assert refused.status_code == 200
    assert "cannot be cancelled: licenses of Photoshop are assigned to users" in text_of(
        refused.get_data(as_text=True)
    )
    plain = reseller.post(f"/authorizations/{pa.id}/cancel")
    assert plain.status_code == 303
    with in_app(app):
        assert db.session.get(PurchaseAuthorization, pa.id).status == AuthorizationStatus.PENDING

    # Unassigned again, the authorization may be cancelled.
    target = assignment_id(app, customer_id, "early@a.example")
    assert (
        client.post(f"{console_path(client)}/assignments/{target}/unassign", headers=HX).status_code
        == 200
    )
    assert cancel_button in plans_row()
    done = reseller.post(f"/authorizations/{pa.id}/cancel", headers=HX)
    assert done.status_code == 200
    assert f"Purchase authorization {pa.number} was cancelled." in text_of(
        done.get_data(as_text=True)
    )
    with in_app(app):
        assert db.session.get(PurchaseAuthorization, pa.id).status == AuthorizationStatus.CANCELLED
    # Its licenses left the console with it.
    page = client.get("/console", follow_redirects=True).get_data(as_text=True)
    assert f'id="product-{stock["Photoshop"]}"' not in page
