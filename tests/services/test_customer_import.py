"""Importing existing VIP customers from CSV: every problem found before anything is
written, Excel's files read as Excel writes them, and a valid file written in one
transaction (customers, opening orders, invitations, audit) that the rules then treat like
any other customer."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import TODAY
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    Notification,
    Order,
    OrderLine,
    OrderType,
    User,
)
from vip.services import customer_import
from vip.services.deadlines import apply_deadlines
from vip.services.licenses import license_inventory
from vip.services.orders import return_window_open
from vip.services.renewals import record_renewal, renewal_lines_of

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def check(data: bytes, name: str = "file.csv", language: str = "sv"):
    return customer_import.check_file(
        data=data, file_name=name, default_language=language, today=TODAY
    )


def counts() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Order, OrderLine, Notification, AuditEvent)
    )


def admin(tenants) -> User:
    return db.session.get(User, tenants.a.admin.id)


def problems(result) -> list[tuple[int, str, str]]:
    return [p.as_row() for p in result.problems]


def test_an_excel_file_in_windows_1252_with_semicolons_is_read(ctx, tenants):
    result = check(fixture("excel-sv-cp1252-semicolon.csv"))
    assert problems(result) == []
    names = [c.company_name for c in result.customers]
    assert names == [
        "Åkerblom Arkitekter AB",
        "Bryggan; Media & Co HB",  # a quoted field with the separator in it
        "Citadellskolan",
        "Nystartad AB",
    ]
    akerblom = result.customers[0]
    assert akerblom.vip_id == "5500000001" and akerblom.anniversary == date(2027, 3, 15)
    # A new-order SKU and a renewal SKU of two products, one line each.
    assert [(line.sku, line.quantity) for line in akerblom.lines] == [
        ("65910101BA01A12", 12),
        ("65910202BA02A12", 3),
    ]
    assert result.customers[2].admin_language == "sv"  # empty: the default language
    assert result.customers[3].lines == [] and result.customers[3].anniversary is None
    assert (result.lines, result.licenses) == (4, 60)


def test_a_utf8_file_with_bom_and_commas_is_read(ctx, tenants):
    result = check(fixture("utf8-bom-comma.csv"))
    assert problems(result) == []
    assert [c.company_name for c in result.customers] == [
        "Delta Design AB",
        "Ekström, Eriksson & Partners KB",
    ]
    assert result.customers[0].licenses == 175


def test_every_kind_of_problem_is_listed_with_row_and_column(ctx, tenants):
    existing = db.session.get(Customer, tenants.b.customer.id).vip_id  # another reseller's
    data = fixture("every-problem.csv").replace(b"EXISTING1", existing.encode())
    before = counts()
    result = check(data)
    found = {(row, column) for row, column, _ in problems(result)}
    assert {
        (2, "sku"),  # unknown SKU
        (3, "license_type"),  # a Team SKU given as Enterprise
        (4, "sku"),  # a commercial SKU for a government customer
        (5, "sku"),  # Education device licenses
        (6, "quantity"),  # 0
        (7, "quantity"),  # over Team's 10,000
        (8, "anniversary_date"),  # 30 February
        (9, "anniversary_date"),  # not YYYY-MM-DD
        (10, "vip_id"),  # exists (another reseller's: not said whose)
        (12, "anniversary_date"),  # differs from row 11 of the same customer
        (13, "admin_email"),
        (14, "vip_id"),  # not 10 digits
    } == found
    messages = dict(((row, column), message) for row, column, message in problems(result))
    assert "Reseller B" not in messages[10, "vip_id"]
    assert "rad 11" in messages[12, "anniversary_date"]
    assert "utbildningsenheter" in messages[5, "sku"].lower() or "direkt" in messages[5, "sku"]
    assert not result.valid and result.customers == []
    assert counts() == before


def test_a_duplicate_header_and_a_missing_column_are_refused(ctx, tenants):
    result = check(fixture("duplicate-header.csv"))
    assert (1, "sku") in {(row, column) for row, column, _ in problems(result)}
    missing = check(b"company_name,admin_email\nA AB,a@x.example\n")
    assert (1, "admin_name") in {(row, column) for row, column, _ in problems(missing)}


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"company_name,admin_name,admin_email\n"],
    ids=["empty", "blank", "header only"],
)
def test_a_file_without_rows_is_refused(ctx, tenants, data):
    result = check(data)
    assert [row for row, _, _ in problems(result)] == [0]


def test_more_than_50000_rows_are_refused(ctx, tenants):
    header = b"company_name,admin_name,admin_email\n"
    result = check(header + b"A AB,A,a@x.example\n" * (customer_import.MAX_ROWS + 1))
    assert [row for row, _, _ in problems(result)] == [0]


def test_an_anniversary_more_than_a_year_ahead_is_refused(ctx, tenants):
    far = (TODAY + timedelta(days=400)).isoformat()
    data = (
        "company_name,admin_name,admin_email,anniversary_date,sku,quantity\n"
        f"A AB,A,a@x.example,{far},65910101BA01A12,1\n"
    ).encode()
    assert [(r, c) for r, c, _ in problems(check(data))] == [(2, "anniversary_date")]


def test_a_valid_file_imports_in_one_transaction(ctx, tenants):
    before = counts()
    result = check(fixture("excel-sv-cp1252-semicolon.csv"))
    done = customer_import.import_customers(
        user=admin(tenants), check=result, invite=True, today=TODAY
    )
    assert (done.customers, done.lines, done.licenses, done.invitations) == (4, 4, 60, 4)
    imported = {
        c.company_name: c
        for c in db.session.scalars(
            select(Customer).where(Customer.reseller_id == tenants.a.reseller.id)
        )
    }
    akerblom = imported["Åkerblom Arkitekter AB"]
    assert (akerblom.vip_id, akerblom.status, akerblom.anniversary_date) == (
        "5500000001",
        CustomerStatus.ACTIVE,
        date(2027, 3, 15),
    )
    assert imported["Nystartad AB"].status == CustomerStatus.INVITED
    assert len(imported["Bryggan; Media & Co HB"].vip_id) == 10  # issued now
    order = db.session.scalar(select(Order).where(Order.customer_id == akerblom.id))
    assert (order.order_type, order.term_ends_on, order.customer_po_number) == (
        OrderType.IMPORTED,
        date(2027, 3, 15),
        "PO-Å1",
    )
    assert not return_window_open(order, TODAY)
    # Counted as purchased licenses of the current term.
    stock = {item.product.sku: item.purchased for item in license_inventory(customer=akerblom)}
    assert stock == {"65910101BA01A12": 12, "65910202BA01A12": 3}
    invitations = db.session.scalars(
        select(Notification.recipient).where(Notification.kind == "invitation")
    ).all()
    assert "asa@akerblom.example" in invitations
    after = counts()
    assert after[0] - before[0] == 4 and after[1] - before[1] == 3
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert events.count("customer.imported") == 4
    run = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customers.imported"))
    assert run.details["sha256"] == result.sha256 and run.details["file"] == "file.csv"
    # The same file again: every VIP ID exists now, and the problems say so.
    again = check(fixture("excel-sv-cp1252-semicolon.csv"))
    assert (2, "vip_id") in {(row, column) for row, column, _ in problems(again)}


def test_r14_an_imported_customer_gets_the_level_of_its_licenses(ctx, tenants):
    result = check(fixture("excel-sv-cp1252-semicolon.csv"))
    customer_import.import_customers(user=admin(tenants), check=result, invite=False, today=TODAY)
    levels = dict(
        db.session.execute(
            select(Customer.company_name, Customer.discount_level).where(
                Customer.reseller_id == tenants.a.reseller.id
            )
        ).all()
    )
    assert levels["Åkerblom Arkitekter AB"] == 2  # 12 + 3 licenses
    assert levels["Bryggan; Media & Co HB"] == 1  # 5
    assert levels["Citadellskolan"] == 2  # 40


def test_no_invite_mails_nothing(ctx, tenants):
    before = db.session.scalar(select(func.count()).select_from(Notification))
    result = check(fixture("utf8-bom-comma.csv"))
    done = customer_import.import_customers(
        user=admin(tenants), check=result, invite=False, today=TODAY
    )
    assert done.invitations == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == before


def test_an_import_touches_only_the_importers_reseller(ctx, tenants):
    other_before = db.session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.reseller_id == tenants.b.reseller.id)
    )
    customer_import.import_customers(
        user=admin(tenants), check=check(fixture("utf8-bom-comma.csv")), invite=False, today=TODAY
    )
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.reseller_id == tenants.b.reseller.id)
        )
        == other_before
    )


def test_only_a_partner_admin_imports(ctx, tenants):
    from vip.services.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        customer_import.import_customers(
            user=db.session.get(User, tenants.a.sales.id),
            check=check(fixture("utf8-bom-comma.csv")),
            invite=False,
            today=TODAY,
        )


def test_r10_an_imported_customer_near_its_anniversary_gets_its_reminder_at_once(ctx, tenants):
    """Imported 20 days before its anniversary: the next tick queues renewal_due (the
    current stage), not a stale one; and the customer can be renewed."""
    anniversary = TODAY + timedelta(days=20)
    data = (
        "company_name,vip_id,admin_name,admin_email,anniversary_date,license_type,sku,quantity\n"
        f"Snart Förnyad AB,8800000001,Sara,sara@snart.example,{anniversary.isoformat()},"
        "Team,65910101BA01A12,7\n"
    ).encode()
    customer_import.import_customers(
        user=admin(tenants), check=check(data), invite=True, today=TODAY
    )
    report = apply_deadlines(today=TODAY, reseller_ids=[tenants.a.reseller.id])
    reminders = [(c.customer_name, c.reminder) for c in report.changes if c.reminder]
    assert reminders == [("Snart Förnyad AB", "renewal_due")]
    customer = db.session.scalar(select(Customer).where(Customer.vip_id == "8800000001"))
    order = record_renewal(
        user=admin(tenants),
        customer_id=customer.id,
        today=TODAY,
        vendor_order_number="RN8800000001",
        order_date=TODAY,
        quantities={line.product.id: line.suggested for line in renewal_lines_of(customer)},
    )
    assert [(line.sku, line.quantity) for line in order.lines] == [("65910101BA02A12", 7)]
