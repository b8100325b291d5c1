"""R1: creating a customer issues the VIP ID and sends the invitation; the customer list."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from tests.conftest import TODAY
from tests.support import english, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    Invitation,
    Notification,
    NotificationStatus,
    User,
)
from vip.services import customers as customers_service
from vip.services.customers import create_customer, list_customers, status_counts
from vip.services.errors import DomainError, FieldsInvalid, PermissionDenied
from vip.services.invitations import link_for

# --- helpers -------------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Invitation, Notification, AuditEvent, User)
    }


def new_customer(actor: User, name: str = "Nordljus Design AB", **overrides) -> Customer:
    values = {
        "user": actor,
        "today": TODAY,
        "company_name": name,
        "country": "se",
        "market_segment": "commercial",
        "admin_name": "Maja  Berg",
        "admin_email": f"admin-{abs(hash(name)) % 10**8}@nordljus.example",
        "admin_language": "sv",
    }
    values.update(overrides)
    return create_customer(**values)


def events(action: str, customer: Customer) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.customer_id == customer.id
            )
        )
    )


# --- creating a customer (R1) ------------------------------------------------------------


def test_r1_create_issues_vip_id_invited_status_and_invitation(tenants, ctx):
    admin = user(tenants.a.admin)
    customer = new_customer(admin, "  Nordljus   Design AB ", admin_email=" maja@nordljus.example ")

    db.session.expire_all()
    customer = db.session.get(Customer, customer.id)
    assert customer.company_name == "Nordljus Design AB"  # whitespace collapsed
    assert customer.admin_name == "Maja Berg"
    assert customer.admin_email == "maja@nordljus.example"
    assert customer.country == "SE"
    assert customer.reseller_id == tenants.a.reseller.id
    assert customer.status == CustomerStatus.INVITED
    assert len(customer.vip_id) == 10 and customer.vip_id.isdigit()
    assert customer.vip_id[0] != "0"
    assert customer.anniversary_date is None

    assert len(customer.invitations) == 1
    invitation = customer.invitations[0]
    assert invitation.email == "maja@nordljus.example"
    assert invitation.expires_on == TODAY + timedelta(days=30)
    assert invitation.accepted_at is None and invitation.revoked_at is None
    assert invitation.is_usable(TODAY + timedelta(days=30))
    assert not invitation.is_usable(TODAY + timedelta(days=31))


def test_r1_create_queues_invitation_mail_to_the_admin(tenants, ctx):
    admin = user(tenants.a.admin)
    customer = new_customer(admin, admin_email="maja@nordljus.example", admin_language="en")
    notifications = list(
        db.session.scalars(select(Notification).where(Notification.customer_id == customer.id))
    )
    assert len(notifications) == 1
    mail = notifications[0]
    invitation = customer.invitations[0]
    assert mail.kind == "invitation"
    assert mail.status == NotificationStatus.QUEUED
    assert mail.recipient == "maja@nordljus.example"
    assert mail.language == "en"
    assert mail.cycle_key == f"invitation:{invitation.id}"
    assert mail.subject == "Reseller A AB invites Nordljus Design AB to the Value Incentive Plan"
    link = link_for(invitation)
    assert link.startswith("http://localhost/invitations/")
    assert link in mail.body_text and link in mail.body_html
    assert customer.vip_id in mail.body_text
    assert mail.sent_at is None and mail.attempts == 0


def test_r1_invitation_mail_is_in_the_admins_language(tenants, ctx, compiled_translations):
    admin = user(tenants.a.admin)  # the creator prefers Swedish; the recipients differ
    english = new_customer(admin, "Språkbolaget AB", admin_language="en")
    swedish = new_customer(admin, "Språkbolaget AB", admin_language="sv", admin_email="x@y.se")
    mails = {
        customer.admin_language: db.session.scalar(
            select(Notification).where(Notification.customer_id == customer.id)
        )
        for customer in (english, swedish)
    }
    assert mails["en"].language == "en" and mails["sv"].language == "sv"
    assert mails["en"].subject == (
        "Reseller A AB invites Språkbolaget AB to the Value Incentive Plan"
    )
    # Same data, different language: the Swedish subject must be a translation.
    assert mails["sv"].subject != mails["en"].subject
    assert " invites " not in mails["sv"].subject
    assert mails["sv"].subject.startswith("Reseller A AB ")
    assert "Språkbolaget AB" in mails["sv"].subject
    assert mails["sv"].body_text != mails["en"].body_text


def test_r1_create_is_audited(tenants, ctx):
    admin = user(tenants.a.admin)
    customer = new_customer(admin)
    created = events("customer.created", customer)
    assert len(created) == 1
    assert created[0].actor_id == admin.id
    assert created[0].reseller_id == tenants.a.reseller.id
    assert created[0].object_type == "customer"
    assert created[0].object_id == str(customer.id)
    assert created[0].details["vip_id"] == customer.vip_id
    assert created[0].details["company_name"] == "Nordljus Design AB"
    sent = events("invitation.sent", customer)
    assert len(sent) == 1
    assert sent[0].actor_id == admin.id
    assert sent[0].object_type == "invitation"
    assert sent[0].object_id == str(customer.invitations[0].id)
    assert sent[0].details["expires_on"] == (TODAY + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "ZZ", "Choose a country."),
        ("country", "Sweden", "Choose a country."),
        ("admin_email", "maja.berg", "Enter a valid email address."),
        ("admin_email", "   ", "Enter an email address."),
        ("admin_email", "m@" + "x" * 250 + ".se", "Use at most 254 characters."),
        ("admin_language", "de", "Choose Swedish or English."),
        ("market_segment", "retail", "Choose a market segment."),
    ],
)
def test_r1_the_service_checks_every_field_of_a_new_customer(tenants, ctx, field, value, message):
    admin = user(tenants.a.admin)
    before = db.session.scalar(select(func.count()).select_from(Customer))
    with pytest.raises(FieldsInvalid) as refused:
        new_customer(admin, **{field: value})
    assert list(refused.value.errors) == [field]
    assert english(refused.value.errors[field][0]) == message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Customer)) == before


def test_r1_every_problem_of_a_new_customer_is_reported_at_once(tenants, ctx):
    admin = user(tenants.a.admin)
    with pytest.raises(FieldsInvalid) as refused:
        new_customer(
            admin,
            name="AB",
            country="ZZ",
            admin_name="  ",
            admin_email="nope",
            admin_language="de",
        )
    assert set(refused.value.errors) == {
        "company_name",
        "country",
        "admin_name",
        "admin_email",
        "admin_language",
    }
    assert refused.value.field == "company_name"  # the first, for a single message


def test_r1_vip_ids_are_unique_ten_digits_across_many_customers(tenants, ctx):
    admin = user(tenants.a.admin)
    ids = [
        new_customer(admin, f"Kund nummer {n:03d}", admin_email=f"it{n}@kund.example").vip_id
        for n in range(60)
    ]
    ids += [tenants.a.customer.vip_id, tenants.b.customer.vip_id]
    assert len(set(ids)) == len(ids)
    for vip_id in ids:
        assert len(vip_id) == 10 and vip_id.isdigit() and not vip_id.startswith("0"), vip_id


def test_r1_vip_id_range_never_starts_with_zero(app, ctx, monkeypatch):
    for drawn, expected in ((0, "1000000000"), (9 * 10**9 - 1, "9999999999")):
        monkeypatch.setattr(
            customers_service, "secrets", SimpleNamespace(randbelow=lambda _n, d=drawn: d)
        )
        assert customers_service.issue_vip_id() == expected


def test_r1_vip_id_collision_draws_again(tenants, ctx, monkeypatch):
    taken = tenants.a.customer.vip_id
    draws = iter([int(taken) - 10**9, int(taken) - 10**9, 123_456_789])
    monkeypatch.setattr(
        customers_service, "secrets", SimpleNamespace(randbelow=lambda _n: next(draws))
    )
    customer = new_customer(user(tenants.a.admin))
    assert customer.vip_id == "1123456789"
    assert next(draws, None) is None  # both colliding draws were rejected


@pytest.mark.parametrize("name", ["ABC", "x" * 81, "  A  B  ", "A" + " " * 5 + "B"])
def test_r1_company_name_out_of_bounds_is_refused_and_writes_nothing(tenants, ctx, name):
    admin = user(tenants.a.admin)
    before = row_counts()
    with pytest.raises(DomainError) as raised:
        new_customer(admin, name)
    assert raised.value.field == "company_name"
    assert "4" in str(raised.value) and "80" in str(raised.value)
    db.session.rollback()
    assert row_counts() == before


@pytest.mark.parametrize("name", ["ABCD", "x" * 80, " A  B C ", "Å" * 80])
def test_r1_company_name_at_bounds_is_accepted(tenants, ctx, name):
    admin = user(tenants.a.admin)
    before = row_counts()
    customer = new_customer(admin, name)
    assert customer.company_name == " ".join(name.split())
    after = row_counts()
    assert after["Customer"] == before["Customer"] + 1
    assert after["Invitation"] == before["Invitation"] + 1
    assert after["Notification"] == before["Notification"] + 1


def test_r1_unknown_market_segment_is_refused_and_writes_nothing(tenants, ctx):
    admin = user(tenants.a.admin)
    before = row_counts()
    with pytest.raises(DomainError) as raised:
        new_customer(admin, market_segment="military")
    assert raised.value.field == "market_segment"
    db.session.rollback()
    assert row_counts() == before


def test_r1_sales_user_can_create(tenants, ctx):
    sales = user(tenants.a.sales)
    customer = new_customer(sales)
    assert customer.reseller_id == tenants.a.reseller.id
    assert customer.status == CustomerStatus.INVITED
    assert events("customer.created", customer)[0].actor_id == sales.id


def test_r1_vip_admin_cannot_create(tenants, ctx):
    vip_admin = user(tenants.a.vip_admin)
    before = row_counts()
    with pytest.raises(PermissionDenied) as raised:
        new_customer(vip_admin)
    assert raised.value.action == "customers.create"
    db.session.rollback()
    assert row_counts() == before


# --- the customer list --------------------------------------------------------------------

A_NAMES = ["Alfa Design AB", "Beta Bygg AB", "Gamma 100% Media", "Delta_Data AB", "Epsilon AB"]


@pytest.fixture
def listing(tenants, ctx):
    """Tenant A: its seed customer plus five; tenant B: its seed customer plus one 'Alfa'."""
    admin = user(tenants.a.admin)
    made = {
        name: new_customer(admin, name, admin_email=f"{name.split()[0].lower()}@kunder.example")
        for name in A_NAMES
    }
    new_customer(user(tenants.b.admin), "Alfa Konsult Oy", admin_email="alfa@konsult.example")
    db.session.execute(
        update(Customer)
        .where(Customer.id == made["Alfa Design AB"].id)
        .values(status=CustomerStatus.ACTIVE)
    )
    db.session.execute(
        update(Customer)
        .where(Customer.id == made["Delta_Data AB"].id)
        .values(status=CustomerStatus.INACTIVE)
    )
    db.session.commit()
    return SimpleNamespace(admin=admin, made=made, tenants=tenants)


def names(page) -> list[str]:
    return [customer.company_name for customer in page.items]


def test_r1_list_shows_only_own_resellers_customers(listing):
    page = list_customers(user=listing.admin, page_size=100)
    assert page.total == 6
    assert sorted(names(page)) == sorted([*A_NAMES, "a Kund AB"])
    assert {c.reseller_id for c in page.items} == {listing.tenants.a.reseller.id}
    other = list_customers(user=user(listing.tenants.b.sales), page_size=100)
    assert sorted(names(other)) == ["Alfa Konsult Oy", "b Kund AB"]


def test_r1_list_search_never_reaches_another_reseller(listing):
    tenants = listing.tenants
    assert names(list_customers(user=listing.admin, search="alfa")) == ["Alfa Design AB"]
    for search in (tenants.b.customer.vip_id, "b-it@customer.example", "Konsult", "b Kund"):
        page = list_customers(user=listing.admin, search=search)
        assert page.total == 0 and page.items == [], search
    counts = status_counts(user=listing.admin)
    assert sum(counts.values()) == 6


@pytest.mark.parametrize("search", ["beta", "BETA BYGG", "  bEtA ", "ta By"])
def test_r1_list_search_by_part_of_name_ignores_case(listing, search):
    assert names(list_customers(user=listing.admin, search=search)) == ["Beta Bygg AB"]


def test_r1_list_search_by_vip_id(listing):
    beta = listing.made["Beta Bygg AB"]
    assert names(list_customers(user=listing.admin, search=beta.vip_id)) == ["Beta Bygg AB"]
    partial = list_customers(user=listing.admin, search=beta.vip_id[2:8], page_size=100)
    assert "Beta Bygg AB" in names(partial)


@pytest.mark.parametrize("search", ["beta@kunder.example", "BETA@KUNDER", "beta@"])
def test_r1_list_search_by_admin_email(listing, search):
    assert names(list_customers(user=listing.admin, search=search)) == ["Beta Bygg AB"]


@pytest.mark.parametrize(
    "search, expected",
    [
        ("%", ["Gamma 100% Media"]),
        ("100%", ["Gamma 100% Media"]),
        ("_", ["Delta_Data AB"]),
        ("a_d", ["Delta_Data AB"]),
        ("%kund%", []),
        ("a%b", []),
        ("_ab", []),
        ("\\", []),
    ],
)
def test_r1_list_search_wildcards_are_literal(listing, search, expected):
    assert names(list_customers(user=listing.admin, search=search, page_size=100)) == expected


def test_r1_list_status_filter(listing):
    assert names(list_customers(user=listing.admin, status="active")) == ["Alfa Design AB"]
    assert names(list_customers(user=listing.admin, status="inactive")) == ["Delta_Data AB"]
    assert list_customers(user=listing.admin, status="delayed").total == 0
    invited = list_customers(user=listing.admin, status="invited", page_size=100)
    assert sorted(names(invited)) == sorted(
        ["Beta Bygg AB", "Gamma 100% Media", "Epsilon AB", "a Kund AB"]
    )
    assert list_customers(user=listing.admin, status="bogus").total == 6
    combined = list_customers(user=listing.admin, status="invited", search="amma")
    assert names(combined) == ["Gamma 100% Media"]


def test_r1_list_sort_by_name_descending(listing):
    ascending = names(list_customers(user=listing.admin, sort="name", page_size=100))
    descending = names(list_customers(user=listing.admin, sort="-name", page_size=100))
    assert len(descending) == 6
    assert descending == list(reversed(ascending))
    ours = [name for name in descending if name in A_NAMES]
    assert ours == sorted(A_NAMES, reverse=True)
    assert ours[0] == "Gamma 100% Media" and ours[-1] == "Alfa Design AB"


def test_r1_list_pagination(listing):
    everything = names(list_customers(user=listing.admin, sort="name", page_size=100))
    page = list_customers(user=listing.admin, sort="name", page=2, page_size=2)
    assert names(page) == everything[2:4]
    assert (page.total, page.page, page.pages) == (6, 2, 3)
    assert page.has_previous and page.has_next
    last = list_customers(user=listing.admin, sort="name", page=3, page_size=2)
    assert names(last) == everything[4:6] and not last.has_next
    clamped = list_customers(user=listing.admin, sort="name", page=99, page_size=2)
    assert clamped.page == 3 and names(clamped) == everything[4:6]
    first = list_customers(user=listing.admin, sort="name", page=0, page_size=2)
    assert first.page == 1 and names(first) == everything[:2] and not first.has_previous


def test_r1_list_is_refused_to_a_vip_admin(tenants, ctx):
    with pytest.raises(PermissionDenied):
        list_customers(user=user(tenants.a.vip_admin))


@pytest.mark.parametrize("search", ["östra", "Östra", "ÖSTRA GYMN", "åkeri", "ÄNGBY"])
def test_r1_list_search_ignores_case_of_swedish_letters(tenants, ctx, search):
    admin = user(tenants.a.admin)
    new_customer(admin, "Östra Gymnasiet", admin_email="per@ostra.example")
    new_customer(admin, "Ängby Åkeri AB", admin_email="info@angby.example")
    found = names(list_customers(user=admin, search=search))
    expected = "Östra Gymnasiet" if "stra" in search.lower() else "Ängby Åkeri AB"
    assert found == [expected]
