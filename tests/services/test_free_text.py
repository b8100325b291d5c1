"""S33 (issue 15, row 12): one validator for all free text, used by every service that
keeps a name, reason, comment or PO number; S34 (row 9): a name of spaces only is refused."""

from __future__ import annotations

import pytest

from tests.conftest import TODAY
from tests.support import count, english, in_app, pid, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    PurchaseAuthorization,
    Reseller,
    ReturnAuthorization,
    ReturnStatus,
    User,
)
from vip.services import accounts, customer_import, customers, orders, resellers
from vip.services.authorizations import AuthorizationInvalid, LineInput
from vip.services.authorizations import create_purchase_authorization as create_pa
from vip.services.errors import DomainError
from vip.services.free_text import FORBIDDEN, check_free_text, free_text

#: One of each kind the validator refuses: C0, DEL, C1 (NEL), the bidirectional overrides
#: and isolates (Trojan Source), the direction marks.
FORBIDDEN_SAMPLES = {
    "NUL": "\x00",
    "BEL": "\x07",
    "ESC": "\x1b",
    "unit-separator": "\x1f",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "ALM": "\u061c",
    "LRM": "\u200e",
    "RLM": "\u200f",
}


@pytest.mark.parametrize("character", FORBIDDEN_SAMPLES.values(), ids=FORBIDDEN_SAMPLES.keys())
def test_s33_row12_control_and_bidi_characters_are_refused(app, character):
    with in_app(app):
        checked = check_free_text(f"Invoice{character}exe.pdf", length=(0, 80))
        assert english(checked.problem) == (
            "Remove the invisible control or text direction characters."
        )
        with pytest.raises(DomainError) as raised:
            free_text(f"Kund{character} AB", field="company_name", length=(0, 80))
        assert raised.value.field == "company_name"


def test_s33_row12_every_c0_c1_and_bidi_control_is_forbidden():
    """The pattern, character by character: what it refuses and what it lets through."""
    refused = {chr(code) for code in range(0x110000) if FORBIDDEN.match(chr(code))}
    c0 = {chr(code) for code in range(0x20)} - set("\t\n\r")
    c1 = {chr(code) for code in range(0x7F, 0xA0)}
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u200e\u200f")
    assert refused == c0 | c1 | bidi


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("  Kund   AB  ", "Kund AB"),
        ("Kund\tAB\r\nStockholm", "Kund AB Stockholm"),  # pasted tabs and line breaks
        ("Kund\u00a0AB\u2028", "Kund AB"),  # no-break space, line separator
        ("Blåbär & Söner <AB>", "Blåbär & Söner <AB>"),  # markup is escaped on output (S15)
        ("شركة الحاسوب", "شركة الحاسوب"),  # right-to-left script, no control characters
        ("می\u200cخواهم", "می\u200cخواهم"),  # Persian needs the zero-width non-joiner
        ("Team 👩\u200d💻", "Team 👩\u200d💻"),  # an emoji sequence's zero-width joiner
    ],
)
def test_s33_row12_text_is_trimmed_and_collapsed_and_scripts_kept(app, typed, kept):
    with in_app(app):
        assert free_text(typed, field="name", length=(1, 80)) == kept


def test_s33_row12_lengths_count_the_kept_text(app):
    with in_app(app):
        assert check_free_text(" " * 50 + "AB", length=(2, 10)).text == "AB"
        assert english(check_free_text("   ", length=(2, 10)).problem) == "Use 2 to 10 characters."
        assert english(check_free_text("x" * 11, length=(0, 10)).problem) == (
            "Use at most 10 characters."
        )


# -- Every service that keeps free text uses it -------------------------------------------

RLO = "\u202e"


def _new_customer(admin: User, **overrides):
    values = {
        "company_name": "Fritext AB",
        "country": "SE",
        "market_segment": "commercial",
        "admin_name": "Frida Text",
        "admin_email": "frida@fritext.example",
        "admin_language": "sv",
    }
    values.update(overrides)
    return customers.create_customer(user=admin, today=TODAY, **values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("company_name", f"Evil{RLO}BA AB"),
        ("admin_name", f"Frida{RLO} Text"),
        ("admin_name", "  "),  # row 9: two spaces were saved as ''
        ("admin_name", "\t \u00a0"),
    ],
)
def test_s33_s34_row9_new_customer_refuses_bad_names_at_the_field(tenants, ctx, field, value):
    admin = user(tenants.a.admin)
    before = (count(Customer), count(AuditEvent))
    with pytest.raises(DomainError) as raised:
        _new_customer(admin, **{field: value})
    assert raised.value.field == field
    db.session.rollback()
    assert (count(Customer), count(AuditEvent)) == before


def test_s33_row12_new_customer_keeps_the_collapsed_names(tenants, ctx):
    customer = _new_customer(
        user(tenants.a.admin), company_name="  Fritext   AB ", admin_name=" Frida\tText "
    )
    assert (customer.company_name, customer.admin_name) == ("Fritext AB", "Frida Text")


@pytest.mark.parametrize("name", [f"Eve{RLO}gnp.exe", "  ", "Eve\x1bLie"])
def test_s33_row12_team_member_name(tenants, ctx, name):
    before = count(User)
    with pytest.raises(DomainError) as raised:
        accounts.add_sales_user(
            actor=user(tenants.a.admin),
            email="eve@reseller-a.example",
            name=name,
            password="correct horse battery staple",
            language="sv",
        )
    assert raised.value.field == "name"
    assert count(User) == before


def test_s33_row12_purchase_authorization_po_number(tenants, ctx):
    before = count(PurchaseAuthorization)
    with pytest.raises(AuthorizationInvalid) as raised:
        create_pa(
            user=user(tenants.a.sales),
            customer_id=tenants.a.customer.id,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=pid("Photoshop"), quantity=1)],
            deployment_date=TODAY,
            customer_po_number=f"PO-{RLO}1",
        )
    assert english(raised.value.errors["customer_po_number"][0]) == (
        "Remove the invisible control or text direction characters."
    )
    assert count(PurchaseAuthorization) == before


def test_s33_row12_return_reason_and_decision_comment(full_tenants, ctx):
    objects = full_tenants["a"]
    sales = user(objects.tenant.sales)
    order = orders.get_order_for(user=sales, order_id=objects.order.id)
    line_id = order.lines[0].id
    before = count(ReturnAuthorization)
    with pytest.raises(AuthorizationInvalid) as raised:
        orders.request_return(
            user=sales,
            order_id=order.id,
            today=TODAY,
            quantities={line_id: 1},
            reason=f"Too many{RLO}",
        )
    assert set(raised.value.errors) == {"reason"}
    db.session.rollback()
    assert count(ReturnAuthorization) == before
    with pytest.raises(DomainError) as raised:
        orders.decide_return(
            user=user(objects.tenant.admin),
            return_id=objects.return_request.id,
            approve=False,
            comment=f"No{RLO}",
            now=None,
        )
    assert raised.value.field == "comment"
    db.session.rollback()
    assert db.session.get(ReturnAuthorization, objects.return_request.id).status == (
        ReturnStatus.REQUESTED
    )


def test_s33_row12_reseller_name(tenants, ctx):
    admin = user(tenants.a.admin)
    with pytest.raises(resellers.ResellerInvalid) as raised:
        resellers.update_profile(
            user=admin, profile=resellers.ResellerProfile(name=f"Reseller{RLO} A AB")
        )
    assert set(raised.value.errors) == {"name"}
    db.session.rollback()
    assert db.session.get(Reseller, admin.reseller_id).name == "Reseller A AB"


def test_s33_row12_imported_names_and_po_numbers(tenants, ctx):
    data = (
        "company_name,admin_name,admin_email,anniversary_date,sku,quantity,po_number\n"
        f"Evil{RLO}AB,Anna,anna@evil.example,,,,\n"
        f"Good AB,Anna{RLO},anna@good.example,,,,\n"
    ).encode()
    result = customer_import.check_file(
        data=data, file_name="f.csv", default_language="sv", today=TODAY
    )
    message = "Remove the invisible control or text direction characters."
    found = {(row, column) for row, column, text in (p.as_row() for p in result.problems)}
    assert {(2, "company_name"), (3, "admin_name")} <= found
    assert all(
        english(p.message) == message
        for p in result.problems
        if (p.row, p.column) in {(2, "company_name"), (3, "admin_name")}
    )
